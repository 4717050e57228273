"""The ``HPO_FAULT`` fault points: what the variable may say, and which append each one counts.

The kills themselves are real in tests/lifecycle/test_chaos_faults.py (before and after an
append of every event type) and tests/lifecycle/test_chaos.py (the three named points); here
the counting is checked in-process, with the kill replaced by a record of where it would land.
"""

import os
import subprocess
import sys

import pytest

from hpo.engine import faults as faults_module
from hpo.engine.faults import Faults
from hpo.errors import HpoError
from hpo.eventlog import events as ev


@pytest.fixture
def kills(monkeypatch):
    """Where the engine would have been killed (instead of killing the test)."""
    landed: list[str] = []
    monkeypatch.setattr(faults_module.os, "kill", lambda pid, sig: landed.append(where[0]))
    where = ["nowhere"]
    return landed, where


def _faults(monkeypatch, value: str) -> Faults:
    monkeypatch.setenv("HPO_FAULT", value)
    return Faults()


FINISHED = ev.TrialFinished(trial_id=1, attempt=1, status="succeeded", exit_code=0)
REPORTED = ev.MetricReported(trial_id=1, attempt=1, step=1, metrics={"loss": 1.0})


@pytest.mark.parametrize("when", ["before", "after"])
def test_the_nth_append_holding_the_type_is_the_one(monkeypatch, kills, when):
    landed, where = kills
    f = _faults(monkeypatch, f"{when}:TrialFinished:2")
    appends = [[REPORTED], [REPORTED, FINISHED], [REPORTED], [FINISHED, REPORTED], [FINISHED]]
    for i, events in enumerate(appends):
        where[0] = f"before {i}"
        f.before_append(events)
        where[0] = f"after {i}"
        f.after_append(events)
    assert landed == [f"{when} 3"]  # the second append holding a TrialFinished, once


def test_without_the_variable_nothing_counts(monkeypatch, kills):
    landed, _ = kills
    monkeypatch.delenv("HPO_FAULT", raising=False)
    f = Faults()
    for _ in range(3):
        f.before_append([FINISHED])
        f.after_append([FINISHED])
        f.hit("collected")
    assert landed == []


def test_the_named_points_still_count(monkeypatch, kills):
    landed, where = kills
    f = _faults(monkeypatch, "suggested:2")
    for i in range(4):
        where[0] = f"pass {i}"
        f.hit("collected")
        f.hit("suggested")
        f.after_append([FINISHED])
    assert landed == ["pass 1"]


@pytest.mark.parametrize("value, says", [
    ("before:TrialFinish:2", "'TrialFinish' is not an event type"),
    ("after:TrialFinished:0", "the count '0' is not a whole number >= 1"),
    ("after:TrialFinished:two", "the count 'two' is not a whole number >= 1"),
    ("during:TrialFinished:1", "no such fault point"),
    ("collected:1:2", "no such fault point"),
])
def test_a_value_that_names_no_fault_is_an_error(monkeypatch, value, says):
    with pytest.raises(HpoError) as err:
        _faults(monkeypatch, value)
    assert str(err.value).startswith(f"HPO_FAULT={value}: {says}")
    assert "before:TYPE:N or after:TYPE:N" in str(err.value)


def test_hpo_run_refuses_a_misspelt_fault_before_writing_anything(tmp_path):
    (tmp_path / "spec.yaml").write_text(
        "settings:\n  metric: {name: s, optimization: maximize}\n  matrix:\n    x: {values: [1]}\n"
        "run:\n  cmd: echo '@hpo step=1 s=1'\n")
    env = {**os.environ, "HPO_DB": str(tmp_path / "hpo.db"), "HPO_FAULT": "after:Sugested:1"}
    proc = subprocess.run([sys.executable, "-m", "hpo", "run", "spec.yaml", "--plain"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "HPO_FAULT=after:Sugested:1: 'Sugested' is not an event type" in proc.stderr
    listed = subprocess.run([sys.executable, "-m", "hpo", "list"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, env={**env, "HPO_FAULT": ""})
    assert "no groups" in listed.stdout, listed.stdout
