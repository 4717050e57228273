"""SIGTERM and SIGHUP pause a group exactly as Ctrl-C does, with the signal as the reason.

A batch system preempting a job sends SIGTERM; closing the terminal sends SIGHUP. Without this
the engine would die on either with no record of why, leaving the next `hpo resume` to find
its trials as if after a crash.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

PAUSING = {"SIGTERM": "terminated (SIGTERM, e.g. a batch system's preemption)",
           "SIGHUP": "hung up (SIGHUP, e.g. the terminal was closed)"}


class SignalInterrupt(KeyboardInterrupt):
    """Raised in the engine's thread by a pausing signal; handled like Ctrl-C."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name

    @property
    def reason(self) -> str:
        return f"interrupted: {PAUSING[self.name]}"


@contextmanager
def pause_on_signals(pausing: bool = False) -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP raise :class:`SignalInterrupt`; with ``pausing`` (the
    pause under way) they are ignored, so a second signal cannot cut the pause short. Main
    thread only: Python delivers signals there; an engine in another thread leaves them alone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def handler(signum, frame):
        if not pausing:
            raise SignalInterrupt(signal.Signals(signum).name)

    for name in PAUSING:
        sig = getattr(signal, name, None)
        if sig is not None:
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
