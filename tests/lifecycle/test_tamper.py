"""A trial that writes to the database behind the engine's back, as an attacker would: the engine
notices, records it, pauses the group with that reason and exits non-zero; `hpo verify` and a
later `hpo resume` refuse the group. Real `hpo` processes, real trials, a real SQLite file."""

import json
import sqlite3
import sys

import pytest

from hpo.eventlog.chain import verify

from .conftest import run_hpo, state_of, write_spec

# Trial 2 attacks the log the engine is writing, then keeps running for a while.
ATTACK = """
import json, os, sqlite3, sys, time
from hpo.eventlog.chain import link

if os.environ["HPO_TRIAL_ID"] == "2":
    gid = os.environ["HPO_GROUP_ID"]
    db = sqlite3.connect(os.environ["VICTIM_DB"], timeout=30, isolation_level=None)
    if sys.argv[1] == "insert":
        # a report for trial 1, chained like a real one: the chain alone would accept it
        payload = json.dumps({"trial_id": 1, "attempt": 1, "step": 99, "metrics": {"loss": -1000.0},
                              "offset": 0}, separators=(",", ":"))
        while True:
            try:
                db.execute("BEGIN IMMEDIATE")
                version, head = db.execute("SELECT version, hash FROM events WHERE group_id = ?"
                                           " ORDER BY version DESC LIMIT 1", (gid,)).fetchone()
                ts = "2026-01-01T00:00:00.000000+00:00"
                db.execute("INSERT INTO events (group_id, version, type, schema, payload, ts, writer, hash)"
                           " VALUES (?, ?, 'MetricReported', 1, ?, ?, 'trial', ?)",
                           (gid, version + 1, payload, ts, link(head, version + 1, "MetricReported", 1, ts, payload)))
                db.execute("COMMIT")
                break
            except sqlite3.IntegrityError:
                db.execute("ROLLBACK")
    else:  # edit the group's first report, as if trial 1 had done better
        db.execute("UPDATE events SET payload = replace(payload, '\\"loss\\":1.0', '\\"loss\\":0.0')"
                   " WHERE group_id = ? AND type = 'MetricReported'", (gid,))
    time.sleep(3)
print("@hpo loss=" + sys.argv[2], flush=True)
"""


def attack_spec(tmp_path, mode):
    (tmp_path / "attack.py").write_text(ATTACK)
    return write_spec(tmp_path, f"""
        name: victim
        settings:
          concurrency: 1
          metric: {{name: loss, optimization: minimize}}
          matrix:
            x: {{values: [1, 2, 3]}}
        run:
          cmd: {sys.executable} attack.py {mode} {{{{ x }}}}
          env: {{VICTIM_DB: {tmp_path / ".hpo" / "hpo.db"}}}
        """)


def events(tmp_path):
    conn = sqlite3.connect(tmp_path / ".hpo" / "hpo.db")
    try:
        return conn.execute("SELECT seq, type, payload FROM events ORDER BY seq").fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("mode", ["insert", "edit"])
def test_a_trial_writing_to_the_log_makes_the_engine_pause_the_group_and_exit_non_zero(tmp_path, mode):
    proc = run_hpo(tmp_path, "run", str(attack_spec(tmp_path, mode)), "--plain")
    assert proc.returncode == 5, proc.stdout + proc.stderr
    rows = events(tmp_path)
    if mode == "insert":
        bad = next(seq for seq, type_, payload in rows if type_ == "MetricReported" and '"step":99' in payload)
        problem = "appended by another process"
    else:
        bad = next(seq for seq, type_, payload in rows if type_ == "MetricReported")
        problem = "does not match its hash"
    assert f"changed outside the engine: found seq {bad}" in " ".join(proc.stderr.split())
    stopped = [json.loads(p) for _, t, p in rows if t == "Stopped"]
    assert stopped[-1]["policy"] == "engine" and stopped[-1]["group_status"] == "stopped"
    assert stopped[-1]["evidence"]["tampered"]["seq"] == bad
    assert problem in stopped[-1]["evidence"]["tampered"]["problem"]
    state = state_of(tmp_path, "victim")
    assert state.status == "stopped" and f"seq {bad}" in state.reason
    assert state.trials[2].status == "stopped"  # the attacker was stopped while it slept
    assert 3 not in state.trials or state.trials[3].attempts == 0  # nothing ran after the finding
    # hpo verify names it; a resumed engine refuses the group without writing anything
    verified = run_hpo(tmp_path, "verify", "victim")
    assert verified.returncode == 1 and f"seq {bad}" in verified.stdout
    before = len(events(tmp_path))
    resumed = run_hpo(tmp_path, "resume", "victim")
    assert resumed.returncode == 5 and f"seq {bad}" in resumed.stderr
    assert len(events(tmp_path)) == before


