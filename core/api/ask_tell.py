"""How the ask/tell API drives a group: the real engine, with the caller as its runner.

:class:`ApiRunner` hands each launched trial to the Python code that called ``group.ask()`` and
turns ``trial.report()`` and ``group.tell()`` into the reports and exits any runner returns, so
the engine stays the only decision-maker (stoppers, leases, observers) and writes every event.
Its capacity is what the caller asked for, so a suggestion is only made for an ``ask()``.

:class:`Heartbeat` renews the engine's lease from a thread while the caller computes between two
calls, so ``hpo status`` shows the group as driven and a second engine refuses to take it over.
"""

from __future__ import annotations

import os
import socket
import threading
from collections import deque

from hpo.eventlog import events as ev
from hpo.errors import ConcurrencyError, HpoError
from hpo.contracts.runner import EmptyConfig, Exited, Launch, Message, Reported, Runner
from hpo.eventlog.store import EventStore


class ApiRunner(Runner):
    """Trials run in the caller's code: ``ask()`` takes them, ``report()``/``tell()`` answer."""

    name = "api"

    def __init__(self) -> None:
        super().__init__(EmptyConfig())
        self.asking = 0  # asks waiting for a launch
        self.live: dict[tuple[int, int], Launch] = {}
        self.handed: deque[Launch] = deque()  # launched, not yet returned by ask()
        self.stopped: dict[tuple[int, int], str] = {}
        self._inbox: list[Message] = []

    def capacity(self) -> int:
        return len(self.live) + self.asking

    def start(self, launch: Launch) -> dict:
        self.asking = max(0, self.asking - 1)
        self.live[launch.key] = launch
        self.handed.append(launch)
        return {"api": f"{socket.gethostname()}:{os.getpid()}"}

    def report(self, key: tuple[int, int], step: int | None, metrics: dict) -> None:
        if key in self.live and key not in self.stopped:
            self._inbox.append(Reported(key[0], key[1], step, metrics, 0))

    def finish(self, key: tuple[int, int], status: str, reason: str, output_tail: str = "") -> None:
        if key not in self.live or key in self.stopped:
            return
        self._inbox.append(Exited(key[0], key[1], status, reason=reason, output_tail=output_tail))

    def poll(self) -> list[Message]:
        out, self._inbox = self._inbox, []
        for m in out:
            if isinstance(m, Exited):
                self.live.pop((m.trial_id, m.attempt), None)
        return out

    def stop(self, trial_id: int, attempt: int, reason: str) -> None:
        key = (trial_id, attempt)
        told = any(isinstance(m, Exited) and (m.trial_id, m.attempt) == key for m in self._inbox)
        if key in self.live and key not in self.stopped and not told:
            self._inbox.append(Exited(trial_id, attempt, "stopped", reason=reason))
            self.stopped[key] = reason

    def running(self) -> list[tuple[int, int]]:
        return list(self.live)

    def close(self, stop_running: bool) -> None:
        self.live.clear()
        self.handed.clear()


class Heartbeat(threading.Thread):
    """Appends ``LeaseRenewed`` every ``interval`` seconds while ``engine_id`` holds the lease."""

    def __init__(self, db: str, group_id: str, engine_id: str, interval: float):
        super().__init__(name=f"hpo-lease-{group_id}", daemon=True)
        self.db, self.group_id, self.engine_id, self.interval = db, group_id, engine_id, interval
        self.done = threading.Event()

    def run(self) -> None:
        store = EventStore(self.db)
        try:
            while not self.done.wait(self.interval):
                if not self._renew(store):
                    return
        except HpoError:
            return  # the engine's own renewals, on its next call, say what went wrong
        finally:
            store.close()

    def _renew(self, store: EventStore) -> bool:
        while not self.done.is_set():
            last = store.last_event_of_types(self.group_id, ("EngineStarted", "GroupFinished"))
            if last is None or last.type != "EngineStarted" or last.event.engine_id != self.engine_id:
                return False  # the group finished, or another engine took it over
            try:
                store.append(self.group_id, [ev.LeaseRenewed(engine_id=self.engine_id)],
                             store.version(self.group_id))
                return True
            except ConcurrencyError:
                continue
        return False
