"""The hash chain: every append is chained, and every kind of change to a group's history is
found and named by its seq, in a real SQLite file, through the store and through `hpo verify`."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils

from hpo.engine.lifecycle import fork
from hpo.eventlog import events as ev
from hpo.eventlog.chain import GENESIS, link, verify
from hpo.eventlog.migrations import MIGRATIONS
from hpo.eventlog.store import EventStore

GOLDEN = Path(__file__).parents[1] / "golden"


def created(gid="g", name="grp", origin=None):
    return ev.GroupCreated(group_id=gid, name=name, spec={}, seed=0, origin=origin)


def report(trial, step, loss):
    return ev.MetricReported(trial_id=trial, attempt=1, step=step, metrics={"loss": loss})


@pytest.fixture
def store(tmp_path):
    s = EventStore(tmp_path / "hpo.db")
    s.append("g", [created()], 0)
    s.append("g", [ev.Suggested(trial_id=1, params={"x": 1}, searcher="grid", searcher_version="1",
                                seed=1, seen_version=1)], 1)
    s.append("g", [report(1, i, 1.0 / i) for i in range(1, 9)], 2)
    yield s
    s.close()


def edit(store, seq):
    """Change an event's stored bytes (a trailing blank: the payload stays valid JSON)."""
    store.conn.execute("UPDATE events SET payload = payload || ' ' WHERE seq = ?", (seq,))


def rows(store, gid="g"):
    return store.conn.execute(
        "SELECT seq, version, type, schema, payload, ts, hash FROM events WHERE group_id = ? ORDER BY version",
        (gid,)).fetchall()


