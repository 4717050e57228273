import math

import pytest

from hpo.errors import SpecError
from hpo.plugins.stoppers.early_stopping import EarlyStopping

SEED = [
    {"metric": "accuracy", "value": 0.9, "optimization": "maximize"},
    {"metric": "loss", "value": 0.05, "optimization": "minimize"},
]


def stopper(entries=SEED):
    return EarlyStopping(EarlyStopping.parse_config({"entries": entries}, "stopping[0]"), None)


def test_seed_list_loads_in_both_forms():
    as_list = EarlyStopping.parse_config(SEED, "settings.early_stopping")
    as_dict = EarlyStopping.parse_config({"entries": SEED}, "stopping[0]")
    assert as_list == as_dict
    assert as_list.entries[1].optimization == "minimize"


def test_yaml11_numbers_are_read():
    cfg = EarlyStopping.parse_config(
        [{"metric": "loss", "value": "1e-4", "optimization": "minimize"}], "x")
    assert cfg.entries[0].value == pytest.approx(1e-4)


@pytest.mark.parametrize(
    "options, path, where",
    [
        ([SEED[0], {"metric": "loss"}], "settings.early_stopping",
         "settings.early_stopping[1].value"),
        ({"entries": [{"metric": "a", "value": 1, "optimization": "maximize", "metrc": 2}]},
         "stopping[0]",
         "stopping[0].entries[0].metrc"),
        ({"entries": [{"metric": "a", "value": 1, "optimization": "max"}]}, "stopping[2]",
         "stopping[2].entries[0].optimization"),
        ([{"metric": "a", "value": 1}], "early_stopping", "early_stopping[0].optimization"),
        ({"entries": SEED, "patience": 3}, "stopping[0]", "stopping[0].patience"),
        ({"entries": "accuracy"}, "stopping[0]", "stopping[0].entries"),
    ],
)
def test_config_errors_name_the_path(options, path, where):
    with pytest.raises(SpecError) as err:
        EarlyStopping.parse_config(options, path)
    assert err.value.path == where


def test_nothing_reported_nothing_stops(trial, view):
    assert stopper().decide(view()) == []
    assert stopper().decide(view(trial(1, "running"), trial(2, "pending"))) == []


def test_maximize_is_inclusive(trial, view):
    assert stopper().decide(view(trial(1, accuracy=[0.5, 0.8999]))) == []
    [d] = stopper().decide(view(trial(1, accuracy=[0.5, 0.9])))
    assert d.scope == "group" and d.group_status == "succeeded" and d.trial_id is None
    assert d.reason == (
        "early_stopping[0]: accuracy >= 0.9 reached by trial 1 (accuracy=0.9 at step 2)"
    )
    assert d.evidence == {
        "policy": "early_stopping",
        "config": {"entries": [
            {"metric": "accuracy", "value": 0.9, "optimization": "maximize"},
            {"metric": "loss", "value": 0.05, "optimization": "minimize"},
        ], "let_running_finish": False},
        "entry": 0,
        "metric": "accuracy",
        "optimization": "maximize",
        "trial_id": 1,
        "step": 2,
        "value": 0.9,
        "threshold": 0.9,
        "compared_trials": [1],
        "satisfied_entries": [0],
    }


def test_minimize_is_inclusive(trial, view):
    assert stopper().decide(view(trial(1, loss=[0.3, 0.0500001]))) == []
    [d] = stopper().decide(view(trial(1, loss=[0.3, 0.05])))
    assert d.evidence["entry"] == 1 and d.evidence["value"] == 0.05
    assert d.reason.startswith("early_stopping[1]: loss <= 0.05 reached by trial 1")


def test_any_reported_value_counts_not_only_the_latest(trial, view):
    [d] = stopper().decide(view(trial(4, accuracy=[0.5, 0.95, 0.7])))
    assert (d.evidence["trial_id"], d.evidence["step"], d.evidence["value"]) == (4, 2, 0.95)


def test_nan_reports_are_ignored(trial, view):
    assert stopper().decide(view(trial(1, accuracy=[math.nan]), trial(2, loss=[math.nan]))) == []


def test_other_metrics_do_not_count(trial, view):
    assert stopper().decide(view(trial(1, acc=[0.99], val_loss=[0.0]))) == []


def test_first_satisfied_entry_in_list_order_wins(trial, view):
    [d] = stopper().decide(view(trial(1, loss=[0.01]), trial(2, accuracy=[0.91])))
    assert d.evidence["entry"] == 0 and d.evidence["trial_id"] == 2
    assert d.evidence["satisfied_entries"] == [0, 1]


def test_best_report_is_named_and_ties_go_to_the_lowest_trial(trial, view):
    [d] = stopper().decide(view(trial(3, accuracy=[0.92]), trial(1, accuracy=[0.95]),
                               trial(2, accuracy=[0.95])))
    assert d.evidence["trial_id"] == 1 and d.evidence["value"] == 0.95


def test_finished_and_failed_trials_count(trial, view):
    for status in ("succeeded", "stopped", "failed"):
        [d] = stopper().decide(view(trial(7, status, accuracy=[0.93])))
        assert d.evidence["trial_id"] == 7


def test_no_entries_never_stops(trial, view):
    assert stopper([]).decide(view(trial(1, accuracy=[1.0]))) == []


def test_let_running_finish_keeps_running_trials(trial, view):
    config = EarlyStopping.parse_config(
        {"entries": [{"metric": "accuracy", "value": 0.9, "optimization": "maximize"}],
         "let_running_finish": True}, "stopping[0]")
    [d] = EarlyStopping(config, None).decide(view(trial(1, accuracy=[0.95])))
    assert d.stop_running is False
    [d] = stopper().decide(view(trial(1, accuracy=[0.95])))
    assert d.stop_running is True
