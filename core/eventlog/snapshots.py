"""Snapshots of folded group state: a cache that makes large groups fast to open.

A snapshot is a pickled :class:`GroupState` at some group version, kept in the ``snapshots``
table. It is never the truth: loading folds only the events after the snapshot's version, a
snapshot written by another hpo version or format is ignored, and dropping the table (or
``hpo`` deleting a stale row) only costs a full fold. ``test_snapshots`` checks that loading
through a snapshot gives exactly the state of a full fold.
"""

from __future__ import annotations

import gc
import pickle
import sqlite3
from typing import Iterator

import hpo
from hpo.errors import StoreError
from hpo.eventlog.migrations import migrate, pending_migrations
from hpo.eventlog.state import GroupState, pickled_without_curves
from hpo.eventlog.store import EventStore

FORMAT = 7  # 2: GroupState.plan, TrialState.attempt_started_at; 3: GroupState.notices;
# 4: the curves in their own column; 5: TrialState.rejected; 6: TrialState.retries; 7: a group
# stop (not a pause) outlives an engine's crash
EVERY = 20_000  # write a new snapshot once this many events were folded past the last one


def _key() -> str:
    return f"{hpo.__version__}/{FORMAT}"


def read_snapshot(store: EventStore, group_id: str, curves: bool = True) -> GroupState | None:
    """The group's snapshot, or None. Without ``curves`` the metric curves are not even read
    (they are most of a big snapshot): the state's curves then hold only what is folded after
    it, and it is marked ``curves_partial`` so that it is never written back."""
    try:
        row = store.conn.execute(
            f"SELECT format, state{', curves' if curves else ''} FROM snapshots WHERE group_id = ?",
            (group_id,),
        ).fetchone()
    except sqlite3.Error:
        return None
    if row is None or row[0] != _key() or (curves and row[2] is None):
        return None
    enabled = gc.isenabled()
    gc.disable()  # unpickling only allocates: a collection every few hundred objects halved its speed
    try:
        state = pickle.loads(row[1])
        packed = pickle.loads(row[2]) if curves else None
    except Exception:  # a broken cache row is only a cache miss
        return None
    finally:
        if enabled:
            gc.enable()
    if not isinstance(state, GroupState) or (curves and not isinstance(packed, dict)):
        return None
    for trial_id, t in state.trials.items():
        if curves:
            t.__dict__["_packed_curves"] = packed.get(trial_id, {})
        else:
            t.__dict__["curves"] = {}
    state.curves_partial = not curves
    return state


def write_snapshot(store: EventStore, state: GroupState) -> None:
    """Store ``state`` as the group's snapshot; never fails (it is only a cache).

    A read-only view (``hpo status``, ``hpo watch``) refreshes the cache through its own short
    connection that gives up at once when the engine is writing, so it never holds the engine up.
    """
    if state.curves_partial:
        return
    with pickled_without_curves():
        blob = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    curves = pickle.dumps({tid: t.packed_curves() for tid, t in state.trials.items()},
                          protocol=pickle.HIGHEST_PROTOCOL)
    conn, own = store.conn, None
    if getattr(store, "writer", "") == "read-only":
        if not store.path.exists():
            return
        try:
            own = conn = sqlite3.connect(store.path, timeout=0.05, isolation_level=None)
            if pending_migrations(conn):  # a log written by an older hpo: bring the cache up to date
                import sqlite_utils

                migrate(sqlite_utils.Database(conn))
        except sqlite3.Error:
            if own is not None:
                own.close()
            return
    try:
        conn.execute(
            "INSERT INTO snapshots (group_id, version, format, state, curves) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(group_id) DO UPDATE SET version = excluded.version,"
            " format = excluded.format, state = excluded.state, curves = excluded.curves",
            (state.group_id, state.version, _key(), blob, curves),
        )
    except sqlite3.Error:
        pass  # a read-only file or a busy writer: the cache simply is not refreshed
    finally:
        if own is not None:
            own.close()


class _Rows:
    """The rows being folded, holding the last one read, to name an event that cannot be folded."""

    def __init__(self, rows: Iterator[tuple]):
        self.rows, self.last = rows, None

    def __iter__(self) -> Iterator[tuple]:
        for self.last in self.rows:
            yield self.last


def unreadable(group_id: str, row: tuple | None, exc: Exception) -> StoreError:
    """The error for an event the fold cannot read (``row``: an ``events`` row), naming it: its
    payload, type or timestamp was changed outside hpo, which ``hpo verify`` confirms."""
    what = f"seq {row[0]} ({row[3]}, version {row[2]})" if row else "an event"
    why = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
    return StoreError(f"cannot read the log of group {group_id}: {what} is not an event hpo wrote "
                      f"({why}); `hpo verify {group_id}` tells whether it was changed outside hpo")


def load_state(store: EventStore, group_id: str, until_seq: int | None = None,
               cache: bool = True, curves: bool = True) -> GroupState:
    """The group's state, through its snapshot when there is a usable one.

    ``curves=False`` is for views that never read a metric curve (``hpo status``, ``hpo list``):
    a snapshot's curves are then not read (see :func:`read_snapshot`).
    """
    state = read_snapshot(store, group_id, curves) if cache else None
    if state is not None and until_seq is not None and state.last_seq > until_seq:
        state = None  # the snapshot is past the requested point
    if state is None:
        state = GroupState()
    rows = _Rows(store.iter_rows(group_id, after_version=state.version, until_seq=until_seq))
    try:
        folded = state.apply_rows(rows)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # pydantic's errors are ValueErrors
        raise unreadable(group_id, rows.last, exc) from exc
    if cache and until_seq is None and folded >= EVERY:
        write_snapshot(store, state)
    return state