def hpo(tmp_path, *args):
    env = {**os.environ, "HPO_DB": str(tmp_path / "hpo.db")}
    return subprocess.run([sys.executable, "-m", "hpo", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_every_append_links_to_the_event_before(store):
    prev = GENESIS
    for seq, version, type_, schema, payload, ts, digest in rows(store):
        assert digest == link(prev, version, type_, schema, ts, payload)
        prev = digest
    verdict = verify(store, "g")
    assert verdict.ok and verdict.events == 10 and verdict.head == prev.hex() and verdict.head_seq == 10
    stored = store.append("g", [report(1, 10, 0.1)], 10)
    assert stored[0].hash == link(prev, 11, *ev.encode(report(1, 10, 0.1))[:2], stored[0].ts,
                                  ev.encode(report(1, 10, 0.1))[2])


def test_an_edited_event_is_named(store):
    edit(store, 5)
    broken = verify(store, "g").broken
    assert (broken.seq, broken.type) == (5, "MetricReported") and "edited" in broken.problem


def test_a_deleted_event_is_named_by_the_event_after_the_gap(store):
    store.conn.execute("DELETE FROM events WHERE seq = 4")
    broken = verify(store, "g").broken
    assert broken.seq == 5 and "version 4 is missing" in broken.problem


def test_an_inserted_event_is_named(store):
    # in the middle: later events shifted up one version to make room
    store.conn.execute("UPDATE events SET version = -version WHERE version >= 6")
    store.conn.execute("UPDATE events SET version = 1 - version WHERE version < 0")
    store.conn.execute(
        "INSERT INTO events (seq, group_id, version, type, schema, payload, ts, writer) VALUES "
        "(100, 'g', 6, 'MetricReported', 1, ?, '2026-01-01T00:00:00.000000+00:00', 'x')",
        (ev.encode(report(2, 1, 0.0))[2],))
    assert verify(store, "g").broken.seq == 100
    # at the end, without a hash
    store.conn.execute("DELETE FROM events WHERE seq = 100")
    store.conn.execute("UPDATE events SET version = version - 1 WHERE version > 6")
    assert verify(store, "g").ok
    store.conn.execute(
        "INSERT INTO events (seq, group_id, version, type, schema, payload, ts, writer) VALUES "
        "(101, 'g', 11, 'MetricReported', 1, ?, '2026-01-01T00:00:00.000000+00:00', 'x')",
        (ev.encode(report(2, 1, 0.0))[2],))
    broken = verify(store, "g").broken
    assert broken.seq == 101 and "no hash" in broken.problem


def test_reordered_events_are_named(store):
    # two events swap places in the group's order
    store.conn.execute("UPDATE events SET version = -1 WHERE seq = 3")
    store.conn.execute("UPDATE events SET version = 3 WHERE seq = 4")
    store.conn.execute("UPDATE events SET version = 4 WHERE seq = 3")
    assert verify(store, "g").broken.seq == 4
    store.conn.execute("UPDATE events SET version = -1 WHERE seq = 3")
    store.conn.execute("UPDATE events SET version = 4 WHERE seq = 4")
    store.conn.execute("UPDATE events SET version = 3 WHERE seq = 3")
    assert verify(store, "g").ok
    # the same group order, but one event moved in the global order
    store.conn.execute("UPDATE events SET seq = 50 WHERE seq = 6")
    broken = verify(store, "g").broken
    assert broken.seq == 7 and "after seq 50" in broken.problem and "reordered" in broken.problem


def test_hpo_verify_names_the_first_bad_seq_and_exits_1(tmp_path, store):
    ok = hpo(tmp_path, "verify", "grp")
    assert ok.returncode == 0, ok.stderr
    head = verify(store, "g").head
    assert f"ok, 10 events, head {head} (seq 10)" in ok.stdout
    edit(store, 3)
    edit(store, 6)
    bad = hpo(tmp_path, "verify")
    assert bad.returncode == 1
    assert "breaks at seq 3 (MetricReported, version 3)" in " ".join(bad.stdout.split())
    as_json = json.loads(hpo(tmp_path, "verify", "g", "--json").stdout)
    assert as_json[0]["ok"] is False and as_json[0]["broken"]["seq"] == 3


def test_a_full_rewrite_is_caught_by_a_recorded_head(tmp_path, store):
    recorded = verify(store, "g").head
    assert hpo(tmp_path, "verify", "g", "--head", recorded).returncode == 0
    store.append("g", [report(1, 10, 0.05)], 10)
    later = hpo(tmp_path, "verify", "g", "--head", recorded[:12])
    assert later.returncode == 0 and "1 events were appended since" in later.stdout
    # edit the third event and recompute every hash after it: the chain holds again...
    edit(store, 3)
    prev = GENESIS
    for seq, version, type_, schema, payload, ts, _ in rows(store):
        prev = link(prev, version, type_, schema, ts, payload)
        store.conn.execute("UPDATE events SET hash = ? WHERE seq = ?", (prev, seq))
    assert hpo(tmp_path, "verify", "g").returncode == 0
    # ...but not the head the user wrote down
    caught = hpo(tmp_path, "verify", "g", "--head", recorded)
    assert caught.returncode == 1 and "is not in the chain" in caught.stdout
    assert hpo(tmp_path, "verify", "--head", recorded).returncode == 2  # --head needs one GROUP


GRID = """
settings:
  concurrency: 2
  metric: {name: loss, optimization: minimize}
  matrix:
    x: {values: [1, 2, 3]}
run:
  cmd: echo "@hpo step=1 loss={{ x }}"
"""


def grid_group(path):
    """A real group: three echo trials run by the engine."""
    from hpo.engine.composition import create_group
    from hpo.engine.loop import Engine
    from hpo.spec import parse_spec

    store = EventStore(path)
    gid = create_group(store, parse_spec(GRID), name="grid", seed=1)
    Engine(store, gid, poll_interval=0.01).run()
    return store, gid


def test_a_fork_links_to_its_origin_at_the_fork_point(tmp_path):
    store, gid = grid_group(tmp_path / "grid.db")
    at = [s for s in store.read(gid) if s.type == "TrialFinished"][1].seq
    new = fork(store, gid, at_seq=at)
    first = rows(store, new)[0]
    origin_at_fork = next(r[6] for r in rows(store, gid) if r[0] == at)
    assert first[6] == link(origin_at_fork, 1, *first[2:4], first[5], first[4])
    assert verify(store, new).ok
    # rewriting the origin's history before the fork point, chain and all, breaks the fork
    store.conn.execute("UPDATE events SET ts = '2020-01-01T00:00:00.000000+00:00' WHERE seq = 2")
    prev = GENESIS
    for seq, version, type_, schema, payload, ts, _ in rows(store, gid):
        prev = link(prev, version, type_, schema, ts, payload)
        store.conn.execute("UPDATE events SET hash = ? WHERE seq = ?", (prev, seq))
    assert verify(store, gid).ok
    broken = verify(store, new).broken
    assert broken.type == "GroupCreated" and "edited" in broken.problem


def _pre_chain_database(path: Path, golden_rows: list[dict]) -> None:
    """A database as hpo wrote it before the chain: migrations 001-003 and no hash column."""
    db = sqlite_utils.Database(path)
    db["_hpo_migrations"].create({"name": str, "applied_at": str}, pk="name")
    for name, fn in MIGRATIONS[:3]:
        fn(db)
        db["_hpo_migrations"].insert({"name": name, "applied_at": "2026-11-27T00:00:00+00:00"})
    db.conn.executemany(
        "INSERT INTO events (seq, group_id, version, type, schema, payload, ts, writer)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(r["seq"], r["group_id"], r["version"], r["type"], r["schema"], json.dumps(r["payload"]),
          r["ts"], r["writer"]) for r in golden_rows])
    db.conn.commit()
    db.conn.close()


