"""Fault injection for the crash-recovery tests, and the only module that knows about it.

``HPO_FAULT`` kills the engine with SIGKILL (no cleanup, on purpose) at a chosen point:

- ``before:TYPE:n`` / ``after:TYPE:n``: right before / right after the n-th append that holds an
  event of type ``TYPE`` (any type of :mod:`hpo.eventlog.events`; ``after`` is right after the
  commit, before the engine folds or acts on what it wrote). Every append of the engine passes
  :meth:`Faults.before_append` and :meth:`Faults.after_append`, and so does ``GroupCreated``.
- ``point:n``: the n-th time the engine passes ``point`` (``collected``: right after a batch of
  runner messages was written; ``suggested``: after a suggestion was logged; ``started``: after a
  runner started an attempt, before it was logged).

``n`` defaults to 1. Without the variable a fault point costs a method call and one comparison;
a value that names no point is an error, so a misspelt fault never passes as one that did not
fire.
"""

from __future__ import annotations

import os
import signal
from typing import Sequence

from hpo.errors import HpoError
from hpo.eventlog import events as ev

FAULT_ENV = "HPO_FAULT"  # "point:n", "before:TYPE:n" or "after:TYPE:n"
POINTS = ("collected", "suggested", "started")
APPENDS = ("before", "after")


class Faults:
    """The engine's fault points; off unless ``HPO_FAULT`` is set when the engine is built."""

    def __init__(self) -> None:
        self.point, self.event_type, self.left = _parse(os.environ.get(FAULT_ENV, ""))

    def hit(self, point: str) -> None:
        """Die here if this is the chosen point and its count is reached."""
        if point == self.point:
            self._count()

    def before_append(self, events: Sequence[ev.Event]) -> None:
        """Called with what is about to be appended, before the transaction begins."""
        if self.point == "before":
            self._count_if_holds(events)

    def after_append(self, events: Sequence[ev.Event]) -> None:
        """Called with what was just appended, right after the transaction committed."""
        if self.point == "after":
            self._count_if_holds(events)

    def _count_if_holds(self, events: Sequence[ev.Event]) -> None:
        if any(e.type == self.event_type for e in events):
            self._count()

    def _count(self) -> None:
        self.left -= 1
        if self.left == 0:
            os.kill(os.getpid(), signal.SIGKILL)


def _parse(value: str) -> tuple[str, str | None, int]:
    """``(point, event type or None, n)`` from the variable's value; ``("", None, 0)`` when off."""
    if not value:
        return "", None, 0
    parts = value.split(":")
    point, event_type = parts[0], None
    if point in APPENDS and len(parts) in (2, 3):
        event_type, count = parts[1], parts[2:]
        if event_type not in ev.EVENT_TYPES:
            raise _bad(value, f"{event_type!r} is not an event type (one of {', '.join(ev.EVENT_TYPES)})")
    elif point in POINTS and len(parts) in (1, 2):
        count = parts[1:]
    else:
        raise _bad(value, "no such fault point")
    n = count[0] if count else "1"
    if not n.isdigit() or int(n) < 1:
        raise _bad(value, f"the count {n!r} is not a whole number >= 1")
    return point, event_type, int(n)


def _bad(value: str, why: str) -> HpoError:
    return HpoError(
        f"{FAULT_ENV}={value}: {why}. Expected before:TYPE:N or after:TYPE:N (TYPE an event "
        f"type, e.g. TrialFinished) or POINT:N with POINT one of {', '.join(POINTS)}; N >= 1."
    )
