"""Hyperband's bracket arithmetic (Li et al., JMLR 2018, Algorithm 1), exactly and nothing else.

All arithmetic is done on exact rationals, so ``s_max = floor(log_eta(max_iter))`` never suffers
from float error (``log(243) / log(3)`` is 4.999... in floats; here it is 5). Floats given in a
spec are read as the decimal the user wrote (``eta: 1.5`` is 3/2).

For ``s = s_max .. 0`` (the run order), bracket ``s`` starts ``n = ceil(B / max_iter / (s + 1) *
eta^s)`` configurations at resource ``r = max_iter * eta^-s``, where ``B = (s_max + 1) *
max_iter``. Rung ``i`` (``0 <= i <= s``) runs ``n_i = floor(n * eta^-i)`` configurations at
``r_i = r * eta^i``; the last rung runs at exactly ``max_iter``. Integer resources are rounded to
the nearest integer (halves up), never truncated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

ResourceType = Literal["int", "float"]
MAX_BRACKETS = 64  # eta barely above 1 would plan thousands of brackets and billions of trials


@dataclass(frozen=True)
class Rung:
    n: int  # configurations run at this rung
    resource: int | float  # resource each of them gets


@dataclass(frozen=True)
class Bracket:
    s: int  # the bracket's index in the paper (s_max first)
    rungs: tuple[Rung, ...]

    @property
    def total_resource(self) -> int | float:
        return sum(r.n * r.resource for r in self.rungs)

    @property
    def trials(self) -> int:
        return sum(r.n for r in self.rungs)


def exact(x: int | float | Fraction) -> Fraction:
    """``x`` as an exact rational; a float is read as its shortest decimal (``0.1`` is 1/10)."""
    if isinstance(x, float):
        return Fraction(repr(x))
    return Fraction(x)


def s_max(max_iter: int | float, eta: int | float) -> int:
    """The largest integer ``s`` with ``eta**s <= max_iter`` (0 when ``max_iter < eta``)."""
    m, e = exact(max_iter), exact(eta)
    if e <= 1:
        raise ValueError(f"eta must be > 1, got {eta!r}")
    if m <= 0:
        raise ValueError(f"max_iter must be > 0, got {max_iter!r}")
    s, power = 0, e
    while power <= m:
        s, power = s + 1, power * e
    return s


def _resource(value: Fraction, resource_type: ResourceType) -> int | float:
    if resource_type == "int":
        return math.floor(value + Fraction(1, 2))  # round half up, never truncate
    return float(value)


def plan(
    max_iter: int | float, eta: int | float, resource_type: ResourceType = "int",
    min_resource: int | float | None = None,
) -> list[Bracket]:
    """Every bracket of one Hyperband run, in run order (``s_max`` first). ``min_resource`` is
    the paper's ``r_min`` (``s_max = floor(log_eta(max_iter / r_min))``); None means 1."""
    m, e = exact(max_iter), exact(eta)
    if min_resource is not None and not 0 < exact(min_resource) <= m:
        raise ValueError(f"min_resource must be > 0 and at most max_iter ({max_iter}), "
                         f"got {min_resource!r}")
    top = s_max(max_iter if min_resource is None else m / exact(min_resource), eta)
    if top + 1 > MAX_BRACKETS:
        raise ValueError(
            f"max_iter {max_iter} with eta {eta} plans {top + 1} brackets (at most "
            f"{MAX_BRACKETS}); choose a larger eta (the paper uses 3)"
        )
    brackets = []
    for s in range(top, -1, -1):
        n = math.ceil(Fraction(top + 1, s + 1) * e**s)  # = ceil(B / max_iter / (s+1) * eta^s)
        r = m / e**s
        rungs = tuple(
            Rung(n=math.floor(n / e**i), resource=_resource(r * e**i, resource_type))
            for i in range(s + 1)
        )
        brackets.append(Bracket(s=s, rungs=rungs))
    return brackets


DEFAULT_RUNGS = 3


def default_min_resource(
    max_iter: int | float, eta: int | float, resource_type: ResourceType = "int",
) -> int | float | None:
    """A ``min_resource`` that keeps the top ``DEFAULT_RUNGS`` rungs of the ladder
    ``max_iter * eta^-k`` (the default of ``async_halving`` and ``bohb``), or None (every rung)
    when the ladder has no more rungs than that or the options are invalid (the spec check then
    names the error). It is a value a spec could hold, so a group records it, and a later
    default never changes how the group resumes or replays."""
    try:
        if s_max(max_iter, eta) + 1 <= DEFAULT_RUNGS:
            return None
    except ValueError:
        return None
    m = exact(max_iter)
    exact_bottom = m / exact(eta) ** (DEFAULT_RUNGS - 1)
    bottom = float(exact_bottom)
    # the first that reads back as a bound at or below the exact rung (floats may round up)
    candidates = ([math.floor(exact_bottom)] if resource_type == "int" else []) + [
        bottom, math.nextafter(bottom, 0.0)]
    for low in candidates:
        if low > 0 and s_max(m / exact(low), eta) + 1 == DEFAULT_RUNGS:
            return low
    return None


def planned_trials(brackets: list[Bracket]) -> int:
    return sum(b.trials for b in brackets)


def plan_json(brackets: list[Bracket]) -> dict[str, Any]:
    """``{"brackets": [{"bracket": s, "rungs": [{"n", "resource"}, ...]}], "total_resource"}``."""
    return {
        "brackets": [
            {"bracket": b.s, "rungs": [{"n": r.n, "resource": r.resource} for r in b.rungs]}
            for b in brackets
        ],
        "total_resource": sum(b.total_resource for b in brackets),
    }