def test_the_migration_chains_an_existing_log_once_and_says_from_where(tmp_path):
    golden = [json.loads(line) for line in (GOLDEN / "log-0.2.0.jsonl").read_text().splitlines()]
    _pre_chain_database(tmp_path / "hpo.db", golden)
    store = EventStore(tmp_path / "hpo.db")  # opening it migrates
    groups = sorted({r["group_id"] for r in golden})
    forks = {r["group_id"] for r in golden if r["type"] == "GroupCreated" and r["payload"]["origin"]}
    assert forks, "the golden log should hold a fork"
    for gid in groups:
        verdict = verify(store, gid)
        last = max(r["seq"] for r in golden if r["group_id"] == gid)
        assert verdict.ok and verdict.head_seq == last
        assert verdict.migrated.through_seq == last
    # the fork was chained onto its origin's hash at the fork point
    (fork_id,) = forks
    origin = next(r for r in golden if r["group_id"] == fork_id and r["version"] == 1)["payload"]["origin"]
    assert store.fork_point(fork_id) == (origin["group"], origin["at_seq"])
    # appends after the migration are chained as written, and edits are found again
    gid = groups[0]
    version = store.version(gid)
    store.append(gid, [ev.LeaseRenewed(engine_id="later")], version)
    assert verify(store, gid).ok
    seq = rows(store, gid)[3][0]
    store.conn.execute("UPDATE events SET ts = '2020-01-01T00:00:00.000000+00:00' WHERE seq = ?", (seq,))
    assert verify(store, gid).broken.seq == seq
    store.close()
    assert EventStore(tmp_path / "hpo.db").db["chain_migrated"].count == len(groups)  # once


def test_status_json_prints_the_head(tmp_path, store):
    out = json.loads(hpo(tmp_path, "status", "g", "--json").stdout)
    assert out["head"] == {"hash": verify(store, "g").head, "seq": 10, "version": 10}
    past = json.loads(hpo(tmp_path, "status", "g", "--json", "--as-of", "4").stdout)
    assert past["head"]["hash"] == rows(store)[3][6].hex()


