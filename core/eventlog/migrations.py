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


MIGRATIONS: list[tuple[str, Callable[["sqlite_utils.Database"], None]]] = [
    ("001_events", _m001_events),
    ("002_snapshots", _m002_snapshots),
    ("003_snapshot_curves", _m003_snapshot_curves),
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
