import pytest

from hpo.errors import SpecError
from hpo.plugins.stoppers.asha import Asha, AshaConfig, rungs_upto


def asha(metric, **options):
    return Asha(Asha.parse_config(options, "stopping[0]"), metric)


def test_rungs():
    assert rungs_upto(100, AshaConfig()) == [1, 3, 9, 27, 81]
    assert rungs_upto(100, AshaConfig(max_resource=81)) == [1, 3, 9, 27]
    assert rungs_upto(8, AshaConfig(min_resource=2, reduction_factor=2)) == [2, 4, 8]
    assert rungs_upto(10, AshaConfig(reduction_factor=1.5)) == [1, 2, 3, 5, 8]  # rounded
    assert rungs_upto(0, AshaConfig()) == []


def test_top_third_continues(trial, view, acc):
    s = asha(acc)  # eta 3, rungs 1, 3, 9
    assert s.decide(view(trial(1, acc=[0.5]))) == []  # alone at rung 1: top 1 of 1
    [d] = s.decide(view(trial(1, acc=[0.5]), trial(2, acc=[0.4])))  # top ceil(2/3) = 1
    assert d.trial_id == 2
    assert d.reason == (
        "trial 2: acc=0.4 at rung 1 is not in the top 1 of 2 trials recorded there (needs 0.5)"
    )
    assert d.evidence == {
        "policy": "asha",
        "config": {"metric": None, "optimization": None, "min_resource": 1, "max_resource": None,
                   "reduction_factor": 3.0},
        "metric": "acc",
        "optimization": "maximize",
        "step": 1,
        "value": 0.4,
        "threshold": 0.5,
        "compared_trials": [1],
        "rung": 1,
        "rung_index": 0,
    }


def test_quota_grows_with_the_rung(trial, view, acc):
    values = [0.9, 0.8, 0.7, 0.6]  # top ceil(4/3) = 2 continue
    trials = [trial(i, acc=[v]) for i, v in enumerate(values, start=1)]
    assert [d.trial_id for d in asha(acc).decide(view(*trials))] == [3, 4]


def test_judged_at_the_current_rung_only(trial, view, acc):
    trials = [
        trial(1, "succeeded", acc=[0.1, 0.9, 0.9]),  # worst at rung 1, best at rung 3
        trial(2, "succeeded", acc=[0.5, 0.5, 0.5]),
        trial(3, acc=[0.4, 0.4]),  # at step 2: still rung 1, where trial 2 leads with 0.5
        trial(4, acc=[0.9, 0.1, 0.1]),  # at rung 3 now: 0.1 behind 0.9 and 0.5
    ]
    decisions = {d.trial_id: d.evidence["rung"] for d in asha(acc).decide(view(*trials))}
    assert decisions == {3: 1, 4: 3}


def test_ties_at_the_cutoff_continue(trial, view, loss):
    trials = [trial(1, loss=[0.5]), trial(2, loss=[0.5]), trial(3, loss=[0.6])]
    assert [d.trial_id for d in asha(loss).decide(view(*trials))] == [3]


def test_stopped_and_failed_trials_stay_recorded(trial, view, acc):
    trials = [trial(1, "stopped", acc=[0.9]), trial(2, "failed", acc=[0.8]), trial(3, acc=[0.7])]
    [d] = asha(acc).decide(view(*trials))
    assert d.trial_id == 3 and d.evidence["compared_trials"] == [1, 2]


def test_below_min_resource_and_at_max_resource_nothing_is_judged(trial, view, acc):
    s = asha(acc, min_resource=3, max_resource=9)
    leader = trial(1, "succeeded", acc=[0.9] * 9)
    assert s.decide(view(leader, trial(2, acc=[0.1, 0.1]))) == []  # step 2 < 3
    [d] = s.decide(view(leader, trial(2, acc=[0.1] * 8)))
    assert d.evidence["rung"] == 3  # 9 is max_resource, not a rung
    assert s.decide(view(leader, trial(2, acc=[0.1] * 9))) == []  # full resource reached


@pytest.mark.parametrize(
    "options, where",
    [({"reduction_factor": 1}, "stopping[0].reduction_factor"),
     ({"min_resource": 0}, "stopping[0].min_resource"),
     ({"min_resource": 9, "max_resource": 9}, "stopping[0]")],
)
def test_config_errors_name_the_path(options, where):
    with pytest.raises(SpecError) as err:
        Asha.parse_config(options, "stopping[0]")
    assert err.value.path == where
