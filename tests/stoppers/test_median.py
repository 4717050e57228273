import pytest

from hpo.errors import SpecError
from hpo.plugins.stoppers.median import Median


def median(metric, **options):
    return Median(Median.parse_config(options, "stopping[0]"), metric)


# Running averages up to step 2: trial 1 (0.5+0.7)/2 = 0.6, trial 2 (0.3+0.5)/2 = 0.4.
DONE = {1: [0.5, 0.7, 0.9], 2: [0.3, 0.5, 0.6]}


def finished(trial, **extra):
    return [trial(i, "succeeded", acc=v) for i, v in {**DONE, **extra}.items()]


def test_stops_below_the_median_of_running_averages(trial, view, acc):
    [d] = median(acc, min_trials=2).decide(view(*finished(trial), trial(3, acc=[0.1, 0.2])))
    assert d.trial_id == 3
    assert d.reason == (
        "trial 3: best acc so far 0.2 at step 2 is worse than 0.5, "
        "the median running average of 2 other trials"
    )
    assert d.evidence == {
        "policy": "median",
        "config": {"metric": None, "optimization": None, "min_steps": 0, "min_trials": 2,
                   "every": 1},
        "metric": "acc",
        "optimization": "maximize",
        "step": 2,
        "value": 0.2,
        "threshold": 0.5,
        "compared_trials": [1, 2],
    }


def test_best_so_far_not_latest_value_is_compared(trial, view, acc):
    # latest 0.1 is below the median 0.5, but the best so far (0.55) is not
    assert median(acc, min_trials=2).decide(view(*finished(trial), trial(3, acc=[0.55, 0.1]))) == []


def test_a_tie_with_the_median_keeps_running(trial, view, acc):
    assert median(acc, min_trials=2).decide(view(*finished(trial), trial(3, acc=[0.5, 0.1]))) == []


def test_minimize(trial, view, loss):
    others = [trial(1, "succeeded", loss=[1.0, 0.5]), trial(2, "stopped", loss=[2.0, 1.5])]
    # averages 0.75 and 1.75, median 1.25; best so far 1.3 is worse, 1.25 is a tie
    [d] = median(loss, min_trials=2).decide(view(*others, trial(3, loss=[1.4, 1.3])))
    assert (d.evidence["value"], d.evidence["threshold"]) == (1.3, 1.25)
    assert median(loss, min_trials=2).decide(view(*others, trial(3, loss=[1.4, 1.25]))) == []


def test_waits_for_min_trials_others_at_the_step(trial, view, acc):
    # trial 2 has only reached step 1, so at step 2 there is one other trial
    others = [trial(1, "succeeded", acc=[0.9, 0.9]), trial(2, acc=[0.9])]
    s = median(acc, min_trials=2)
    assert s.decide(view(*others, trial(3, acc=[0.1, 0.1]))) == []
    # trial 3 at step 1 compares with both (and trial 2 is judged at step 1 too)
    [d] = s.decide(view(*others, trial(3, acc=[0.1])))
    assert d.trial_id == 3 and d.evidence["compared_trials"] == [1, 2]


def test_waits_for_min_steps(trial, view, acc):
    s = median(acc, min_trials=2, min_steps=3)
    assert s.decide(view(*finished(trial), trial(3, acc=[0.1, 0.2]))) == []
    [d] = s.decide(view(*finished(trial), trial(3, acc=[0.1, 0.2, 0.2])))
    assert d.evidence["step"] == 3
    assert d.evidence["threshold"] == pytest.approx((0.7 + 1.4 / 3) / 2)  # median of averages


def test_every_judges_at_the_last_multiple(trial, view, acc):
    s = median(acc, min_trials=2, every=2)
    [d] = s.decide(view(*finished(trial), trial(3, acc=[0.1, 0.2, 0.95])))
    assert d.evidence["step"] == 2 and d.evidence["value"] == 0.2  # step 3 not yet counted
    assert s.decide(view(*finished(trial), trial(3, acc=[0.1]))) == []  # checkpoint 0: no values


def test_other_running_trials_count_and_are_judged_too(trial, view, acc):
    trials = [trial(1, acc=[0.9, 0.9]), trial(2, acc=[0.8, 0.8]), trial(3, acc=[0.1, 0.1])]
    [d] = median(acc, min_trials=2).decide(view(*trials))
    assert d.trial_id == 3 and d.evidence["threshold"] == pytest.approx(0.85)


def test_explicit_steps_and_uneven_reporting(trial, view, acc):
    # trial 1 reported at steps 0 and 10 only: its running average up to 7 is its step-0 value
    trials = [trial(1, "succeeded", acc=[(0, 0.6), (10, 0.9)]), trial(2, acc=[(0, 0.2), (7, 0.3)])]
    [d] = median(acc, min_trials=1).decide(view(*trials))
    assert (d.trial_id, d.evidence["step"], d.evidence["threshold"]) == (2, 7, 0.6)


@pytest.mark.parametrize(
    "options, where",
    [({"min_trials": 0}, "stopping[0].min_trials"), ({"every": 0}, "stopping[0].every"),
     ({"min_steps": -1}, "stopping[0].min_steps"),
     ({"optimization": "up"}, "stopping[0].optimization")],
)
def test_config_errors_name_the_path(options, where):
    with pytest.raises(SpecError) as err:
        Median.parse_config(options, "stopping[0]")
    assert err.value.path == where
