"""Rules every trial-level stopper shares: metric choice, who may be stopped, NaN and gaps."""

import math

import pytest

from hpo.errors import SpecError
from hpo.plugins.stoppers.asha import Asha
from hpo.plugins.stoppers.median import Median
from hpo.plugins.stoppers.threshold import Threshold
from hpo.plugins.stoppers.truncation import Truncation
from hpo.spec.metric import MetricSpec

# Options under which trial 3 below (acc 0.1 at step 1, others 0.5..0.9) is stopped.
AGGRESSIVE = {
    Median: {"min_trials": 1},
    Truncation: {"percent": 50, "min_trials": 2},
    Threshold: {"margin": 0.1},
    Asha: {"reduction_factor": 2},
}
POLICIES = list(AGGRESSIVE)


def build(cls, group_metric, **extra):
    options = {**AGGRESSIVE[cls], **extra}
    return cls(cls.parse_config(options, "stopping[0]"), group_metric)


@pytest.mark.parametrize("cls", POLICIES)
def test_a_bad_running_trial_is_stopped(cls, trial, view, acc):
    [d] = build(cls, acc).decide(view(trial(1, "succeeded", acc=[0.9]), trial(3, acc=[0.1])))
    assert d.scope == "trial" and d.trial_id == 3 and d.policy == cls.name
    assert d.evidence["policy"] == cls.name and d.evidence["step"] == 1
    assert d.evidence["value"] == 0.1 and d.evidence["compared_trials"] == [1]
    assert d.evidence["config"] == build(cls, acc).config.model_dump()


@pytest.mark.parametrize("cls", POLICIES)
def test_the_first_trial_has_nothing_to_compare_with(cls, trial, view, acc):
    assert build(cls, acc).decide(view(trial(1, acc=[0.1, 0.05, 0.01]))) == []


@pytest.mark.parametrize("cls", POLICIES)
@pytest.mark.parametrize("status", ["succeeded", "failed", "stopped", "pending"])
def test_only_running_trials_are_stopped(cls, status, trial, view, acc):
    assert build(cls, acc).decide(view(trial(1, acc=[0.9]), trial(3, status, acc=[0.1]))) == []


@pytest.mark.parametrize("cls", POLICIES)
def test_a_trial_that_never_reports_is_left_alone(cls, trial, view, acc):
    trials = [trial(1, "succeeded", acc=[0.9]), trial(2), trial(3, loss=[5.0])]
    assert build(cls, acc).decide(view(*trials)) == []


@pytest.mark.parametrize("cls", POLICIES)
def test_nan_reports_are_ignored(cls, trial, view, acc):
    nan_only = [trial(1, "succeeded", acc=[math.nan, math.nan]), trial(3, acc=[0.1])]
    assert build(cls, acc).decide(view(*nan_only)) == []  # trial 1 has no value
    trailing_nan = [trial(1, "succeeded", acc=[0.9]), trial(3, acc=[0.1, math.nan])]
    [d] = build(cls, acc).decide(view(*trailing_nan))
    assert d.evidence["step"] == 1  # judged at its last real report


@pytest.mark.parametrize("cls", POLICIES)
def test_minimize_mirrors_maximize(cls, trial, view, loss):
    s = build(cls, loss)
    [d] = s.decide(view(trial(1, "succeeded", loss=[0.1]), trial(3, loss=[0.9])))
    assert d.trial_id == 3 and d.evidence["optimization"] == "minimize"
    assert s.decide(view(trial(1, "succeeded", loss=[0.9]), trial(3, loss=[0.1]))) == []


@pytest.mark.parametrize("cls", POLICIES)
def test_metric_option_overrides_the_group_metric(cls, trial, view, acc):
    s = build(cls, acc, metric="loss", optimization="minimize")
    assert (s.target.name, s.target.optimization) == ("loss", "minimize")
    trials = [trial(1, "succeeded", acc=[0.1], loss=[0.1]), trial(3, acc=[0.9], loss=[0.9])]
    [d] = s.decide(view(*trials))
    assert d.trial_id == 3 and d.evidence["metric"] == "loss"


@pytest.mark.parametrize("cls", POLICIES)
def test_optimization_alone_follows_the_group_metric_name(cls, acc):
    s = build(cls, acc, optimization="minimize")
    assert s.target == MetricSpec(name="acc", optimization="minimize")
    assert build(cls, acc, metric="acc").target == acc


@pytest.mark.parametrize("cls", POLICIES)
def test_a_metric_is_required(cls, acc):
    with pytest.raises(SpecError, match="needs a metric"):
        build(cls, None)
    with pytest.raises(SpecError, match="give it `optimization"):
        build(cls, acc, metric="loss")
    assert build(cls, None, metric="loss", optimization="minimize").target.name == "loss"


@pytest.mark.parametrize("cls", POLICIES)
def test_unknown_options_name_the_path(cls, acc):
    with pytest.raises(SpecError) as err:
        cls.parse_config({**AGGRESSIVE[cls], "patience": 3}, "stopping[4]")
    assert err.value.path == "stopping[4].patience"


@pytest.mark.parametrize("cls", POLICIES)
def test_decide_is_pure(cls, trial, view, acc):
    s = build(cls, acc)
    v = view(trial(1, "succeeded", acc=[0.9]), trial(3, acc=[0.1]))
    assert s.decide(v) == s.decide(v)
