"""Follow a group's log from another process, read-only: what ``hpo watch`` runs.

Polls ``store.read(group_id, after_version=...)`` and folds each new event into its own
:class:`GroupState`, exactly as the engine does, and hands every event to a view. It never
writes and never holds a transaction open, so it cannot slow the engine down.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from hpo.runkit.procs import engine_alive
from hpo.eventlog import snapshots
from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore, Stored

FINISHED = ("succeeded", "failed", "stopped")


@dataclass
class FollowResult:
    state: GroupState
    ended: str  # "finished" | "engine gone" | "timeout"


def follow(
    store: EventStore,
    group_id: str,
    on_event: Callable[[Stored, GroupState], None],
    *,
    on_start: Callable[[GroupState], None] | None = None,
    on_idle: Callable[[GroupState], None] | None = None,
    interval: float = 0.5,
    grace: float = 5.0,
    timeout: float | None = None,
) -> FollowResult:
    """Fold the group and follow it until it finishes.

    ``on_start`` sees the state folded so far; ``on_event`` each new event after that;
    ``on_idle`` the state after each poll that found nothing. Ends when the group finishes, when
    its engine has lost its lease for ``grace`` seconds (the engine died: `hpo resume` is
    needed), or after ``timeout`` seconds.
    """
    state = snapshots.load_state(store, group_id)
    if on_start is not None:
        on_start(state)
    started, gone_since = time.monotonic(), None
    while state.status not in FINISHED:
        new = store.read(group_id, after_version=state.version)
        for s in new:
            state.apply(s)
            on_event(s, state)
        if state.status in FINISHED:
            break
        if not new and on_idle is not None:
            on_idle(state)
        if state.status == "running" and not (state.engine and engine_alive(state.engine, time.time())):
            gone_since = gone_since or time.monotonic()
            if time.monotonic() - gone_since >= grace:
                return FollowResult(state, "engine gone")
        else:
            gone_since = None
        if timeout is not None and time.monotonic() - started >= timeout:
            return FollowResult(state, "timeout")
        time.sleep(interval)
    return FollowResult(state, "finished")
