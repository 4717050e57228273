import pytest

from hpo.errors import SpecError
from hpo.plugins.stoppers.threshold import Threshold


def threshold(metric, **options):
    return Threshold(Threshold.parse_config(options, "stopping[0]"), metric)


def test_absolute_margin(trial, view, acc):
    leader = trial(1, "succeeded", acc=[0.25, 0.5, 0.75])
    s = threshold(acc, margin=0.125)
    assert s.decide(view(leader, trial(2, acc=[0.25, 0.375]))) == []  # gap == margin
    [d] = s.decide(view(leader, trial(2, acc=[0.25, 0.25])))
    assert d.reason == "trial 2: acc=0.25 at step 2 is more than 0.125 behind the best 0.5"
    assert d.evidence == {
        "policy": "threshold",
        "config": {"metric": None, "optimization": None, "margin": 0.125, "relative": False,
                   "every": 1, "min_steps": 0, "min_trials": 1},
        "metric": "acc",
        "optimization": "maximize",
        "step": 2,
        "value": 0.25,
        "threshold": 0.375,
        "compared_trials": [1],
        "best": 0.5,
    }


def test_relative_margin_minimize(trial, view, loss):
    leader = trial(1, "stopped", loss=[8.0, 4.0])
    s = threshold(loss, margin=0.125, relative=True)  # allowed gap 0.5 at step 2
    assert s.decide(view(leader, trial(2, loss=[9.0, 4.5]))) == []
    [d] = s.decide(view(leader, trial(2, loss=[9.0, 4.625])))
    assert (d.evidence["step"], d.evidence["threshold"], d.evidence["best"]) == (2, 4.5, 4.0)
    assert "more than 0.125 x |best| behind the best 4" in d.reason


def test_best_is_taken_over_every_trial_at_that_step(trial, view, acc):
    trials = [
        trial(1, "succeeded", acc=[0.5, 0.5]),
        trial(2, "failed", acc=[0.25, 1.0]),
        trial(3, acc=[0.5, 0.75]),
        trial(4, acc=[0.5]),  # at step 1 the best is 0.5: fine
    ]
    [d] = threshold(acc, margin=0.125).decide(view(*trials))
    assert (d.trial_id, d.evidence["best"], d.evidence["compared_trials"]) == (3, 1.0, [1, 2])


def test_the_leader_itself_is_never_stopped(trial, view, acc):
    trials = [trial(1, acc=[0.9]), trial(2, acc=[0.1])]
    assert [d.trial_id for d in threshold(acc, margin=0.0).decide(view(*trials))] == [2]


def test_zero_margin_ties_keep_running(trial, view, acc):
    trials = [trial(1, acc=[0.5]), trial(2, acc=[0.5])]
    assert threshold(acc, margin=0.0).decide(view(*trials)) == []


def test_min_trials_every_and_min_steps(trial, view, acc):
    leader = trial(1, "succeeded", acc=[0.9] * 6)
    laggard = trial(2, acc=[0.1] * 5)
    assert threshold(acc, margin=0.1, min_trials=2).decide(view(leader, laggard)) == []
    assert threshold(acc, margin=0.1, min_steps=6).decide(view(leader, laggard)) == []
    [d] = threshold(acc, margin=0.1, every=4).decide(view(leader, laggard))
    assert d.evidence["step"] == 4


@pytest.mark.parametrize(
    "options, where",
    [({}, "stopping[0].margin"), ({"margin": -1}, "stopping[0].margin"),
     ({"margin": 1, "relative": "maybe"}, "stopping[0].relative")],
)
def test_config_errors_name_the_path(options, where):
    with pytest.raises(SpecError) as err:
        Threshold.parse_config(options, "stopping[0]")
    assert err.value.path == where
