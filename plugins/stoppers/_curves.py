"""Reading a metric curve the way every trial-level stopper does.

A curve arrives as ``(step, value)`` pairs in report order. Stoppers read it as a mapping
step -> value: NaN reports are dropped (a NaN is "no value"), a step reported twice keeps the
later report, and the result is sorted by step. On top of that:

- a trial has *reached* step ``t`` when its largest reported step is ``>= t``;
- its *value at step t* is its value at the largest reported step ``<= t``, and exists only
  once the trial has reached ``t`` (so trials that report at different intervals still line up);
- *scores* are ``sign * value`` (see :meth:`MetricSpec.sign`): higher is better for both
  maximize and minimize, so comparisons are written once.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

from hpo.contracts.stopper import Curve


@dataclass(frozen=True)
class Series:
    """One trial's cleaned curve for one metric, with prefix aggregates for fast queries."""

    steps: tuple[int, ...]
    values: tuple[float, ...]
    sign: float
    prefix_sums: tuple[float, ...]  # sum of values[0..i]
    prefix_best: tuple[int, ...]  # index of the best value in values[0..i] (first on ties)

    @property
    def last_step(self) -> int:
        return self.steps[-1]

    def _index(self, t: int) -> int:
        """Index of the last reported step ``<= t``; -1 when there is none."""
        return bisect_right(self.steps, t) - 1

    def reached(self, t: int) -> bool:
        return self.last_step >= t

    def value_at(self, t: int) -> float | None:
        i = self._index(t)
        if i < 0 or not self.reached(t):
            return None
        return self.values[i]

    def score_at(self, t: int) -> float | None:
        value = self.value_at(t)
        return None if value is None else self.sign * value

    def mean_upto(self, t: int) -> float | None:
        """Running average of the values reported at steps ``<= t``."""
        i = self._index(t)
        if i < 0:
            return None
        mean = self.prefix_sums[i] / (i + 1)
        return None if math.isnan(mean) else mean  # +inf and -inf in one curve

    def best_upto(self, t: int) -> float | None:
        """Best value (by the metric's direction) reported at steps ``<= t``."""
        i = self._index(t)
        return None if i < 0 else self.values[self.prefix_best[i]]


def series_of(curve: Curve | None, sign: float) -> Series | None:
    """The cleaned :class:`Series` of a curve, or ``None`` when it has no usable report."""
    if not curve:
        return None
    return _series_cached(tuple(curve), sign)


@lru_cache(maxsize=2048)  # finished trials' curves repeat call after call
def _series_cached(curve: Curve, sign: float) -> Series | None:
    by_step: dict[int, float] = {}
    for step, value in curve:
        if value is None or math.isnan(value):
            continue
        by_step[int(step)] = float(value)
    if not by_step:
        return None
    steps = tuple(sorted(by_step))
    values = tuple(by_step[s] for s in steps)
    sums: list[float] = []
    best: list[int] = []
    total = 0.0
    for i, value in enumerate(values):
        total += value
        sums.append(total)
        if not best or sign * value > sign * values[best[-1]]:
            best.append(i)
        else:
            best.append(best[-1])
    return Series(steps, values, sign, tuple(sums), tuple(best))


def checkpoint(last_step: int, every: int, min_steps: int) -> int | None:
    """The step a trial is judged at: its latest multiple of ``every``, if ``>= min_steps``."""
    step = (last_step // every) * every
    return step if step >= min_steps else None
