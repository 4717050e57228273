"""The matrix as Optuna distributions, and the values going both ways.

- ``values`` of numbers and the other discrete kinds (``range``, ``linspace``, ``logspace``,
  ``geomspace``): an ordinal ``IntDistribution`` over the sorted values' indices, so samplers
  that model order (TPE, GP, CMA-ES) use it; other ``values`` and ``pvalues``: a
  ``CategoricalDistribution`` (``pvalues`` weights are not used by Optuna's samplers);
- ``uniform`` / ``loguniform``: a ``FloatDistribution`` over the value bounds (``log=True``);
- ``quniform`` / ``qloguniform``: an ``IntDistribution`` over the multiples of ``q`` inside the
  bounds (log-scaled when they start at 1 or above), so every suggestion is a multiple of ``q``;
- the unbounded normal family has no Optuna distribution: it is a spec error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from hpo.errors import SpecError
from hpo.spec.matrix_base import tidy_multiple
from hpo.spec.params import Categorical, Param


class NotInSpace(ValueError):
    """A value (from an older matrix, a fork...) that this space cannot represent."""


@dataclass(frozen=True)
class Dimension:
    name: str
    distribution: Any  # an optuna BaseDistribution
    to_optuna: Callable[[Any], Any]
    from_optuna: Callable[[Any], Any]


def dimensions(matrix: dict[str, Param]) -> list[Dimension]:
    return [dimension(name, param) for name, param in matrix.items()]


def dimension(name: str, param: Param) -> Dimension:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    domain = param.domain()
    if param.discrete:
        values = param.values()
        if all(_number(v) for v in values):
            ordered = sorted(set(values))
            return Dimension(name, IntDistribution(0, len(ordered) - 1),
                             lambda v, o=ordered: _index(v, o), lambda i, o=ordered: o[int(i)])
    if isinstance(domain, Categorical):
        choices = list(dict.fromkeys(domain.choices))
        return Dimension(name, CategoricalDistribution(choices), lambda v, c=choices: _choice(v, c),
                         lambda v: v)
    if not domain.bounded:
        raise SpecError(
            f"{name!r} is a {param.kind} distribution, which is unbounded: Optuna samples bounded "
            "ranges; use uniform, loguniform, quniform or qloguniform",
            param.path,
        )
    if domain.q is not None:
        q = domain.q
        kmin, kmax = round(domain.low / q), round(domain.high / q)
        dist = IntDistribution(kmin, kmax, log=domain.log and kmin >= 1)
        return Dimension(name, dist, lambda v, q=q, a=kmin, b=kmax: _multiple(v, q, a, b),
                         lambda k, q=q: tidy_multiple(int(k), q))
    dist = FloatDistribution(float(domain.low), float(domain.high), log=domain.log)
    return Dimension(name, dist, lambda v, d=dist: _within(v, d.low, d.high), float)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _index(value: Any, ordered: list[Any]) -> int:
    if _number(value):
        for i, v in enumerate(ordered):
            if math.isclose(value, v, rel_tol=1e-9, abs_tol=1e-12):
                return i
    raise NotInSpace(f"{value!r} is not one of {ordered!r}")


def _choice(value: Any, choices: list[Any]) -> Any:
    for c in choices:
        if c == value and type(c) is type(value):
            return c
    raise NotInSpace(f"{value!r} is not one of {choices!r}")


def _multiple(value: Any, q: float, kmin: int, kmax: int) -> int:
    if not _number(value):
        raise NotInSpace(f"{value!r} is not a number")
    k = round(value / q)
    if not kmin <= k <= kmax or not math.isclose(k * q, value, rel_tol=1e-9, abs_tol=1e-12):
        raise NotInSpace(f"{value!r} is not a multiple of {q} in range")
    return k


def _within(value: Any, low: float, high: float) -> float:
    if not _number(value) or not low <= value <= high:
        raise NotInSpace(f"{value!r} is outside [{low}, {high}]")
    return float(value)
