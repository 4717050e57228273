"""Where every view reads from: the event log, opened read-only, folded up to any point.

Views never write. :class:`ReadOnlyStore` opens the SQLite file with ``mode=ro``, so
``hpo watch`` or ``hpo status`` in a second terminal can never take a write lock that would make
the engine wait (the log is in WAL mode: readers and the writer do not block each other).
``--as-of`` folds only the events up to a global ``seq``, or up to a time (the last event at or
before it).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from hpo.errors import HpoError, StoreError
from hpo.eventlog.migrations import migrate
from hpo.eventlog import snapshots
from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore, default_db_path, parse_ts


class ReadOnlyStore(EventStore):
    """An :class:`EventStore` that can only read. A missing file reads as an empty log."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_db_path()
        self.writer = "read-only"
        try:
            if self.path.exists():
                uri = f"file:{self.path.resolve()}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
                conn.execute("PRAGMA busy_timeout = 30000")
                self._conn, self._db = conn, None
                if not conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'"
                ).fetchone():
                    self._empty()
            else:
                self._empty()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the event log {self.path} read-only: {exc}") from exc

    def _empty(self) -> None:
        self._conn, self._db = sqlite3.connect(":memory:", isolation_level=None), None
        migrate(self.db)

    def append(self, group_id, events, expected_version):  # type: ignore[override]
        raise StoreError("this view opened the event log read-only; it never writes")


class AsOfError(HpoError):
    """``--as-of`` names no point of the group's history."""


def parse_time(text: str) -> float:
    """An ISO date or date-time as a POSIX time; without a zone it is local time."""
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise AsOfError(
            f"--as-of {text!r} is neither an event seq (a whole number, see `hpo events`) "
            "nor an ISO time such as 2024-05-01T14:30:00 or 2024-05-01T12:30:00+00:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # the user's local time
    return moment.timestamp()


def resolve_as_of(store: EventStore, group_id: str, as_of: str | None) -> tuple[int | None, float | None]:
    """``(seq, moment)``: the global ``seq`` to fold up to and the time the view is seen at.

    ``(None, None)`` means everything, seen now. A seq is seen at its event's time. Plain SQL
    on the ``seq``/``ts`` columns: no payload is decoded, whatever the size of the group.
    """
    if as_of is None or as_of.strip() == "":
        return None, None
    first = store.conn.execute(
        "SELECT MIN(seq), MIN(ts) FROM events WHERE group_id = ?", (group_id,)).fetchone()
    if first[0] is None:
        return None, None
    if as_of.strip().isdigit():
        seq = int(as_of)
        if seq < first[0]:
            raise AsOfError(f"--as-of {seq}: the group was created at seq {first[0]}")
        row = store.conn.execute(
            "SELECT seq, ts FROM events WHERE group_id = ? AND seq <= ? ORDER BY seq DESC LIMIT 1",
            (group_id, seq)).fetchone()
        return seq, parse_ts(row[1])
    moment = parse_time(as_of)
    # every ts is written by utcnow() in one format, so the strings order like the times
    stamp = datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="microseconds")
    row = store.conn.execute(
        "SELECT seq FROM events WHERE group_id = ? AND ts <= ? ORDER BY seq DESC LIMIT 1",
        (group_id, stamp)).fetchone()
    if row is None:
        raise AsOfError(f"--as-of {as_of}: the group was created later, at {first[1]}")
    return row[0], moment


@dataclass
class Loaded:
    """A group folded up to a point, and the moment it is seen at (None: now)."""

    state: GroupState
    moment: float | None = None


def load_group(store: EventStore, ref: str, as_of: str | None = None, curves: bool = True) -> Loaded:
    """The group named ``ref`` (id, prefix or name), folded up to ``as_of``.

    ``curves=False``: for views that never draw a metric curve (see ``snapshots.load_state``).
    """
    group_id = store.resolve(ref)
    seq, moment = resolve_as_of(store, group_id, as_of)
    state = snapshots.load_state(store, group_id, until_seq=seq, curves=curves)
    return Loaded(state, moment)


def open_readonly(db: Path | None) -> ReadOnlyStore:
    return ReadOnlyStore(db or default_db_path())
