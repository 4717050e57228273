"""The group's lease: taken when an engine starts, renewed while it ticks, lost to a takeover.

Only the engine that holds a group's lease decides for it. Taking the lease is writing
``EngineStarted``; a second engine refuses while the holder is alive (``engine_alive``: its lease
is fresh, or its process still runs on this host) and takes over once it is not. The engine
that was taken over learns it on its next sync and stops with :class:`LeaseLost`.
"""

from __future__ import annotations

import os
import socket
import time
from typing import TYPE_CHECKING

from hpo.engine.environment import environment
from hpo.errors import HpoError, LeaseHeld
from hpo.eventlog import events as ev
from hpo.runkit.procs import engine_alive

if TYPE_CHECKING:
    from hpo.engine.loop import Engine


class LeaseLost(HpoError):
    """Another engine took the group over (our lease had expired)."""


class Lease:
    """One engine's hold on its group."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.renewed = 0.0  # monotonic time of the last EngineStarted/LeaseRenewed; 0: not taken

    def take(self, mode: str, plan: dict | None) -> None:
        """Write ``EngineStarted``; raises :class:`~hpo.errors.LeaseHeld` while another engine lives."""
        eng, took_over = self.engine, self._expired_holder()
        eng.append([ev.EngineStarted(
            engine_id=eng.engine_id, host=socket.gethostname(), pid=os.getpid(),
            lease_seconds=eng.lease_seconds, mode="resume" if mode == "resume" else "run",
            took_over_from=took_over, concurrency=eng.concurrency, plan=plan,
            environment=environment(eng.spec, eng.registry),
        )])
        self.renewed = time.monotonic()

    def _expired_holder(self) -> str | None:
        """The engine whose lease we take over (None if no engine held it)."""
        holder = self.engine.state.engine
        if holder is None:
            return None
        if engine_alive(holder, time.time()):
            raise LeaseHeld(
                f"group {self.engine.group_id} is being driven by engine {holder['engine_id']} "
                f"(pid {holder['pid']} on {holder['host']}); its lease is alive. Use `hpo stop` "
                "to stop it, or wait for its lease to expire if it is stuck."
            )
        return holder["engine_id"]

    def renew(self) -> None:
        """Tell other processes we are alive, every third of the lease (often enough to never lapse)."""
        if time.monotonic() - self.renewed >= self.engine.lease_seconds / 3:
            self.engine.append([ev.LeaseRenewed(engine_id=self.engine.engine_id)])
            self.renewed = time.monotonic()

    def lapsed(self) -> bool:
        """Whether this engine's lease has expired: its last renewal in the log (the API's
        heartbeat thread renews it too) or in this process is older than the lease."""
        holder = self.engine.state.engine or {}
        seen_at = holder.get("seen_at") if holder.get("engine_id") == self.engine.engine_id else None
        late = self.engine.lease_seconds
        return (time.monotonic() - self.renewed >= late
                or (seen_at is not None and time.time() - seen_at >= late))

    def check(self) -> None:
        """Raise :class:`LeaseLost` if the log says another engine holds the group now."""
        holder = self.engine.state.engine
        if self.renewed and (holder is None or holder["engine_id"] != self.engine.engine_id):
            raise LeaseLost(
                f"group {self.engine.group_id} was taken over by engine {holder and holder['engine_id']}"
            )
