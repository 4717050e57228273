"""Shared machinery of the matrix kinds: reading the three argument forms, equality, JSON.

Every kind has positional argument names (``ARGS``, the mapping-form keys too) of which the first
``REQUIRED`` must be given. A kind's arguments can be written as a list (``[1, 10, 2]``), as an
``a:b:c`` string (``'1:10:2'``) or as a mapping (``{start: 1, stop: 10, step: 2}``); all three
become the same normalised ``args`` dict, which is what ``to_json`` stores and ``from_json`` reads.
"""

from __future__ import annotations

from abc import abstractmethod

import bisect
import math
from decimal import Decimal
from typing import Any, ClassVar

import numpy as np

from hpo.errors import SpecError
from hpo.spec.params import Param

MAX_VALUES = 1_000_000  # a discrete kind may not expand to more values than this
DIGITS = 15  # significant digits of the float expansions in groups created from now on


def round_significant(x: Any, digits: int) -> Any:
    """``9.999999999999999e-06`` -> ``1e-05`` for 15 digits; ints and the rest pass through."""
    return float(f"{x:.{digits}g}") if isinstance(x, float) and math.isfinite(x) else x


def is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def to_python(x: Any) -> Any:
    """numpy scalar -> Python scalar; Python values pass through."""
    return x.item() if isinstance(x, np.generic) else x


