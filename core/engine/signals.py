"""SIGTERM and SIGHUP pause a group exactly as Ctrl-C does, with the signal as the reason.

A batch system preempting a job sends SIGTERM; closing the terminal sends SIGHUP. Without this
the engine would die on either with no record of why, leaving the next `hpo resume` to find
its trials as if after a crash.

A signal never cuts a write to the log in half: between the store's commit and the engine's
own record of what it wrote (its state and the head of the chain it keeps), a pausing signal or
Ctrl-C waits (:func:`critical`) and is raised as soon as the write is whole. Raised in the
middle, the pause would find the engine's own events unaccounted for and take them for a
foreign write.
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


class _Gate:
    """How deep the engine is in writes that must not be cut, and the interrupt held meanwhile."""

    depth = 0
    pending: KeyboardInterrupt | None = None


_gate = _Gate()


@contextmanager
def critical() -> Iterator[None]:
    """Hold Ctrl-C and the pausing signals until the block is done, then raise the first one
    that came. Only where :func:`pause_on_signals` installed its handlers; elsewhere (an engine
    in another thread, a library caller) it changes nothing."""
    _gate.depth += 1
    try:
        yield
    finally:
        _gate.depth -= 1
    if _gate.depth == 0 and _gate.pending is not None:
        held, _gate.pending = _gate.pending, None
        raise held


def _interrupt(exc: KeyboardInterrupt) -> None:
    if _gate.depth > 0:
        if _gate.pending is None:
            _gate.pending = exc
        return
    raise exc


@contextmanager
def pause_on_signals(pausing: bool = False) -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP raise :class:`SignalInterrupt` and Ctrl-C raises
    KeyboardInterrupt, each held back while a write is :func:`critical`; with ``pausing`` (the
    pause under way) SIGTERM and SIGHUP are ignored, so a second one cannot cut the pause short,
    and Ctrl-C keeps Python's own behaviour. Main thread only: Python delivers signals there; an
    engine in another thread leaves them alone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def handler(signum, frame):
        if pausing:
            return
        if signum == signal.SIGINT:
            _interrupt(KeyboardInterrupt())
        else:
            _interrupt(SignalInterrupt(signal.Signals(signum).name))

    names = list(PAUSING) + ([] if pausing else ["SIGINT"])
    for name in names:
        sig = getattr(signal, name, None)
        if sig is not None:
            previous[sig] = signal.signal(sig, handler)
    _gate.pending = None
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        _gate.pending = None
