"""Where every view reads from: the event log, opened read-only, folded up to any point.

Views never write. :class:`ReadOnlyStore` opens the SQLite file with ``mode=ro``, so
``hpo watch`` or ``hpo status`` in a second terminal can never take a write lock that would make
the engine wait (the log is in WAL mode: readers and the writer do not block each other).
``--as-of`` folds only the events up to a global ``seq``, or up to a time (the last event at or
before it), as :mod:`hpo.eventlog.timepoint` reads and resolves it.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from hpo.errors import StoreError
from hpo.eventlog import snapshots, timepoint
from hpo.eventlog.migrations import migrate
from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore, default_db_path
from hpo.eventlog.timepoint import Resolved, TimePoint


class ReadOnlyStore(EventStore):
    """An :class:`EventStore` that can only read. A missing file reads as an empty log."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_db_path()
        self.writer = "read-only"
        try:
            if self.path.exists():
                uri = f"file:{self.path.resolve()}?mode=ro"
                if _unwritable_folder(self.path):
                    # a WAL reader must create the -shm file beside the log; on read-only media
                    # (an archive, a CD, a read-only mount) nothing can change it, so SQLite may
                    # read it as immutable
                    uri += "&immutable=1"
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


def _unwritable_folder(path: Path) -> bool:
    folder = path.resolve().parent
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return True
    except (OSError, AttributeError):
        pass
    return not os.access(folder, os.W_OK) and not path.with_name(path.name + "-shm").exists()


@dataclass
class Loaded:
    """A group folded up to a point, and that point (None: everything, seen now)."""

    state: GroupState
    point: Resolved | None = None

    @property
    def moment(self) -> float | None:
        """The POSIX time the group is seen at (None: now): views measure elapsed time to it."""
        return None if self.point is None else self.point.at.timestamp()


def load_group(store: EventStore, ref: str, as_of: str | TimePoint | None = None,
               curves: bool = True) -> Loaded:
    """The group named ``ref`` (id, prefix or name), folded up to ``as_of``.

    ``as_of`` is the text of ``--as-of`` (blank: everything) or a point already parsed (``hpo
    list`` parses once for every group); see :mod:`hpo.eventlog.timepoint`.
    ``curves=False``: for views that never draw a metric curve (see ``snapshots.load_state``).
    """
    group_id = store.resolve(ref)
    if isinstance(as_of, str):
        as_of = timepoint.parse(as_of, "--as-of") if as_of.strip() else None
    point = None if as_of is None else timepoint.resolve(store, group_id, as_of)
    until_seq = None if point is None else point.seq
    state = snapshots.load_state(store, group_id, until_seq=until_seq, curves=curves)
    return Loaded(state, point)


def open_readonly(db: Path | None) -> ReadOnlyStore:
    return ReadOnlyStore(db or default_db_path())
