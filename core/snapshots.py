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

import hpo
from hpo.state import GroupState
from hpo.store import EventStore

FORMAT = 3  # 2: GroupState.plan, TrialState.attempt_started_at; 3: GroupState.notices
EVERY = 20_000  # write a new snapshot once this many events were folded past the last one


def _key() -> str:
    return f"{hpo.__version__}/{FORMAT}"


def read_snapshot(store: EventStore, group_id: str) -> GroupState | None:
    try:
        row = store.conn.execute(
            "SELECT format, state FROM snapshots WHERE group_id = ?", (group_id,)
        ).fetchone()
    except sqlite3.Error:
        return None
    if row is None or row[0] != _key():
        return None
    enabled = gc.isenabled()
    gc.disable()  # unpickling only allocates: a collection every few hundred objects halved its speed
    try:
        state = pickle.loads(row[1])
    except Exception:  # a broken cache row is only a cache miss
        return None
    finally:
        if enabled:
            gc.enable()
    return state if isinstance(state, GroupState) else None


def write_snapshot(store: EventStore, state: GroupState) -> None:
    """Store ``state`` as the group's snapshot; never fails (it is only a cache).

    A read-only view (``hpo status``, ``hpo watch``) refreshes the cache through its own short
    connection that gives up at once when the engine is writing, so it never holds the engine up.
    """
    blob = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    conn, own = store.conn, None
    if getattr(store, "writer", "") == "read-only":
        if not store.path.exists():
            return
        try:
            own = conn = sqlite3.connect(store.path, timeout=0.05, isolation_level=None)
        except sqlite3.Error:
            return
    try:
        conn.execute(
            "INSERT INTO snapshots (group_id, version, format, state) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(group_id) DO UPDATE SET version = excluded.version,"
            " format = excluded.format, state = excluded.state",
            (state.group_id, state.version, _key(), blob),
        )
    except sqlite3.Error:
        pass  # a read-only file or a busy writer: the cache simply is not refreshed
    finally:
        if own is not None:
            own.close()


def load_state(store: EventStore, group_id: str, until_seq: int | None = None,
               cache: bool = True) -> GroupState:
    """The group's state, through its snapshot when there is a usable one."""
    state = read_snapshot(store, group_id) if cache else None
    if state is not None and until_seq is not None and state.last_seq > until_seq:
        state = None  # the snapshot is past the requested point
    if state is None:
        state = GroupState()
    folded = state.apply_rows(store.iter_rows(group_id, after_version=state.version, until_seq=until_seq))
    if cache and until_seq is None and folded >= EVERY:
        write_snapshot(store, state)
    return state
