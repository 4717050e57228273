"""The five discrete kinds: ``values``, ``range``, ``linspace``, ``logspace``, ``geomspace``.

Expansions are numpy's (``range`` is ``numpy.arange``, stop excluded), their floats rounded to
15 significant digits in groups created since rounding came (see
:class:`~hpo.spec.matrix_base.DiscreteParam`); the expanded values are Python scalars. ``range`` keeps ints when all its arguments are ints; the three
``*space`` kinds always give floats, as numpy does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hpo.errors import SpecError
from hpo.spec.matrix_base import MAX_VALUES, DiscreteParam, is_number
from hpo.spec.params import Categorical, Numeric

SCALAR_TYPES = (str, int, float, bool)


def numeric_domain(values: list[Any], log: bool = False) -> Numeric:
    grid = tuple(sorted(values))
    integer = all(isinstance(v, int) for v in values)
    return Numeric(low=grid[0], high=grid[-1], log=log, integer=integer, grid=grid)


class Values(DiscreteParam):
    """An explicit list of scalars (strings, numbers, booleans)."""

    kind = "values"
    ARGS = ("values",)
    REQUIRED = 1

    @classmethod
    def read_args(cls, raw: Any, path: str) -> dict[str, Any]:
        if not isinstance(raw, list):
            raise SpecError(f"expected a list of values like [a, b, c], got {raw!r}", path)
        return {"values": raw}

    @classmethod
    def form_hint(cls) -> str:
        return "expected a non-empty list of values like [a, b, c]"

    def check(self) -> None:
        items = self.args["values"]
        if not isinstance(items, list) or not items:
            raise self.fail(f"{self.form_hint()}, got {items!r}")
        for i, item in enumerate(items):
            if not isinstance(item, SCALAR_TYPES):
                raise self.fail(
                    f"item {i} is {item!r} ({type(item).__name__}); values must be strings, "
                    "numbers or booleans (quote it to make it a string)"
                )
            if isinstance(item, float) and not math.isfinite(item):
                raise self.fail(f"item {i} is {item!r}; numbers must be finite")

    def expand(self) -> list[Any]:
        return list(self.args["values"])

    def domain(self) -> Categorical | Numeric:
        values = self._values
        if all(is_number(v) for v in values):
            return numeric_domain(values)
        return Categorical(tuple(values))


class Range(DiscreteParam):
    """``numpy.arange(start, stop, step)``: stop excluded, step defaults to 1."""

    kind = "range"
    ROUNDS = True  # float steps only: a range of ints stays ints
    ARGS = ("start", "stop", "step")
    REQUIRED = 2
    NOTE = "step non-zero"

    def check(self) -> None:
        start, stop = self.number("start"), self.number("stop")
        step = self.number("step", nonzero=True) if "step" in self.args else 1
        n = math.ceil((stop - start) / step)
        if n > MAX_VALUES:
            raise self.fail(f"range {self.describe_args()} has {n} values (more than {MAX_VALUES})")

    def expand(self) -> list[Any]:
        a = self.args
        return np.arange(a["start"], a["stop"], a.get("step", 1)).tolist()

    def domain(self) -> Numeric:
        return numeric_domain(self._values)


class Linspace(DiscreteParam):
    """``numpy.linspace(start, stop, num)``: both ends included."""

    kind = "linspace"
    ROUNDS = True
    ARGS = ("start", "stop", "num")
    REQUIRED = 3
    NOTE = "num a positive integer"

    def check(self) -> None:
        self.number("start"), self.number("stop"), self.count("num")

    def expand(self) -> list[Any]:
        a = self.args
        return np.linspace(a["start"], a["stop"], a["num"]).tolist()

    def domain(self) -> Numeric:
        return numeric_domain(self._values)


class Logspace(DiscreteParam):
    """``numpy.logspace(start, stop, num, base=10)``: start and stop are *exponents* of base."""

    kind = "logspace"
    ROUNDS = True
    ARGS = ("start", "stop", "num", "base")
    REQUIRED = 3
    NOTE = "num a positive integer and base > 0 (start/stop are exponents of base, default 10)"

    def check(self) -> None:
        self.number("start"), self.number("stop"), self.count("num")
        if "base" in self.args:
            self.number("base", positive=True)
        with np.errstate(over="ignore"):
            values = self.expand()
        if not all(math.isfinite(v) for v in values):
            raise self.fail(
                f"logspace {self.describe_args()} overflows (values are base**exponent)"
            )

    def expand(self) -> list[Any]:
        a = self.args
        return np.logspace(a["start"], a["stop"], a["num"], base=a.get("base", 10.0)).tolist()

    def domain(self) -> Numeric:
        return numeric_domain(self._values, log=True)


class Geomspace(DiscreteParam):
    """``numpy.geomspace(start, stop, num)``: a geometric progression, both ends included."""

    kind = "geomspace"
    ROUNDS = True
    ARGS = ("start", "stop", "num")
    REQUIRED = 3
    NOTE = "num a positive integer, start and stop non-zero and of the same sign"

    def check(self) -> None:
        start = self.number("start", nonzero=True)
        stop = self.number("stop", nonzero=True)
        self.count("num")
        if (start > 0) != (stop > 0):
            raise self.fail(f"start and stop must have the same sign, got {start!r} and {stop!r}")

    def expand(self) -> list[Any]:
        a = self.args
        return np.geomspace(a["start"], a["stop"], a["num"]).tolist()

    def domain(self) -> Numeric:
        return numeric_domain(self._values, log=self._values[0] > 0)


DISCRETE_KINDS = (Values, Range, Linspace, Logspace, Geomspace)
