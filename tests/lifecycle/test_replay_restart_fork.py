"""replay --check, restart, fork and whatif over real groups."""

import json
import sqlite3
import sys

import pytest

from hpo.engine.loop import Engine
from hpo.engine.composition import create_group
from hpo.engine.lifecycle import fork, replay_check, restart
from hpo.spec import parse_spec
from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore

from .conftest import run_hpo

SCRIPT = """
import hpo, math
p = hpo.params()
x = float(p.get("x", 0)); y = float(p.get("y", 0))
steps = int(p.get("epochs", 3))
for s in range(1, steps + 1):
    hpo.report(step=s, loss=(x - 0.3) ** 2 + (y - 0.6) ** 2 + 1.0 / s)
if p.get("fail") == 1:
    raise SystemExit(2)
"""

SPECS = {
    "grid": """
        settings:
          grid_search: {n_experiments: 6}
          concurrency: 2
          metric: {name: loss, optimization: minimize}
          matrix:
            x: {linspace: 0:1:3}
            y: {values: [0.2, 0.6]}
        """,
    "random": """
        settings:
          random_search: {n_experiments: 6, concurrency: 3}
          metric: {name: loss, optimization: minimize}
          matrix:
            x: {uniform: [0, 1]}
            y: {quniform: [0, 1, 0.1]}
        """,
    "hyperband": """
        settings:
          hyperband:
            max_iter: 9
            eta: 3
            resource: {name: epochs, type: int}
            metric: {name: loss, optimization: minimize}
          concurrency: 3
          matrix:
            x: {uniform: [0, 1]}
            y: {values: [0.2, 0.6]}
        """,
    "bo": """
        settings:
          bo:
            n_initial_trials: 3
            n_iterations: 3
            metric: {name: loss, optimization: minimize}
          concurrency: 2
          matrix:
            x: {uniform: [0, 1]}
            y: {linspace: 0:1:5}
        """,
}


def make_group(tmp_path, algorithm, seed=3):
    import textwrap

    (tmp_path / "train.py").write_text(SCRIPT)
    text = textwrap.dedent(SPECS[algorithm]) + f"run:\n  cmd: {sys.executable} train.py\n"
    spec = parse_spec(text, source=str(tmp_path / "spec.yaml"))
    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    gid = create_group(store, spec, name=algorithm, seed=seed, source=text,
                       source_path=str(tmp_path / "spec.yaml"))
    return store, gid


