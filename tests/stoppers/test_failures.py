import pytest

from hpo.errors import SpecError
from hpo.plugins.stoppers.failures import Failures


def stopper(**options):
    return Failures(Failures.parse_config(options, "stopping[1]"), None)


@pytest.mark.parametrize(
    "options, where",
    [
        ({}, "stopping[1]"),
        ({"max_failed": 0}, "stopping[1].max_failed"),
        ({"max_failed_fraction": 1.5}, "stopping[1].max_failed_fraction"),
        ({"max_failed_fraction": 0.5, "min_finished": 0}, "stopping[1].min_finished"),
        ({"max_failures": 3}, "stopping[1].max_failures"),
    ],
)
def test_config_errors_name_the_path(options, where):
    with pytest.raises(SpecError) as err:
        stopper(**options)
    assert err.value.path == where


def test_max_failed_is_inclusive(trial, view):
    s = stopper(max_failed=2)
    assert s.decide(view(trial(1, "failed"), trial(2, "succeeded"), trial(3, "running"))) == []
    [d] = s.decide(view(trial(1, "failed"), trial(2, "succeeded"), trial(3, "failed")))
    assert d.scope == "group" and d.group_status == "failed" and d.policy == "failures"
    assert d.reason == "2 trials failed (max_failed=2)"
    assert d.evidence == {
        "policy": "failures",
        "config": {"max_failed": 2, "max_failed_fraction": None, "min_finished": 5},
        "rule": "max_failed",
        "step": None,
        "value": 2.0,
        "threshold": 2.0,
        "failed": 2,
        "finished": 3,
        "compared_trials": [1, 3],
    }


def test_fraction_waits_for_min_finished(trial, view):
    s = stopper(max_failed_fraction=0.5, min_finished=4)
    three = [trial(1, "failed"), trial(2, "failed"), trial(3, "succeeded")]
    assert s.decide(view(*three, trial(4, "running"), trial(5, "pending"))) == []
    [d] = s.decide(view(*three, trial(4, "stopped")))
    assert d.evidence["rule"] == "max_failed_fraction"
    assert d.evidence["value"] == 0.5 and d.evidence["finished"] == 4
    assert d.reason == "2 of 4 finished trials failed (50%, max_failed_fraction=0.5)"


def test_fraction_below_limit_and_stopped_trials_are_not_failures(trial, view):
    s = stopper(max_failed_fraction=0.5, min_finished=2)
    trials = [trial(1, "failed"), trial(2, "stopped"), trial(3, "stopped")]
    assert s.decide(view(*trials)) == []


def test_no_trials_no_decision(view):
    assert stopper(max_failed=1).decide(view()) == []
    assert stopper(max_failed_fraction=0.1, min_finished=1).decide(view()) == []
