import sqlite3
import threading

import pytest

from hpo.eventlog import events as ev
from hpo.errors import ConcurrencyError, GroupNotFound, StoreError
from hpo.eventlog.migrations import MIGRATIONS
from hpo.eventlog.store import EventStore

EXPECTED_SCHEMA = '''CREATE TABLE "_hpo_migrations" (
   "name" TEXT PRIMARY KEY,
   "applied_at" TEXT
);
CREATE TABLE "events" (
   "seq" INTEGER PRIMARY KEY,
   "group_id" TEXT NOT NULL,
   "version" INTEGER NOT NULL,
   "type" TEXT NOT NULL,
   "schema" INTEGER NOT NULL,
   "payload" TEXT NOT NULL,
   "ts" TEXT NOT NULL,
   "writer" TEXT NOT NULL
, "hash" BLOB);
CREATE UNIQUE INDEX "events_group_version"
    ON "events" ("group_id", "version");
CREATE INDEX "events_type"
    ON "events" ("type");
CREATE TABLE "snapshots" (
   "group_id" TEXT PRIMARY KEY,
   "version" INTEGER NOT NULL,
   "format" TEXT NOT NULL,
   "state" BLOB NOT NULL
, "curves" BLOB);
CREATE TABLE "chain_migrated" (
   "group_id" TEXT PRIMARY KEY,
   "through_seq" INTEGER NOT NULL,
   "through_version" INTEGER NOT NULL,
   "chained_at" TEXT NOT NULL
);'''


def created(gid="g1", name="n"):
    return ev.GroupCreated(group_id=gid, name=name, spec={}, seed=0)


@pytest.fixture
def store(tmp_path):
    s = EventStore(tmp_path / "hpo.db")
    yield s
    s.close()


def test_blank_database_migrates_to_exact_schema(store):
    assert store.db.schema == EXPECTED_SCHEMA
    assert [r["name"] for r in store.db["_hpo_migrations"].rows] == [m[0] for m in MIGRATIONS]
    assert store.db.journal_mode == "wal"


def test_migrating_twice_is_a_no_op(tmp_path):
    EventStore(tmp_path / "a.db").close()
    again = EventStore(tmp_path / "a.db")
    assert again.db["_hpo_migrations"].count == len(MIGRATIONS)


def test_append_and_read_in_order(store):
    store.append("g1", [created()], 0)
    store.append("g1", [ev.LeaseRenewed(engine_id="e"), ev.LeaseRenewed(engine_id="f")], 1)
    got = store.read("g1")
    assert [s.version for s in got] == [1, 2, 3]
    assert [s.seq for s in got] == [1, 2, 3]
    assert got[2].event == ev.LeaseRenewed(engine_id="f")
    assert store.read("g1", after_version=2)[0].event.engine_id == "f"
    assert [s.version for s in store.read("g1", until_seq=2)] == [1, 2]


def test_stale_append_raises_and_writes_nothing(store):
    store.append("g1", [created()], 0)
    store.append("g1", [ev.LeaseRenewed(engine_id="a")], 1)
    with pytest.raises(ConcurrencyError):
        store.append("g1", [ev.LeaseRenewed(engine_id="b")], 1)
    assert store.version("g1") == 2
    assert [s.event.engine_id for s in store.read("g1")[1:]] == ["a"]


def test_a_batch_is_atomic(store, monkeypatch):
    store.append("g1", [created()], 0)
    # the second row of the batch collides with a row inserted behind the store's back
    store.conn.execute(
        "INSERT INTO events (group_id, version, type, schema, payload, ts, writer) "
        "VALUES ('g1', 3, 'LeaseRenewed', 1, '{\"engine_id\":\"x\"}', 't', 'w')"
    )
    with pytest.raises(ConcurrencyError):
        store.append("g1", [ev.LeaseRenewed(engine_id="a"), ev.LeaseRenewed(engine_id="b")], 1)
    rows = store.conn.execute("SELECT version FROM events WHERE group_id='g1' ORDER BY version").fetchall()
    assert rows == [(1,), (3,)]


def test_sqlite_errors_are_wrapped(tmp_path):
    s = EventStore(tmp_path / "x.db")
    s.conn.execute("DROP TABLE events")
    with pytest.raises(StoreError):
        s.read("g1")
    with pytest.raises(StoreError):
        s.append("g1", [created()], 0)


def test_unopenable_path_is_a_store_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError):
        EventStore(tmp_path / "file" / "db.sqlite")


def test_concurrent_writers_never_share_a_version(tmp_path):
    path = tmp_path / "c.db"
    EventStore(path).append("g", [created("g")], 0)
    errors = []

    def writer(n):
        s = EventStore(path, writer=f"w{n}")
        done = 0
        while done < 20:
            try:
                s.append("g", [ev.LeaseRenewed(engine_id=f"w{n}")], s.version("g"))
                done += 1
            except ConcurrencyError:
                continue
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
                return

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    s = EventStore(path)
    versions = [r.version for r in s.read("g")]
    assert versions == list(range(1, 82))
    assert s.integrity_check() == "ok"


def test_resolve_by_id_prefix_and_name(store):
    store.append("abc123", [created("abc123", "first")], 0)
    store.append("abd456", [created("abd456", "second")], 0)
    store.append("xyz789", [created("xyz789", "first")], 0)
    assert store.resolve("abc123") == "abc123"
    assert store.resolve("first") == "xyz789"  # newest of that name
    assert store.resolve("abd") == "abd456"
    with pytest.raises(GroupNotFound, match="several"):
        store.resolve("ab")
    with pytest.raises(GroupNotFound, match="hpo list"):
        store.resolve("nope")


def test_unknown_event_type_is_a_clear_error(store):
    store.conn.execute(
        "INSERT INTO events (group_id, version, type, schema, payload, ts, writer) "
        "VALUES ('g', 1, 'FromTheFuture', 1, '{}', '2026-01-01T00:00:00+00:00', 'w')"
    )
    with pytest.raises(StoreError, match="FromTheFuture"):
        store.read("g")


def test_raw_sqlite_sees_unique_constraint(tmp_path):
    EventStore(tmp_path / "u.db").append("g", [created("g")], 0)
    conn = sqlite3.connect(tmp_path / "u.db")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO events (group_id, version, type, schema, payload, ts, writer) "
            "VALUES ('g', 1, 'LeaseRenewed', 1, '{}', 't', 'w')"
        )


def test_points_of_a_group_come_from_the_store_without_a_fold(store):
    store.append("g1", [created("g1", "one")], 0)
    store.append("g2", [created("g2", "two")], 0)
    started = ev.EngineStarted(engine_id="e1", host="h", pid=1, lease_seconds=30)
    store.append("g1", [started, ev.LeaseRenewed(engine_id="e1")], 1)
    assert store.first_event("g1").event.name == "one" and store.first_event("nope") is None
    assert store.last_event_at_or_before_seq("g1", 2).seq == 1  # seq 2 is g2's
    assert store.last_event_at_or_before_seq(None, 2).seq == 2
    assert store.last_event_at_or_before_seq("g2", 1) is None
    lease = store.last_event_of_types("g1", ("EngineStarted", "GroupFinished"))
    assert lease.type == "EngineStarted" and lease.event.engine_id == "e1"
    store.append("g1", [ev.GroupFinished(status="succeeded")], 3)
    assert store.last_event_of_types("g1", ["EngineStarted", "GroupFinished"]).type == "GroupFinished"
    assert store.last_event_of_types("g2", ["EngineStarted"]) is None
