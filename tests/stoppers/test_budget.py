import pytest

from hpo.errors import SpecError
from hpo.plugins.stoppers.budget import Budget, parse_duration


def stopper(**options):
    return Budget(Budget.parse_config(options, "stopping[0]"), None)


@pytest.mark.parametrize(
    "raw, seconds",
    [(90, 90.0), (2.5, 2.5), ("90", 90.0), ("45s", 45.0), ("30m", 1800.0), ("2h", 7200.0),
     ("1h30m", 5400.0), ("1.5h", 5400.0), ("1d 2h", 93600.0), (" 2H ", 7200.0)],
)
def test_durations(raw, seconds):
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize("raw", ["2 hours", "h", "", "1h-30m", True, None, [1]])
def test_bad_durations(raw):
    with pytest.raises(ValueError):
        parse_duration(raw)


@pytest.mark.parametrize(
    "options, where",
    [
        ({}, "stopping[0]"),
        ({"max_duration": "2 hours"}, "stopping[0].max_duration"),
        ({"max_duration": "0m"}, "stopping[0].max_duration"),
        ({"max_trials": 0}, "stopping[0].max_trials"),
        ({"max_trials": 3, "timeout": 5}, "stopping[0].timeout"),
    ],
)
def test_config_errors_name_the_path(options, where):
    with pytest.raises(SpecError) as err:
        stopper(**options)
    assert err.value.path == where


def test_config_reads_duration_strings():
    assert stopper(max_duration="2h").config.max_duration == 7200.0


def test_max_trials_counts_started_trials(trial, view):
    s = stopper(max_trials=3)
    assert s.decide(view(trial(1, "succeeded"), trial(2, "running"), trial(3, "pending"))) == []
    [d] = s.decide(view(trial(1, "succeeded"), trial(2, "failed"), trial(3, "running")))
    assert d.scope == "group" and d.group_status == "succeeded"
    assert d.reason == "3 trials started (max_trials=3)"
    assert d.evidence == {
        "policy": "budget",
        "config": {"max_trials": 3, "max_duration": None},
        "rule": "max_trials",
        "step": None,
        "value": 3.0,
        "threshold": 3.0,
        "started_trials": 3,
        "elapsed_s": 0.0,
        "compared_trials": [1, 2, 3],
    }


def test_max_duration_is_inclusive_and_measured_from_group_start(view):
    s = stopper(max_duration="30m")
    assert s.decide(view(started_at=1000.0, now=1000.0 + 1799.5)) == []
    [d] = s.decide(view(started_at=1000.0, now=2800.0))
    assert d.evidence["rule"] == "max_duration" and d.evidence["value"] == 1800.0
    assert d.reason == "the group has run 1800s (max_duration=1800s)"


def test_max_trials_is_reported_first_when_both_are_spent(trial, view):
    [d] = stopper(max_trials=1, max_duration=10).decide(view(trial(1), now=60.0))
    assert d.evidence["rule"] == "max_trials"
