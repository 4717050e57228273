import pytest

from hpo.errors import SpecError
from hpo.plugins.stoppers.truncation import Truncation


def truncation(metric, **options):
    return Truncation(Truncation.parse_config(options, "stopping[0]"), metric)


def at_step_one(trial, values, status="running"):
    return [trial(i, status, acc=[v]) for i, v in enumerate(values, start=1)]


def test_stops_the_worst_quarter(trial, view, acc):
    [d] = truncation(acc).decide(view(*at_step_one(trial, [0.4, 0.2, 0.1, 0.3])))
    assert d.trial_id == 3
    assert d.reason == (
        "trial 3: acc=0.1 at step 1 is in the worst 25% of 4 trials (the best 3 reach 0.2)"
    )
    assert d.evidence == {
        "policy": "truncation",
        "config": {"metric": None, "optimization": None, "percent": 25.0, "every": 1,
                   "min_trials": 4, "min_steps": 0},
        "metric": "acc",
        "optimization": "maximize",
        "step": 1,
        "value": 0.1,
        "threshold": 0.2,
        "compared_trials": [1, 2, 4],
    }


def test_waits_for_min_trials_and_rounds_the_count_down(trial, view, acc):
    assert truncation(acc).decide(view(*at_step_one(trial, [0.4, 0.2, 0.1]))) == []
    s = truncation(acc, min_trials=3)
    assert s.decide(view(*at_step_one(trial, [0.4, 0.2, 0.1]))) == []  # floor(0.75) = 0
    seven = at_step_one(trial, [0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    assert [d.trial_id for d in truncation(acc).decide(view(*seven))] == [7]  # floor(1.75)
    eight = at_step_one(trial, [0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    assert [d.trial_id for d in truncation(acc).decide(view(*eight))] == [7, 8]


def test_ties_at_the_cut_are_kept(trial, view, acc):
    s = truncation(acc, percent=50)
    assert [d.trial_id for d in s.decide(view(*at_step_one(trial, [0.3, 0.2, 0.2, 0.1])))] == [4]
    assert s.decide(view(*at_step_one(trial, [0.2, 0.2, 0.2, 0.2]))) == []


def test_minimize(trial, view, loss):
    trials = [trial(i, loss=[v]) for i, v in enumerate([0.4, 0.2, 0.1, 0.3], start=1)]
    [d] = truncation(loss).decide(view(*trials))
    assert (d.trial_id, d.evidence["threshold"]) == (1, 0.3)


def test_finished_and_stopped_trials_keep_their_place(trial, view, acc):
    # trial 1 was stopped here already: the next worst is not exposed by its leaving
    trials = [trial(1, "stopped", acc=[0.1]), *at_step_one(trial, [0.9, 0.2, 0.3, 0.4])[1:]]
    assert truncation(acc).decide(view(*trials)) == []


def test_compares_values_at_the_same_step(trial, view, acc):
    trials = [
        trial(1, "succeeded", acc=[0.1, 0.9, 0.9]),
        trial(2, "succeeded", acc=[0.2, 0.8, 0.8]),
        trial(3, "succeeded", acc=[0.3, 0.7, 0.7]),
        trial(4, acc=[0.4, 0.5]),  # best at step 1, worst at step 2
    ]
    [d] = truncation(acc).decide(view(*trials))
    assert (d.trial_id, d.evidence["step"], d.evidence["threshold"]) == (4, 2, 0.7)


def test_every_and_min_steps(trial, view, acc):
    trials = [trial(i, "succeeded", acc=[0.9] * 10) for i in (1, 2, 3)]
    s = truncation(acc, every=5, min_steps=5)
    assert s.decide(view(*trials, trial(4, acc=[0.1] * 4))) == []  # checkpoint 0 < min_steps
    [d] = s.decide(view(*trials, trial(4, acc=[0.1] * 7)))
    assert d.evidence["step"] == 5


def test_value_at_a_step_is_the_last_report_at_or_before_it(trial, view, acc):
    trials = [
        trial(1, "succeeded", acc=[(0, 0.9), (20, 0.9)]),  # reached 10, value from step 0
        trial(2, "succeeded", acc=[(10, 0.8)]),
        trial(3, "succeeded", acc=[(5, 0.7), (9, 0.7)]),  # never reached 10: not counted
        trial(4, acc=[(3, 0.6), (10, 0.1)]),
    ]
    assert truncation(acc, percent=50, min_trials=4).decide(view(*trials)) == []  # 3 at step 10
    [d] = truncation(acc, percent=50, min_trials=3).decide(view(*trials))
    assert d.trial_id == 4 and d.evidence["step"] == 10
    assert d.evidence["compared_trials"] == [1, 2] and d.evidence["threshold"] == 0.8


@pytest.mark.parametrize(
    "options, where",
    [({"percent": 0}, "stopping[0].percent"), ({"percent": 100}, "stopping[0].percent"),
     ({"every": 0}, "stopping[0].every"), ({"min_trials": 0}, "stopping[0].min_trials")],
)
def test_config_errors_name_the_path(options, where):
    with pytest.raises(SpecError) as err:
        Truncation.parse_config(options, "stopping[0]")
    assert err.value.path == where
