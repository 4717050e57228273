"""A runner that cannot reach its backend holds the trials back instead of failing them.

When a runner's ``start`` raises :class:`~hpo.runkit.machines.BackendUnreachable` (no Dask
scheduler, no docker daemon, every SSH host down), no trial could start anywhere: failing them
one by one would burn the whole budget on one typo in a scheduler address. The engine records a
``RunnerNoticed`` once, keeps the trials pending and tries again after a growing pause (1 s, then
doubling up to 30 s, so an unreachable backend does not stall every tick); once the backend has
been unreachable for ``run.backend_wait`` seconds (5 minutes by default) it pauses the group with
that reason, to be resumed when the backend is back. A start that succeeds ends the wait, and
says so.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from hpo.eventlog import events as ev

if TYPE_CHECKING:
    from hpo.engine.loop import Engine

FIRST_DELAY, MAX_DELAY = 1.0, 30.0  # seconds between two tries while the backend is unreachable


class Backend:
    """Whether the runner's backend is reachable, as the launches found it."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.down_since: float | None = None  # monotonic time of the first failed start
        self.retry_at = 0.0
        self.delay = FIRST_DELAY
        self.expired: str | None = None  # why the group must pause: the wait lasted too long

    def ready(self) -> bool:
        """Whether a launch may be tried now (always, unless the backend was found unreachable
        and its next try is not due)."""
        return self.down_since is None or time.monotonic() >= self.retry_at

    def unreachable(self, reason: str) -> None:
        """A start found the backend unreachable: say so once, wait, and pause the group once
        the wait has lasted ``run.backend_wait`` seconds."""
        eng, now = self.engine, time.monotonic()
        wait = eng.spec.run.backend_wait
        if self.down_since is None:
            self.down_since, self.delay = now, FIRST_DELAY
            eng.append([ev.RunnerNoticed(
                runner=eng.runner.name,
                message=(f"cannot reach its backend: {reason}. Trials wait (at most {wait:g}s, "
                         "run.backend_wait), then the group pauses"),
                details={"backend": "unreachable", "backend_wait": wait})])
        else:
            self.delay = min(self.delay * 2, MAX_DELAY)
        self.retry_at = now + self.delay
        if now - self.down_since >= wait:  # the engine pauses the group before its next tick
            self.expired = f"the {eng.runner.name} runner could not reach its backend for {wait:g}s: {reason}"

    def pause_if_expired(self) -> bool:
        """Pause the group if the backend stayed unreachable past ``run.backend_wait``."""
        if self.expired is None:
            return False
        self.engine.stops.pause(self.expired, requested_by="engine", policy="engine",
                                evidence={"backend_wait": self.engine.spec.run.backend_wait})
        return True

    def reached(self) -> None:
        """A start succeeded: the wait is over."""
        if self.down_since is None:
            return
        waited = time.monotonic() - self.down_since
        self.down_since, self.delay = None, FIRST_DELAY
        eng = self.engine
        eng.append([ev.RunnerNoticed(runner=eng.runner.name,
                                     message=f"reached its backend again after {waited:.0f}s",
                                     details={"backend": "reachable"})])
