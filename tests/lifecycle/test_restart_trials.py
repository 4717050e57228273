"""``hpo restart`` runs the new group unless --no-run; restarted trials carry their original
trial id (``origin_trial``); --trials 3,5 restarts chosen trials, with --set overrides."""

import csv
import io
import json
import sys
import textwrap

import pytest
from click.testing import CliRunner

from hpo.cli import cli
from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore

SCRIPT = textwrap.dedent("""
    import sys, hpo
    p = hpo.params()
    hpo.report(loss=p["x"] / 10, epochs=p["epochs"])
    if p["x"] % 2 == 0 and p["epochs"] < 10:
        sys.exit(1)
""")

SPEC = f"""
name: sweep
declarations:
  epochs: 3
settings:
  concurrency: 2
  metric: {{name: loss, optimization: minimize}}
  matrix:
    x: {{values: [1, 2, 3, 4, 5]}}
run:
  cmd: {sys.executable} train.py
"""


@pytest.fixture
def origin(tmp_path):
    (tmp_path / "train.py").write_text(SCRIPT)
    (tmp_path / "sweep.yaml").write_text(SPEC)
    db = tmp_path / "hpo.db"
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "sweep.yaml"), "--db", str(db), "--plain"])
    assert result.exit_code == 0, result.output
    return db


def hpo(db, *args):
    return CliRunner().invoke(cli, [*args, "--db", str(db)])


def state_of(db, ref) -> GroupState:
    with EventStore(db) as store:
        return GroupState.fold(store.read(store.resolve(ref)))


def test_restart_failed_only_runs_at_once_and_links_each_trial_to_its_origin(origin):
    result = hpo(origin, "restart", "sweep", "--failed-only", "--plain")
    assert result.exit_code == 1, result.output  # they fail again: same configs, same epochs
    assert "created group sweep-restart (" in result.stdout and ": trials 2, 4" in result.stdout
    new = state_of(origin, "sweep-restart")
    assert new.status == "failed" and new.origin["kind"] == "restart-failed"
    assert [(t.params["x"], t.meta["origin_trial"]) for t in new.trials.values()] == [(2, 2), (4, 4)]
    listed = json.loads(hpo(origin, "trials", "sweep-restart", "--json").stdout)
    assert sorted(r["origin_trial"] for r in listed) == [2, 4]
    rows = list(csv.DictReader(io.StringIO(hpo(origin, "export", "sweep-restart", "--format", "csv").stdout)))
    assert [r["origin_trial"] for r in rows] == ["2", "4"]
    table = hpo(origin, "trials", "sweep-restart").stdout
    assert "from" in table.splitlines()[0]
    assert "origin  restart-failed of group" in hpo(origin, "status", "sweep-restart").stdout


def test_restart_chosen_trials_with_more_epochs(origin):
    result = hpo(origin, "restart", "sweep", "--trials", "4,2", "--set", "epochs=20", "--plain")
    assert result.exit_code == 0, result.output
    new = state_of(origin, "sweep-restart")
    assert new.status == "succeeded" and new.origin["trials"] == [4, 2]
    assert [(t.meta["origin_trial"], t.params["x"], t.metrics["epochs"]) for t in new.trials.values()] == [
        (4, 4, 20.0), (2, 2, 20.0)]


def test_no_run_only_creates_and_names_do_not_collide(origin):
    first = hpo(origin, "restart", "sweep", "--no-run")
    assert first.exit_code == 0 and "run it with: hpo resume" in first.stdout
    assert state_of(origin, "sweep-restart").status == "created"
    second = hpo(origin, "restart", "sweep", "--no-run", "--set", "epochs=30")
    assert "created group sweep-restart-2 (" in second.stdout
    assert state_of(origin, "sweep-restart-2").spec["declarations"]["epochs"] == 30


@pytest.mark.parametrize("args,message", [
    (("--trials", "9"), "has no trial 9 (its trials are 1 to 5)"),
    (("--trials", "x"), "expected trial ids like 3,5"),
    (("--set", "lr=0.1", "--trials", "1"), "'lr' is not a param of the group (its params: x, epochs)"),
    (("--set", "x=3"), "x is searched by the matrix; restart chosen trials"),
    (("--failed-only", "--trials", "1"), "--failed-only or --trials, not both"),
])
def test_bad_restarts_say_why_and_create_nothing(origin, args, message):
    result = hpo(origin, "restart", "sweep", "--no-run", *args)
    assert result.exit_code != 0 and message in result.output
    with EventStore(origin) as store:
        assert len(store.groups()) == 1