def parse_number(text: str) -> int | float | None:
    """``'10'`` -> 10, ``'1e-3'`` -> 0.001, anything else -> None."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def not_a_number(value: Any) -> str | None:
    """Why ``value`` is no finite number (booleans are not numbers), or None."""
    if not is_number(value):
        return f"{value!r} is not a number"
    if not math.isfinite(value):
        return f"{value!r} is not a finite number"
    return None


def outside(value: float, low: float, high: float) -> bool:
    """Whether ``value`` lies outside ``[low, high]``, beyond float noise."""
    tol = 1e-9 * max(1.0, abs(low), abs(high))
    return not low - tol <= value <= high + tol


def off_grid(value: float, q: float) -> bool:
    """Whether ``value`` is not a multiple of ``q``, beyond float noise."""
    k = value / q
    return abs(k - round(k)) > 1e-6


def preview(values: list[Any], n: int = 6) -> str:
    """``[1, 2, 3, ...]``: the first few values of a long list."""
    shown = ", ".join(repr(v) for v in values[:n])
    return f"[{shown}{', ...' if len(values) > n else ''}]"


def tidy_multiple(k: int, q: int | float) -> int | float:
    """``k * q`` without float noise: 11 * 0.1 -> 1.1, ints stay ints."""
    if isinstance(q, int):
        return int(k) * q
    decimals = -Decimal(repr(q)).as_tuple().exponent
    value = float(k * q)
    return round(value, decimals) if 0 < decimals <= 15 else value


class MatrixParam(Param):
    """Base of the 14 kinds. Subclasses set ``ARGS``, ``REQUIRED`` and implement ``check``."""

    ARGS: ClassVar[tuple[str, ...]] = ()
    REQUIRED: ClassVar[int] = 0
    NOTE: ClassVar[str] = ""  # extra constraint text for error messages

    def __init__(self, name: str, path: str, **args: Any):
        super().__init__(name, path)
        self.args = args
        self.check()

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_raw(cls, name: str, path: str, raw: Any) -> "MatrixParam":
        """Build from what the user wrote after the kind key."""
        return cls(name, path, **cls.read_args(raw, path))

    @classmethod
    def read_args(cls, raw: Any, path: str) -> dict[str, Any]:
        if isinstance(raw, str):
            parts = raw.split(":")
            items = [parse_number(p) for p in parts]
            if any(i is None for i in items):
                raise cls.form_error(raw, path)
        elif isinstance(raw, (list, tuple)):
            items = list(raw)
        elif isinstance(raw, dict):
            unknown = [k for k in raw if k not in cls.ARGS]
            if unknown:
                raise SpecError(
                    f"unknown argument {unknown[0]!r}; {cls.kind} takes {', '.join(cls.ARGS)}",
                    path,
                )
            missing = [k for k in cls.ARGS[: cls.REQUIRED] if k not in raw]
            if missing:
                raise SpecError(f"missing argument {missing[0]!r}; {cls.form_hint()}", path)
            return {k: raw[k] for k in cls.ARGS if k in raw}
        else:
            raise cls.form_error(raw, path)
        if not cls.REQUIRED <= len(items) <= len(cls.ARGS):
            raise cls.form_error(raw, path)
        return dict(zip(cls.ARGS, items))

    @classmethod
    def form_hint(cls) -> str:
        req, opt = cls.ARGS[: cls.REQUIRED], cls.ARGS[cls.REQUIRED :]
        lst = ", ".join(req) + "".join(f"[, {o}]" for o in opt)
        colon = ":".join(req) + "".join(f"[:{o}]" for o in opt)
        hint = f"expected [{lst}] or '{colon}'"
        return hint + (f" with {cls.NOTE}" if cls.NOTE else "")

    @classmethod
    def form_error(cls, raw: Any, path: str) -> SpecError:
        return SpecError(f"{cls.form_hint()}, got {raw!r}", path)

    # -- validation helpers ------------------------------------------------------------------
    def fail(self, message: str) -> SpecError:
        return SpecError(message, self.path)

    def number(self, key: str, *, positive: bool = False, nonzero: bool = False) -> int | float:
        value = self.args[key]
        if not is_number(value) or not math.isfinite(value):
            raise self.fail(f"{self.form_hint()}, got {key}={value!r} (not a finite number)")
        if positive and value <= 0:
            raise self.fail(f"{key} must be > 0, got {value!r}")
        if nonzero and value == 0:
            raise self.fail(f"{key} must not be 0")
        return value

    def count(self, key: str) -> int:
        value = self.args[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise self.fail(f"{self.form_hint()}, got {key}={value!r}")
        if value > MAX_VALUES:
            raise self.fail(f"{key}={value} expands to more than {MAX_VALUES} values")
        return value

    def check(self) -> None:
        """Validate ``self.args`` (raise SpecError naming ``self.path``)."""

    # -- Param plumbing ----------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "args": dict(self.args), "path": self.path}
        if self.discrete:
            out["values"] = self.values()
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MatrixParam):
            return NotImplemented
        return (type(self), self.name, self.path, self.args) == (
            type(other),
            other.name,
            other.path,
            other.args,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.args.items())
        return f"{type(self).__name__}({self.name!r}, {args})"

    def describe_args(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.args.items())


class DiscreteParam(MatrixParam):
    """A kind that expands to a finite list, computed once at construction.

    The numeric expansions (``ROUNDS``) pass their floats rounded to ``digits`` significant
    digits, so ``logspace: -5:-2:4`` gives trials ``1e-05``, not numpy's ``9.999999999999999e-06``.
    A spec parsed now gets :data:`DIGITS`; the JSON records it, so a group created before
    rounding existed (no ``digits`` in its spec) resumes and replays with the values it had.
    """

    discrete = True
    ROUNDS: ClassVar[bool] = False

    def __init__(self, name: str, path: str, digits: int | None = None, **args: Any):
        self.digits = digits if self.ROUNDS else None
        super().__init__(name, path, **args)
        values = [to_python(v) for v in self.expand()]
        if self.digits:
            values = [round_significant(v, self.digits) for v in values]
        if not values:
            raise self.fail(f"{self.kind} {self.describe_args()} produces no value")
        keys = [(type(v), v) for v in values]
        if len(set(keys)) != len(keys):
            raise self.fail(f"{self.kind} {self.describe_args()} produces duplicate values")
        self._values = values
        # for check_value: exact keys (a boolean never equals the number 1), and the numbers
        # sorted, to find a float that differs from a value by float noise only
        self._keys = {(type(v) is bool, v) for v in values}
        self._numbers = sorted(v for v in values if is_number(v))

    @classmethod
    def from_raw(cls, name: str, path: str, raw: Any) -> "MatrixParam":
        return cls(name, path, digits=DIGITS if cls.ROUNDS else None, **cls.read_args(raw, path))

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        if self.digits:
            out["digits"] = self.digits
        return out

    @abstractmethod
    def expand(self) -> list[Any]:
        """The values this kind stands for, in order (numpy's expansion for the numeric kinds)."""

    def values(self) -> list[Any]:
        return list(self._values)

    def sample(self, rng: np.random.Generator) -> Any:
        return self._values[int(rng.integers(len(self._values)))]

    def cardinality(self) -> int:
        return len(self._values)

    def check_value(self, value: Any) -> str | None:
        value = to_python(value)
        try:
            if (type(value) is bool, value) in self._keys:
                return None
        except TypeError:  # a list or a dict is no value of any kind
            pass
        if is_number(value) and math.isfinite(value):
            numbers = self._numbers
            i = bisect.bisect_left(numbers, value)
            if any(math.isclose(value, numbers[j], rel_tol=1e-9, abs_tol=1e-12)
                   for j in (i - 1, i) if 0 <= j < len(numbers)):
                return None
        return f"{value!r} is not one of its {len(self._values)} values {preview(self._values)}"


class DistributionParam(MatrixParam):
    """A kind that is sampled; ``values()`` is an error (grids take discrete kinds only)."""

    discrete = False

    def values(self) -> list[Any]:
        raise self.fail(
            f"{self.kind} is a distribution and has no list of values; "
            "use values/range/linspace/logspace/geomspace for a grid"
        )

    def cardinality(self) -> int | None:
        return None
