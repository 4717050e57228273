"""SIGTERM and SIGHUP pause a group exactly as Ctrl-C does, with the signal as the reason.

A batch system preempting a job sends SIGTERM; closing the terminal sends SIGHUP. Without this
the engine would die on either with no record of why, leaving the next `hpo resume` to find
its trials as if after a crash. Any of the three that comes while the engine appends waits
until the append is folded (:func:`held`).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

PAUSING = {"SIGTERM": "terminated (SIGTERM, e.g. a batch system's preemption)",
           "SIGHUP": "hung up (SIGHUP, e.g. the terminal was closed)"}


class _Hold:
    """How deep the engine is in :func:`held`, and the interrupt that came meanwhile."""

    depth = 0
    pending: KeyboardInterrupt | None = None


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
    """While inside, SIGTERM and SIGHUP raise :class:`SignalInterrupt` and Ctrl-C
    :class:`KeyboardInterrupt` (as Python's own handler does, which is left alone where it was
    replaced); with ``pausing`` (the pause under way) SIGTERM and SIGHUP are ignored, so a second
    signal cannot cut the pause short, and a second Ctrl-C leaves at once. Inside :func:`held`
    the interrupt waits. Main thread only: Python delivers signals there; an engine in another
    thread leaves them alone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def handler(signum, frame):
        if signum == signal.SIGINT:
            interrupt: KeyboardInterrupt = KeyboardInterrupt()  # a second Ctrl-C leaves a pause at once
        elif pausing:
            return
        else:
            interrupt = SignalInterrupt(signal.Signals(signum).name)
        if _Hold.depth:
            _Hold.pending = _Hold.pending or interrupt
            return
        raise interrupt

    for name in ("SIGINT", *PAUSING):
        sig = getattr(signal, name, None)
        if sig == signal.SIGINT and signal.getsignal(sig) is not signal.default_int_handler:
            continue  # Ctrl-C ignored (a background job) or handled by the caller: left so
        if sig is not None:
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def held() -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP while inside (where :func:`pause_on_signals` handles
    them); one that came meanwhile is raised on leaving. For the engine's append and its fold: an
    interrupt between the commit and the fold would leave the engine's state behind its own log,
    and the pause that follows would take the engine's own last write for another process's."""
    _Hold.depth += 1
    try:
        yield
    finally:
        _Hold.depth -= 1
        if not _Hold.depth and _Hold.pending is not None:
            interrupt, _Hold.pending = _Hold.pending, None
            raise interrupt
