"""kill -9 the engine again and again; the group must end exactly as an uninterrupted run.

Real `hpo` processes, real trials, one real SQLite file. Kills land at random moments and at
precise points (right after a suggestion is logged, after a trial started but before its launch
was logged, right after a batch of reports was written) through the engine's HPO_FAULT hook.
"""

import os
import random
import signal
import subprocess
import sqlite3
import sys
import time

import pytest

from hpo.engine.loop import Engine
from hpo.engine.composition import create_group
from hpo.spec import load_spec
from hpo.eventlog.store import EventStore

from .conftest import state_of, write_spec

N_TRIALS = 40
SPEC = f"""
    name: chaos
    settings:
      random_search: {{n_experiments: {N_TRIALS}, concurrency: 4}}
      metric: {{name: score, optimization: maximize}}
      matrix:
        x: {{uniform: [0, 1]}}
        pause: {{values: [0.1, 0.2, 0.3, 0.4]}}
    run:
      cmd: echo "@hpo step=1 score={{{{ x }}}}"; sleep {{{{ pause }}}}; echo "@hpo step=2 score={{{{ x }}}}"
    """


def engine_process(tmp_path, *args, fault=None):
    env = {**os.environ, "HPO_DB": str(tmp_path / ".hpo" / "hpo.db")}
    env.pop("HPO_FAULT", None)
    if fault:
        env["HPO_FAULT"] = fault
    return subprocess.Popen([sys.executable, "-m", "hpo", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def count(tmp_path, type_: str) -> int:
    db = tmp_path / ".hpo" / "hpo.db"
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(db)
        return conn.execute("SELECT COUNT(*) FROM events WHERE type=?", (type_,)).fetchone()[0]
    except sqlite3.Error:
        return 0


def suggestions(state):
    return {(round(t.params["x"], 12), t.params["pause"]) for t in state.trials.values()}


@pytest.mark.slow
def test_chaos_kill_9_and_resume(tmp_path):
    spec_path = write_spec(tmp_path, SPEC)
    # the uninterrupted reference run, in another database
    ref_store = EventStore(tmp_path / "ref" / "hpo.db")
    ref_id = create_group(ref_store, load_spec(spec_path), seed=7, source_path=str(spec_path))
    reference = Engine(ref_store, ref_id, poll_interval=0.01).run()
    assert reference.status == "succeeded" and len(reference.trials) == N_TRIALS

    rng = random.Random(1234)
    plan = ["suggested:3", None, "started:2", "collected:5", None, "suggested:2", None]
    proc, engines = engine_process(tmp_path, "run", str(spec_path), "--seed", "7", fault=plan[0]), 0
    kills = 0
    for fault in plan[1:]:
        if fault is None or proc.poll() is None:  # a random moment (or the fault has not fired)
            while count(tmp_path, "EngineStarted") <= engines and proc.poll() is None:
                time.sleep(0.02)  # a kill before the engine took the group would test nothing
            deadline = time.monotonic() + rng.uniform(0.5, 2.5)
            while time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.02)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        rc = proc.wait(timeout=60)
        if rc == 0:
            break  # the group finished before this kill
        assert rc == -signal.SIGKILL, proc.stderr.read()
        kills += 1
        if state_of(tmp_path, "chaos").status == "succeeded":
            break  # the kill landed after the engine had recorded the end of the group
        engines = count(tmp_path, "EngineStarted")
        proc = engine_process(tmp_path, "resume", "chaos", fault=fault)
    else:
        rc = proc.wait(timeout=120)
        assert rc in (0, -signal.SIGKILL), proc.stderr.read()
    # the last engine may itself have been killed by a fault: resume until done
    for _ in range(3):
        if state_of(tmp_path, "chaos").status == "succeeded":
            break
        final = engine_process(tmp_path, "resume", "chaos")
        assert final.wait(timeout=120) == 0, final.stderr.read()
    assert kills >= 3

    state = state_of(tmp_path, "chaos")
    assert state.status == "succeeded"
    db = tmp_path / ".hpo" / "hpo.db"
    conn = sqlite3.connect(db)
    ids = [r[0] for r in conn.execute(
        "SELECT json_extract(payload, '$.trial_id') FROM events WHERE type='Suggested' ORDER BY seq")]
    assert ids == list(range(1, N_TRIALS + 1))  # every trial id once, none reused
    assert len(state.trials) == N_TRIALS
    for t in state.trials.values():  # every trial finished with its own metrics
        assert t.status == "succeeded", (t.trial_id, t.status, t.reason)
        assert t.metrics["score"] == pytest.approx(t.params["x"])
        assert [s for s, _ in t.curves["score"]] == [1, 2]
    # a finished trial is never run again: only attempts interrupted by a crash were repeated
    for tid, finishes in conn.execute(
        "SELECT json_extract(payload, '$.trial_id'), COUNT(*) FROM events WHERE type='TrialFinished'"
        " AND json_extract(payload, '$.status') = 'succeeded' GROUP BY 1"):
        assert finishes == 1, tid
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert suggestions(state) == suggestions(reference)
    # the precise crash points were hit: a trial was suggested (or started) by one engine and
    # launched by the next, and a trial attempt's process outlived its engine and was reattached
    order = [(r[0], r[1]) for r in conn.execute(
        "SELECT type, json_extract(payload, '$.trial_id') FROM events ORDER BY seq")]
    pending_at_crash = set()
    seen_suggested = set()
    for type_, tid in order:
        if type_ == "Suggested":
            seen_suggested.add(tid)
        elif type_ == "TrialLaunched":
            seen_suggested.discard(tid)
        elif type_ == "EngineStarted":
            pending_at_crash |= seen_suggested
    assert pending_at_crash, "no kill landed between a suggestion and its launch"
    # every random kill waited for its engine to take the group: each killed engine started
    started = conn.execute("SELECT COUNT(*) FROM events WHERE type='EngineStarted'").fetchone()[0]
    assert started >= 4