def test_an_engine_starting_on_a_broken_chain_records_it_and_stops(tmp_path):
    store, gid = _plain_group(tmp_path)
    store.conn.execute("UPDATE events SET payload = replace(payload, '\"seed\":1', '\"seed\":2')")
    proc = run_hpo(tmp_path, "resume", "plain")
    assert proc.returncode == 5 and "found seq 1 (GroupCreated" in " ".join(proc.stderr.split())
    state = state_of(tmp_path, "plain")
    assert state.status == "stopped" and state.trials == {}  # no trial ran
    assert verify(store, gid).broken.seq == 1


EDITS = {  # what an attacker may leave in a row: (rows it changes, the SQL SET clause)
    "payload not json": ("type = 'MetricReported'", "payload = '{not json'"),
    "payload not an object": ("type = 'MetricReported'", "payload = '[1]'"),
    "payload of another type": ("type = 'Suggested'", "payload = '{\"trial_id\": 1}'"),
    "type changed": ("type = 'MetricReported'", "type = 'LeaseRenewed'"),
    "timestamp not a time": ("type = 'GroupFinished'", "ts = 'yesterday'"),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_views_and_replay_name_an_event_they_cannot_read(tmp_path, edit):
    """An event edited into something hpo never writes makes `hpo status` and `hpo replay --check`
    fail with its seq and a pointer to `hpo verify` (which names it as edited), never a traceback."""
    spec = write_spec(tmp_path, """
        name: grid
        settings:
          metric: {name: loss, optimization: minimize}
          matrix:
            x: {values: [1, 2]}
        run:
          cmd: echo "@hpo loss={{ x }}"
        """)
    assert run_hpo(tmp_path, "run", str(spec), "--plain").returncode == 0
    where, change = EDITS[edit]
    conn = sqlite3.connect(tmp_path / ".hpo" / "hpo.db", isolation_level=None)
    seq = conn.execute(f"SELECT MIN(seq) FROM events WHERE {where}").fetchone()[0]
    conn.execute(f"UPDATE events SET {change} WHERE seq = ?", (seq,))
    conn.execute("DELETE FROM snapshots")  # the cache would hide the edit from the views
    conn.close()
    for args in (["status", "grid"], ["replay", "grid"], ["replay", "grid", "--check"]):
        proc = run_hpo(tmp_path, *args)
        said = " ".join(proc.stderr.split())
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, (args, proc.stderr)
        assert f"seq {seq} (" in said and "hpo verify" in said, (args, said)
    assert "the chain of group" in said and f"breaks at seq {seq}" in said  # --check says why
    verified = run_hpo(tmp_path, "verify", "grid")
    assert verified.returncode == 1 and f"breaks at seq {seq}" in " ".join(verified.stdout.split())


def test_an_engine_starting_on_an_event_it_cannot_read_stops_with_the_finding(tmp_path):
    store, _ = _plain_group(tmp_path)
    store.conn.execute("UPDATE events SET ts = 'yesterday' WHERE version = 1")
    before = len(events(tmp_path))
    proc = run_hpo(tmp_path, "resume", "plain")
    assert proc.returncode == 5 and "Traceback" not in proc.stderr, proc.stderr
    assert "found seq 1 (GroupCreated" in " ".join(proc.stderr.split())
    assert len(events(tmp_path)) == before  # no trial ran, nothing was written


def test_an_engine_never_trusts_a_snapshot(tmp_path, slow_grid):
    """Snapshots are a cache for views, never the truth: a forged one (the trials a pause
    interrupted made to look succeeded) does not keep `hpo resume` from running them again."""
    from hpo.eventlog.snapshots import read_snapshot, write_snapshot
    from hpo.eventlog.store import EventStore

    from .conftest import spawn, wait_for
    from .test_resume import launched

    engine = spawn(tmp_path, "run", str(slow_grid), "--seed", "0")
    wait_for(lambda: launched(tmp_path) >= 2)
    assert run_hpo(tmp_path, "stop", "slow").returncode == 0
    assert engine.wait(timeout=60) == 3
    interrupted = {t.trial_id for t in state_of(tmp_path, "slow").trials.values() if t.resumable}
    assert interrupted
    with EventStore(tmp_path / ".hpo" / "hpo.db") as store:
        forged = read_snapshot(store, store.resolve("slow"))  # written when the pause ended the group
        assert forged is not None
        for tid in interrupted:
            forged.trials[tid].status, forged.trials[tid].resumable = "succeeded", False
        write_snapshot(store, forged)
    proc = run_hpo(tmp_path, "resume", "slow", "--plain")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = state_of(tmp_path, "slow")  # the log, folded in full
    assert after.status == "succeeded"
    for tid in interrupted:
        assert after.trials[tid].status == "succeeded" and after.trials[tid].attempts == 2


def _plain_group(tmp_path):
    """A created group 'plain' (seed 1) that no engine has run yet, and its store."""
    from hpo.engine.composition import create_group
    from hpo.eventlog.store import EventStore
    from hpo.spec import load_spec

    spec = write_spec(tmp_path, """
        name: plain
        settings:
          metric: {name: loss, optimization: minimize}
          matrix:
            x: {values: [1, 2]}
        run:
          cmd: echo "@hpo loss={{ x }}"
        """)
    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    return store, create_group(store, load_spec(spec), name="plain", seed=1)
