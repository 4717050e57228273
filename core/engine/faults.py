"""Fault injection for the crash-recovery tests, and the only module that knows about it.

``HPO_FAULT=point:n`` kills the engine with SIGKILL the n-th time it passes ``point``
(``collected``: right after a batch of runner messages was written; ``suggested``: after a
suggestion was logged; ``started``: after a runner started an attempt, before it was logged).
Without the variable a fault point costs one string comparison.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "HPO_FAULT"  # "point:n" kills the engine (SIGKILL) at the n-th `point`


class Faults:
    """The engine's fault points; off unless ``HPO_FAULT`` is set when the engine is built."""

    def __init__(self) -> None:
        point, _, n = os.environ.get(FAULT_ENV, "").partition(":")
        self.point, self.left = point, int(n or 1)

    def hit(self, point: str) -> None:
        """Die here if this is the chosen point and its count is reached (no cleanup, on purpose)."""
        if point == self.point:
            self.left -= 1
            if self.left == 0:
                os.kill(os.getpid(), signal.SIGKILL)