def test_hashes_are_stored_as_blobs_without_sqlite3_looking_for_an_adapter(store):
    """The append binds each hash directly: a bytes value would make sqlite3 look for an adapter
    first, which cost as much as computing the hash (docs/benchmarks.md)."""
    consulted = []
    key = (bytes, sqlite3.PrepareProtocol)
    sqlite3.register_adapter(bytes, lambda value: consulted.append(value) or value)
    try:
        stored = store.append("g", [report(1, step, 1.0 / step) for step in range(10, 20)], 10)
    finally:
        sqlite3.adapters.pop(key, None)
    assert consulted == []
    assert all(type(s.hash) is bytes and len(s.hash) == 32 for s in stored)
    written = store.conn.execute(
        "SELECT typeof(hash), hash FROM events WHERE group_id = 'g' AND version > 10 ORDER BY version"
    ).fetchall()
    assert written == [("blob", s.hash) for s in stored]
    verdict = verify(store, "g")
    assert verdict.ok and verdict.events == 20 and verdict.head == stored[-1].hash.hex()


def test_an_append_onto_a_head_the_writer_did_not_write_is_refused(store):
    from hpo.errors import LogTampered

    head = verify(store, "g").head
    store.conn.execute("UPDATE events SET hash = x'00' WHERE seq = 10")
    with pytest.raises(LogTampered, match="not the one this writer appended"):
        store.append("g", [report(1, 10, 0.1)], 10, expected_head=bytes.fromhex(head))
    assert store.version("g") == 10


def test_replay_check_fails_on_a_broken_chain(tmp_path):
    store, gid = grid_group(tmp_path / "hpo.db")
    seq = [s.seq for s in store.read(gid) if s.type == "MetricReported"][0]
    assert hpo(tmp_path, "replay", "grid", "--check").returncode == 0
    edit(store, seq)
    proc = hpo(tmp_path, "replay", "grid", "--check")
    assert proc.returncode == 1 and f"breaks at seq {seq} (MetricReported" in " ".join(proc.stdout.split())
    assert "0 differ" in proc.stdout  # the suggestions themselves still replay


@pytest.mark.parametrize("payload", ["not json", "[]", '{"evidence": [1]}', '{"evidence": {"tampered": 3}}'])
def test_hpo_verify_names_an_edited_stopped_event_whatever_its_payload(tmp_path, store, payload):
    """`hpo verify` reads the findings engines recorded in Stopped events: one whose payload was
    replaced by text that is not a JSON object is named like any edited event, never a traceback."""
    store.append("g", [ev.Stopped(scope="group", reason="paused", policy="user", group_status="stopped")], 10)
    store.conn.execute("UPDATE events SET payload = ? WHERE type = 'Stopped'", (payload,))
    assert verify(store, "g").broken.seq == 11
    proc = hpo(tmp_path, "verify", "grp")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "breaks at seq 11 (Stopped, version 11)" in " ".join(proc.stdout.split())


@pytest.mark.parametrize("change", ["DELETE FROM events WHERE seq = 1",
                                    "UPDATE events SET type = 'LeaseRenewed' WHERE seq = 1",
                                    "UPDATE events SET payload = 'garbage' WHERE seq = 1"])
def test_hpo_verify_checks_a_group_whose_first_event_was_deleted_or_edited(tmp_path, store, change):
    """`hpo verify` without GROUP checks every group that has an event, not only those whose
    GroupCreated still reads as one: otherwise deleting it hid the group and verify said ok."""
    store.append("h", [created("h", "other")], 0)
    store.conn.execute(change)
    proc = hpo(tmp_path, "verify")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    said = " ".join(proc.stdout.split())
    assert "(g): the chain breaks at seq" in said, said
    assert "other (h): ok" in said
    assert json.loads(hpo(tmp_path, "verify", "--json").stdout)[0]["ok"] is False
    assert hpo(tmp_path, "verify", "other").returncode == 0  # names still resolve
