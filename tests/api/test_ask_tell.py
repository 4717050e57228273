"""The ask/tell API: the engine drives the group, the caller runs the trials."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

import hpo
from hpo.api import group as api
from hpo.errors import HpoError, SpecError
from hpo.engine.lifecycle import replay_check
from hpo.contracts.searcher import Exhausted, Searcher, Suggestion, Wait
from hpo.spec import parse_spec
from hpo.testing import plugin_of, registered

from .conftest import RANDOM, hpo_cli, types_of


def drive(group, score=lambda p: p["x"] * p["k"]):
    told = []
    while (trial := group.ask()) is not None:
        trial.report(step=1, loss=score(trial.params) * 2)
        group.tell(trial, score(trial.params))
        told.append(trial.id)
    return told


def test_ask_tell_runs_a_group_to_the_end(db):
    group = hpo.create_group(RANDOM, db=db, seed=3, name="at")
    assert group.status == "created" and group.name == "at"
    assert drive(group) == [1, 2, 3, 4, 5]
    assert group.status == "succeeded" and group.state.reason == "ran 5 random configs"
    types = types_of(group)
    assert types[:2] == ["GroupCreated", "EngineStarted"]
    assert types.count("Suggested") == types.count("TrialLaunched") == 5
    assert types.count("MetricReported") == 10 and types[-1] == "GroupFinished"
    launched = [s.event for s in group.store.read(group.id) if s.type == "TrialLaunched"]
    assert {e.runner for e in launched} == {"api"}
    values = {t.id: t.params["x"] * t.params["k"] for t in group.trials()}
    assert group.best.id == min(values, key=values.get) and group.best.value == min(values.values())
    assert group.best.metrics == {"loss": group.best.value}
    assert replay_check(group.store, group.id) == (5, [])


def test_the_cli_reads_and_checks_an_api_group(db):
    group = hpo.create_group(RANDOM, db=db, seed=3, name="at")
    drive(group)
    status = hpo_cli(db, "status", "at", "--json")
    assert status.returncode == 0, status.stderr
    summary = json.loads(status.stdout)
    assert summary["status"] == "succeeded" and summary["trials"] == 5
    check = hpo_cli(db, "replay", "at", "--check")
    assert check.returncode == 0 and "5 suggestions re-derived, 0 differ" in check.stdout


def test_same_seed_same_suggestions_as_hpo_run(db, tmp_path):
    group = hpo.create_group(RANDOM, db=db, seed=11)
    drive(group)
    spec = tmp_path / "spec.yaml"
    spec.write_text(json.dumps({**RANDOM, "run": {"cmd": "echo '@hpo loss=1'"}}))
    run = hpo_cli(db, "run", str(spec), "--seed", "11", "--name", "cli", "--plain")
    assert run.returncode == 0, run.stderr
    cli = hpo.load_group("cli", db=db)
    assert [t.params for t in cli.trials()] == [t.params for t in group.trials()]


def test_spec_forms(db, tmp_path):
    text = textwrap.dedent("""
        name: from-text
        settings:
          grid_search: {}
          matrix:
            lr: {values: [0.1, 0.01]}
        """)
    path = tmp_path / "sweep.yaml"
    path.write_text(text.replace("name: from-text\n", ""))
    by_text = hpo.create_group(text, db=db)
    by_path = hpo.create_group(path, db=db)
    by_str_path = hpo.create_group(str(path), db=db)
    as_dict = hpo.create_group({"matrix": {"lr": {"values": [0.1, 0.01]}}}, db=db, name="d")
    spec = parse_spec({"matrix": {"lr": {"values": [0.1]}}, "run": {"cmd": "true"}})
    as_model = hpo.create_group(spec, db=db, name="m")
    assert by_text.name == "from-text" and by_path.name == "sweep" and as_dict.name == "d"
    assert by_path.state.source_path == str(path.resolve()) and by_str_path.state.source == path.read_text()
    for group in (by_text, by_path, as_dict):
        assert group.state.spec["runner"]["kind"] == "python"  # no command: run from Python
        assert group.state.spec["run"]["cmd"].startswith("(ask/tell")
    assert as_model.state.spec["runner"]["kind"] == "local"
    assert [t.params["lr"] for t in [by_text.ask(), by_text.ask()]] == [0.1, 0.01]


def test_spec_errors_name_the_source(db, tmp_path):
    with pytest.raises(SpecError, match="<python>: settings.matrix.lr.values"):
        hpo.create_group({"settings": {"matrix": {"lr": {"values": 3}}}}, db=db)
    with pytest.raises(SpecError, match="no such spec file"):
        hpo.create_group(str(tmp_path / "missing.yaml"), db=db)


def test_a_spec_with_a_command_keeps_its_runner(db):
    group = hpo.create_group({**RANDOM, "run": {"cmd": "echo '@hpo loss={{ x }}'"}}, db=db)
    assert group.state.spec["runner"]["kind"] == "local"
    trial = group.ask()
    group.tell(trial, 0.5)
    group.close()
    resumed = hpo_cli(db, "resume", group.id, "--plain")  # the command runs the rest
    assert resumed.returncode == 0, resumed.stderr
    group = hpo.load_group(group.id, db=db)
    assert group.status == "succeeded" and len(group.trials()) == 5
    assert {s.event.runner for s in group.store.read(group.id) if s.type == "TrialLaunched"} == {"api", "local"}


def test_several_trials_out_at_once(db):
    group = hpo.create_group(RANDOM, db=db, seed=1)
    trials = [group.ask() for _ in range(3)]
    assert [t.id for t in trials] == [1, 2, 3]
    assert len({json.dumps(t.params) for t in trials}) == 3
    assert [t.status for t in group.trials()] == ["running"] * 3
    for t in reversed(trials):
        group.tell(t, t.params["x"])
    assert [t.status for t in group.trials()] == ["succeeded"] * 3


class Lockstep(Searcher):
    """One trial at a time: waits while any is active; three in all."""

    name = "lockstep"

    def suggest(self, history):
        if history.active():
            return Wait("one at a time")
        if len(history) >= 3:
            return Exhausted("three trials")
        return Suggestion({"x": len(history)})


def test_ask_while_the_searcher_waits(db):
    with registered(plugin_of(Lockstep)):
        group = hpo.create_group({"search": {"algorithm": "lockstep"}, "matrix": {"x": {"values": [0, 1, 2]}}}, db=db)
        first = group.ask()
        with pytest.raises(hpo.WaitForResults, match=r"trials \[1\]"):
            group.ask()
        group.tell(first, {"loss": 1.0})
        assert group.ask().id == 2


def test_failed_and_stopped_results(db):
    group = hpo.create_group(RANDOM, db=db, seed=2)
    a, b, c = group.ask(), group.ask(), group.ask()
    group.tell(a, status="failed", reason="diverged")
    group.tell(b, status="stopped")
    group.tell(c, {"loss": 0.5, "accuracy": 0.9})
    trials = {t.id: t for t in group.trials()}
    assert [trials[i].status for i in (1, 2, 3)] == ["failed", "stopped", "succeeded"]
    assert group.state.trials[1].reason == "diverged" and group.state.trials[2].reason == "told stopped"
    assert group.best.id == 3 and trials[3].metrics == {"loss": 0.5, "accuracy": 0.9}
    with pytest.raises(HpoError, match="trial 3 of group .* is not running"):
        group.tell(3, 0.1)
    with pytest.raises(ValueError, match="status must be"):
        group.tell(c, 0.1, status="done")
    with pytest.raises(HpoError, match="returned 'high'"):
        group.tell(group.ask(), "high")


def test_the_lease_is_held_and_renewed(db, monkeypatch):
    monkeypatch.setattr(api, "LEASE_SECONDS", 0.6)
    group = hpo.create_group(RANDOM, db=db)
    trial = group.ask()
    engine = group.state.engine
    assert engine["pid"] == os.getpid() and engine["lease_seconds"] == 0.6
    renewed = types_of(group).count("LeaseRenewed")
    time.sleep(1.0)  # computing the trial: the heartbeat keeps the lease alive
    assert types_of(group).count("LeaseRenewed") >= renewed + 2
    refused = hpo_cli(db, "resume", group.id)
    assert refused.returncode == 1 and "is being driven by engine" in refused.stderr
    group.tell(trial, 0.3)
    group.close()
    assert group.status == "stopped"
    assert types_of(group)[-1] == "GroupFinished"


def test_close_pauses_and_the_next_ask_goes_on(db):
    group = hpo.create_group(RANDOM, db=db, seed=5)
    first = group.ask()
    group.tell(first, 0.2)
    second = group.ask()
    group.close()
    assert group.status == "stopped" and group.state.trials[2].resumable
    assert second.should_stop
    again = hpo.load_group(group.id, db=db)
    retry = again.ask()  # the interrupted trial comes back as a new attempt
    assert (retry.id, retry.attempt, retry.params) == (2, 2, second.params)
    again.tell(retry, 0.1)
    drive(again)
    assert again.status == "succeeded" and len(again.trials()) == 5
    assert replay_check(again.store, again.id)[1] == []


def test_a_process_that_ends_pauses_its_groups(db, tmp_path):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(f"""
        import hpo
        group = hpo.create_group({RANDOM!r}, db={str(db)!r}, name="bye", seed=1)
        group.tell(group.ask(), 0.5)
        group.ask()
    """))
    subprocess.run([sys.executable, str(script)], check=True, timeout=60)
    group = hpo.load_group("bye", db=db)
    assert group.status == "stopped" and group.state.reason == "the Python process closed the group"
    assert group.ask().id == 2


def test_a_killed_process_is_taken_over(db, tmp_path):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(f"""
        import os, signal, hpo
        group = hpo.create_group({RANDOM!r}, db={str(db)!r}, name="killed", seed=1)
        group.tell(group.ask(), 0.5)
        group.ask()
        os.kill(os.getpid(), signal.SIGKILL)
    """))
    subprocess.run([sys.executable, str(script)], timeout=60)
    group = hpo.load_group("killed", db=db)
    assert group.status == "running"  # the log says running; its engine is gone
    retry = group.ask()
    assert (retry.id, retry.attempt) == (2, 2)
    started = [s.event for s in group.store.read(group.id) if s.type == "EngineStarted"]
    assert started[-1].took_over_from == started[0].engine_id


def test_hpo_stop_from_another_terminal(db):
    group = hpo.create_group(RANDOM, db=db)
    trial = group.ask()
    stop = hpo_cli(db, "stop", group.id, "--reason", "enough")
    assert stop.returncode == 0, stop.stderr
    group.tell(trial, 0.4)  # the engine reads the request on this call
    assert group.status == "stopped" and group.state.reason == "enough"
    assert group.ask() is None


def test_stopping_rules_apply(db):
    spec = {**RANDOM, "stopping": [{"kind": "threshold", "margin": 0.1}]}
    group = hpo.create_group(spec, db=db, seed=4)
    good, bad = group.ask(), group.ask()
    good.report(step=1, loss=0.1)
    assert not bad.should_stop
    bad.report(step=1, loss=5.0)
    assert bad.should_stop and "behind the best" in bad.stop_reason
    bad.report(step=2, loss=0.0)  # ignored: the trial is stopped
    group.tell(bad, 0.0)  # ignored too
    group.tell(good, 0.1)
    t = group.state.trials[2]
    assert t.status == "stopped" and t.stop_decision["policy"] == "threshold" and t.reports == 1


def test_early_stopping_ends_the_search(db):
    spec = {**RANDOM, "early_stopping": [{"metric": "loss", "value": 0.5, "optimization": "minimize"}]}
    group = hpo.create_group(spec, db=db)
    group.tell(group.ask(), 0.9)
    group.tell(group.ask(), 0.2)
    assert group.ask() is None
    assert group.status == "succeeded" and "loss" in group.state.reason


def test_trials_dataframe(db, monkeypatch):
    group = hpo.create_group(RANDOM, db=db, seed=1)
    drive(group)
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if pandas were not installed
    rows = group.trials_dataframe()
    assert isinstance(rows, list) and len(rows) == 5
    assert {"trial", "status", "param.x", "param.k", "metric.loss"} <= set(rows[0])


def test_trials_dataframe_with_pandas(db):
    pandas = pytest.importorskip("pandas")
    group = hpo.create_group(RANDOM, db=db, seed=1)
    drive(group)
    frame = group.trials_dataframe()
    assert isinstance(frame, pandas.DataFrame) and len(frame) == 5


def test_load_group_returns_the_handle_this_process_drives(db):
    group = hpo.create_group(RANDOM, db=db, name="mine")
    group.ask()
    assert hpo.load_group("mine", db=db) is group
    group.close()
    assert hpo.load_group("mine", db=db) is not group


def test_a_finished_group_takes_no_more(db):
    group = hpo.create_group({"matrix": {"x": {"values": [1]}}}, db=db)
    group.tell(group.ask(), {"loss": 1.0})
    assert group.ask() is None and group.status == "succeeded"
    with pytest.raises(HpoError, match="has ended"):
        group.tell(1, 0.1)


def test_import_hpo_stays_light():
    code = "import sys, hpo; print('hpo.api.group' in sys.modules, 'hpo.engine.loop' in sys.modules); hpo.create_group; print('hpo.api.group' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "True"]
    assert {"create_group", "optimize", "load_group", "Trial", "TrialStopped"} <= set(dir(hpo))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        hpo.nope  # noqa: B018
