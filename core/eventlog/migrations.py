"""Schema migrations, applied in order and recorded in ``_hpo_migrations``.

Only ever append to :data:`MIGRATIONS`; a test migrates a blank database and asserts the exact
schema, so an accidental change shows up as a failing test.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    import sqlite_utils


def _m001_events(db: "sqlite_utils.Database") -> None:
    db["events"].create(
        {
            "seq": int,
            "group_id": str,
            "version": int,
            "type": str,
            "schema": int,
            "payload": str,
            "ts": str,
            "writer": str,
        },
        pk="seq",
        not_null={"group_id", "version", "type", "schema", "payload", "ts", "writer"},
    )
    db["events"].create_index(["group_id", "version"], unique=True, index_name="events_group_version")
    db["events"].create_index(["type"], index_name="events_type")


def _m002_snapshots(db: "sqlite_utils.Database") -> None:
    """A cache of folded state (see hpo.eventlog.snapshots); dropping it loses nothing."""
    db["snapshots"].create(
        {"group_id": str, "version": int, "format": str, "state": bytes},
        pk="group_id",
        not_null={"version", "format", "state"},
    )


def _m003_snapshot_curves(db: "sqlite_utils.Database") -> None:
    """Snapshots keep the metric curves apart, so views that never read one skip them."""
    db["snapshots"].add_column("curves", bytes)


def _m004_chain(db: "sqlite_utils.Database") -> None:
    """The hash chain (see hpo.eventlog.chain): a ``hash`` column, and the events already in the
    log chained once, in each group's order, with a row in ``chain_migrated`` saying up to which
    event the chain was computed after the fact rather than when the event was written."""
    from hpo.eventlog.chain import GENESIS, link

    db["events"].add_column("hash", bytes)
    db["chain_migrated"].create(
        {"group_id": str, "through_seq": int, "through_version": int, "chained_at": str},
        pk="group_id",
        not_null={"through_seq", "through_version", "chained_at"},
    )
    conn, now = db.conn, datetime.now(timezone.utc).isoformat()
    groups = conn.execute(
        "SELECT group_id, MIN(seq) FROM events GROUP BY group_id ORDER BY MIN(seq)"
    ).fetchall()
    for group_id, _ in groups:  # oldest first: a fork's origin is chained before the fork
        origin = conn.execute(
            "SELECT json_extract(payload, '$.origin.group'), json_extract(payload, '$.origin.at_seq')"
            " FROM events WHERE group_id = ? AND version = 1"
            " AND json_extract(payload, '$.origin.kind') = 'fork'", (group_id,)
        ).fetchone()
        prev = GENESIS
        if origin is not None:
            found = conn.execute(
                "SELECT hash FROM events WHERE group_id = ? AND seq <= ? ORDER BY version DESC LIMIT 1",
                origin,
            ).fetchone()
            prev = found[0] if found and found[0] else GENESIS
        seq = version = 0
        while True:  # in slices: a group of a million events never sits in memory at once
            rows = conn.execute(
                "SELECT seq, version, type, schema, payload, ts FROM events"
                " WHERE group_id = ? AND version > ? ORDER BY version LIMIT 5000", (group_id, version)
            ).fetchall()
            if not rows:
                break
            hashes = []
            for seq, version, type_, schema, payload, ts in rows:
                prev = link(prev, version, type_, schema, ts, payload)
                hashes.append((prev, seq))
            conn.executemany("UPDATE events SET hash = ? WHERE seq = ?", hashes)
        db["chain_migrated"].insert(
            {"group_id": group_id, "through_seq": seq, "through_version": version, "chained_at": now}
        )


MIGRATIONS: list[tuple[str, Callable[["sqlite_utils.Database"], None]]] = [
    ("001_events", _m001_events),
    ("002_snapshots", _m002_snapshots),
    ("003_snapshot_curves", _m003_snapshot_curves),
    ("004_chain", _m004_chain),
]


def pending_migrations(conn: sqlite3.Connection) -> list[str]:
    """Names of the migrations not applied yet (cheap: no sqlite-utils needed)."""
    try:
        done = {row[0] for row in conn.execute("SELECT name FROM _hpo_migrations")}
    except sqlite3.OperationalError:
        done = set()
    return [name for name, _ in MIGRATIONS if name not in done]


def migrate(db: "sqlite_utils.Database") -> list[str]:
    """Apply every migration not yet applied; return the names applied now."""
    applied_now: list[str] = []
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        if "_hpo_migrations" not in db.table_names():
            db["_hpo_migrations"].create({"name": str, "applied_at": str}, pk="name")
        done = {row["name"] for row in db["_hpo_migrations"].rows}
        for name, fn in MIGRATIONS:
            if name in done:
                continue
            fn(db)
            db["_hpo_migrations"].insert(
                {"name": name, "applied_at": datetime.now(timezone.utc).isoformat()}
            )
            applied_now.append(name)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return applied_now