@pytest.mark.parametrize("algorithm", list(SPECS))
def test_replay_check_passes_for_every_builtin_searcher(tmp_path, algorithm):
    store, gid = make_group(tmp_path, algorithm)
    state = Engine(store, gid, poll_interval=0.01).run()
    assert state.status == "succeeded", state.reason
    checked, mismatches = replay_check(store, gid)
    assert checked == len(state.trials) > 0
    assert mismatches == []
    proc = run_hpo(tmp_path, "replay", algorithm, "--check", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["check"]["mismatches"] == []


def test_replay_check_catches_a_tampered_suggestion(tmp_path):
    store, gid = make_group(tmp_path, "random")
    Engine(store, gid, poll_interval=0.01).run()
    conn = sqlite3.connect(store.path)
    seq, payload = conn.execute(
        "SELECT seq, payload FROM events WHERE type='Suggested' ORDER BY seq LIMIT 1 OFFSET 2").fetchone()
    data = json.loads(payload)
    data["params"]["x"] = 0.123
    conn.execute("UPDATE events SET payload=? WHERE seq=?", (json.dumps(data), seq))
    conn.commit()
    checked, mismatches = replay_check(store, gid)
    assert [m.seq for m in mismatches] == [seq]
    assert mismatches[0].logged["params"]["x"] == 0.123
    proc = run_hpo(tmp_path, "replay", "random", "--check")
    assert proc.returncode == 1 and "1 differ" in proc.stdout


def test_replay_until_shows_the_past(tmp_path):
    store, gid = make_group(tmp_path, "grid")
    Engine(store, gid, poll_interval=0.01).run()
    events = store.read(gid)
    third = [s for s in events if s.type == "Suggested"][2]
    past = json.loads(run_hpo(tmp_path, "replay", "grid", "--until", str(third.seq), "--json").stdout)
    assert past["as_of_seq"] == third.seq and len(past["trials"]) == 3
    assert past["summary"]["status"] == "running"
    at_time = json.loads(run_hpo(tmp_path, "replay", "grid", "--until", third.ts, "--json").stdout)
    assert at_time["as_of_seq"] >= third.seq


def test_restart_makes_a_linked_group_with_the_same_suggestions(tmp_path):
    store, gid = make_group(tmp_path, "random")
    first = Engine(store, gid, poll_interval=0.01).run()
    new = restart(store, gid)
    created = store.read(new)[0].event
    assert created.origin == {"group": gid, "kind": "restart"} and created.seed == first.seed
    second = Engine(store, new, poll_interval=0.01).run("resume")
    assert [t.params for t in second.trials.values()] == [t.params for t in first.trials.values()]


def test_restart_failed_only_reruns_exactly_the_failed_configs(tmp_path):
    import textwrap

    (tmp_path / "train.py").write_text(SCRIPT)
    text = textwrap.dedent("""
        settings:
          metric: {name: loss, optimization: minimize}
          matrix:
            x: {values: [0.1, 0.2, 0.3]}
            fail: {values: [0, 1]}
        """) + f"run:\n  cmd: {sys.executable} train.py\n"
    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    gid = create_group(store, parse_spec(text), name="f", seed=0, source_path=str(tmp_path / "s.yaml"))
    first = Engine(store, gid, poll_interval=0.01).run()
    failed = [t.params for t in first.trials.values() if t.status == "failed"]
    assert len(failed) == 3
    proc = run_hpo(tmp_path, "restart", "f", "--failed-only", "--no-run")
    assert proc.returncode == 0, proc.stderr
    new = store.resolve("f-restart")
    second = Engine(store, new, poll_interval=0.01).run("resume")
    assert [t.params for t in second.trials.values()] == failed
    assert [t.meta["origin_trial"] for t in second.trials.values()] == [
        t.trial_id for t in first.trials.values() if t.status == "failed"]
    assert store.read(new)[0].event.origin["kind"] == "restart-failed"


def test_fork_shares_history_and_continues_with_new_settings(tmp_path):
    store, gid = make_group(tmp_path, "grid")
    Engine(store, gid, poll_interval=0.01).run()
    events = store.read(gid)
    # fork right after the 4th trial finished
    at = [s for s in events if s.type == "TrialFinished"][3].seq
    origin_at = GroupState.fold(store.read(gid, until_seq=at))
    new = fork(store, gid, at, sets=["search.options.n_experiments=6", "concurrency=1"])
    forked_before = GroupState.fold(store.read(new))
    assert forked_before.origin == {"group": gid, "kind": "fork", "at_seq": at}
    finished = {t.trial_id for t in origin_at.trials.values() if t.finished}
    for tid in finished:
        assert forked_before.trials[tid].metrics == origin_at.trials[tid].metrics
    state = Engine(store, new, poll_interval=0.01).run("resume")
    assert state.status == "succeeded" and len(state.trials) == 6
    original = GroupState.fold(store.read(gid))
    assert [t.params for t in state.trials.values()] == [t.params for t in original.trials.values()]
    checked, mismatches = replay_check(store, new)
    assert mismatches == []


def test_fork_with_another_algorithm(tmp_path):
    store, gid = make_group(tmp_path, "grid")
    Engine(store, gid, poll_interval=0.01).run()
    # fork once the first two trials finished; random search then finds the 4 configs left
    at = [s for s in store.read(gid) if s.type == "TrialFinished"][1].seq
    proc = run_hpo(tmp_path, "fork", "grid", "--at", str(at), "--algorithm", "random",
                   "--set", "search.options.n_experiments=8")
    assert proc.returncode == 0, proc.stderr
    new = store.resolve("grid-fork")
    state = Engine(store, new, poll_interval=0.01).run("resume")
    assert state.status == "succeeded" and "only 6 distinct configs" in state.reason
    params = [json.dumps(t.params, sort_keys=True) for t in state.trials.values()]
    assert len(params) == len(set(params)) == 6
    assert [t.searcher for t in state.trials.values()].count("random") >= 2


def test_whatif_reports_savings_without_writing(tmp_path):
    store, gid = make_group(tmp_path, "grid")
    Engine(store, gid, poll_interval=0.01).run()
    before = store.version(gid)
    proc = run_hpo(tmp_path, "whatif", "grid", "--stopper", "median", "--set", "min_steps=1",
                   "--set", "min_trials=1", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["steps_logged"] == 18
    assert data["steps_logged"] == data["steps_would_run"] + data["steps_saved"]
    assert store.version(gid) == before
    bad = run_hpo(tmp_path, "whatif", "grid", "--stopper", "median", "--set", "min_stepz=1")
    assert bad.returncode == 2 and "min_stepz" in bad.stderr
