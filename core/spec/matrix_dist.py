"""The nine distribution kinds.

``pvalues`` draws from a weighted list; the others are numpy's distributions. The ``q`` kinds
round a draw to the *nearest* multiple of ``q`` (``round(x / q) * q``, as the seed states); the
bounded ones (``quniform``, ``qloguniform``) then clip to the nearest multiple inside the bounds,
so every sample is a multiple of ``q`` within ``[low, high]``. ``loguniform``/``qloguniform``
bounds are natural-log exponents as in Polyaxon (``exp(uniform(low, high))``), or exponents of an
explicit ``base``. An integer ``q`` gives integer samples.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hpo.errors import SpecError
from hpo.spec.matrix_base import (
    DistributionParam,
    is_number,
    not_a_number,
    off_grid,
    outside,
    preview,
    tidy_multiple,
    to_python,
)
from hpo.spec.matrix_discrete import SCALAR_TYPES
from hpo.spec.params import Categorical, Numeric
from hpo.spec.yamlload import parse_scalar

EPS = 1e-9  # tolerance when deciding which multiples of q lie inside the bounds


def too_far_apart(param: DistributionParam, *spans: float) -> SpecError | None:
    """An error when a span the sampler computes (``high - low``, ``high / q``) overflows."""
    if all(math.isfinite(x) for x in spans):
        return None
    return param.fail(f"{param.kind} {param.describe_args()}: the bounds are too far apart (or q "
                      "too small) for floating point; narrow them")


def multiples_inside(low: float, high: float, q: float) -> tuple[int, int]:
    """First and last ``k`` with ``k * q`` in ``[low, high]`` (kmin > kmax when there is none)."""
    return math.ceil(low / q - EPS), math.floor(high / q + EPS)


class PValues(DistributionParam):
    """Draw ``value_i`` with probability ``prob_i``; probabilities in (0, 1] summing to 1."""

    kind = "pvalues"
    ARGS = ("pairs",)
    REQUIRED = 1

    @classmethod
    def form_hint(cls) -> str:
        return "expected [[value, prob], ...], {value: prob, ...} or [(value, prob), ...]"

    @classmethod
    def read_args(cls, raw: Any, path: str) -> dict[str, Any]:
        if isinstance(raw, dict):
            return {"pairs": [[k, v] for k, v in raw.items()]}
        if not isinstance(raw, list) or not raw:
            raise cls.form_error(raw, path)
        if any(isinstance(i, str) and i.lstrip().startswith("(") for i in raw):
            return {"pairs": cls.reassemble_tuples(raw, path)}
        if all(isinstance(i, (list, tuple)) and len(i) == 2 for i in raw):
            return {"pairs": [list(i) for i in raw]}
        raise cls.form_error(raw, path)

    @classmethod
    def reassemble_tuples(cls, raw: list[Any], path: str) -> list[list[Any]]:
        """``[(relu, 0.2), (sigmoid, 0.8)]`` reaches us as ``['(relu', '0.2)', ...]``."""
        groups: list[list[Any]] = []
        current: list[Any] | None = None
        for item in raw:
            text = item.strip() if isinstance(item, str) else None
            if current is None:
                if text is None or not text.startswith("("):
                    raise SpecError(f"{item!r} is outside any (value, prob) pair", path)
                current, text = [], text[1:]
            if text is not None and text.endswith(")"):
                current.append(parse_scalar(text[:-1].strip()))
                groups.append(current)
                current = None
            else:
                current.append(parse_scalar(text.strip()) if text is not None else item)
        if current is not None:
            raise SpecError(f"unclosed '(' in {raw!r}", path)
        for group in groups:
            if len(group) != 2:
                shown = "(" + ", ".join(str(g) for g in group) + ")"
                hint = " (a decimal comma? write 0.2, not 0,2)" if len(group) == 3 else ""
                raise SpecError(
                    f"pvalues item {shown} has {len(group)} parts; expected (value, prob){hint}",
                    path,
                )
        return groups

    def check(self) -> None:
        pairs = self.args["pairs"]
        if not isinstance(pairs, list) or not pairs:
            raise self.fail(f"{self.form_hint()}, got {pairs!r}")
        seen = set()
        for pair in pairs:
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise self.fail(f"{self.form_hint()}, got item {pair!r}")
            value, prob = pair
            if not isinstance(value, SCALAR_TYPES):
                raise self.fail(f"value {value!r} must be a string, number or boolean")
            if (type(value), value) in seen:
                raise self.fail(f"value {value!r} appears twice")
            seen.add((type(value), value))
            if not is_number(prob) or not 0 < prob <= 1:
                raise self.fail(f"probability of {value!r} must be in (0, 1], got {prob!r}")
        total = sum(p for _, p in pairs)
        if abs(total - 1) > 1e-6:
            raise self.fail(f"probabilities sum to {total:g}, expected 1 (within 1e-6)")
        self.args["pairs"] = [list(p) for p in pairs]

    @property
    def choices(self) -> tuple[Any, ...]:
        return tuple(v for v, _ in self.args["pairs"])

    @property
    def weights(self) -> tuple[float, ...]:
        total = sum(p for _, p in self.args["pairs"])
        return tuple(p / total for _, p in self.args["pairs"])

    def sample(self, rng: np.random.Generator) -> Any:
        return self.choices[int(rng.choice(len(self.choices), p=self.weights))]

    def cardinality(self) -> int:
        return len(self.args["pairs"])

    def domain(self) -> Categorical:
        return Categorical(self.choices, self.weights)

    def check_value(self, value: Any) -> str | None:
        value = to_python(value)
        for choice in self.choices:
            if (type(choice) is bool) == (type(value) is bool) and choice == value:
                return None
        return f"{value!r} is not one of its values {preview(list(self.choices))}"


class Uniform(DistributionParam):
    """``uniform(low, high)`` over ``[low, high)``."""

    kind = "uniform"
    ARGS = ("low", "high")
    REQUIRED = 2
    NOTE = "low < high"

    def check(self) -> None:
        low, high = self.number("low"), self.number("high")
        if not low < high:
            raise self.fail(f"low must be < high, got low={low!r}, high={high!r}")
        if error := too_far_apart(self, high - low):
            raise error

    def value_bounds(self) -> tuple[float, float]:
        return self.args["low"], self.args["high"]

    def draw(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.args["low"], self.args["high"]))

    def sample(self, rng: np.random.Generator) -> Any:
        return self.draw(rng)

    def domain(self) -> Numeric:
        low, high = self.value_bounds()
        return Numeric(low=low, high=high)

    def check_value(self, value: Any) -> str | None:
        value = to_python(value)
        problem = not_a_number(value)
        if problem is None:
            domain = self.domain()
            low, high = domain.low, domain.high
            if outside(value, low, high):
                problem = f"{value!r} lies outside [{low:g}, {high:g}]"
            elif self.args.get("q") is not None and off_grid(value, self.args["q"]):
                problem = f"{value!r} is not a multiple of q={self.args['q']!r}"
        return problem


class LogUniform(Uniform):
    """``base ** uniform(low, high)``; ``base`` defaults to e (natural-log bounds, as Polyaxon)."""

    kind = "loguniform"
    ARGS = ("low", "high", "base")
    REQUIRED = 2
    NOTE = "low < high (exponents of base, natural log by default)"

    def check(self) -> None:
        super().check()
        if "base" in self.args:
            base = self.number("base", positive=True)
            if base == 1:
                raise self.fail("base must not be 1")
        try:
            bounds = self.value_bounds()
        except OverflowError:
            bounds = (math.inf, math.inf)
        if not all(math.isfinite(b) for b in bounds):
            raise self.fail(f"{self.kind} {self.describe_args()} overflows (bounds are exponents)")

    @property
    def base(self) -> float:
        return float(self.args.get("base", math.e))

    def value_bounds(self) -> tuple[float, float]:
        low, high = self.base ** self.args["low"], self.base ** self.args["high"]
        return min(low, high), max(low, high)

    def draw(self, rng: np.random.Generator) -> float:
        return float(self.base ** rng.uniform(self.args["low"], self.args["high"]))

    def domain(self) -> Numeric:
        low, high = self.value_bounds()
        return Numeric(low=low, high=high, log=True)


class QuantizedBounded:
    """Mixin for ``quniform``/``qloguniform``: snap to a multiple of q inside the value bounds."""

    args: dict[str, Any]

    def check_q(self) -> None:
        q = self.number("q", positive=True)  # type: ignore[attr-defined]
        low, high = self.value_bounds()  # type: ignore[attr-defined]
        if error := too_far_apart(self, low / q, high / q):  # type: ignore[arg-type]
            raise error
        kmin, kmax = multiples_inside(low, high, q)
        if kmin > kmax:
            raise self.fail(  # type: ignore[attr-defined]
                f"no multiple of q={q!r} lies within [{low:g}, {high:g}]"
            )

    def k_range(self) -> tuple[int, int]:
        low, high = self.value_bounds()  # type: ignore[attr-defined]
        return multiples_inside(low, high, self.args["q"])

    def sample(self, rng: np.random.Generator) -> Any:
        q = self.args["q"]
        kmin, kmax = self.k_range()
        k = min(max(round(self.draw(rng) / q), kmin), kmax)  # type: ignore[attr-defined]
        return tidy_multiple(k, q)

    def cardinality(self) -> int:
        kmin, kmax = self.k_range()
        return kmax - kmin + 1

    def domain(self) -> Numeric:
        q = self.args["q"]
        kmin, kmax = self.k_range()
        return Numeric(
            low=tidy_multiple(kmin, q),
            high=tidy_multiple(kmax, q),
            log=self.kind == "qloguniform",  # type: ignore[attr-defined]
            q=q,
            integer=isinstance(q, int),
        )


class QUniform(QuantizedBounded, Uniform):
    kind = "quniform"
    ARGS = ("low", "high", "q")
    REQUIRED = 3
    NOTE = "low < high and q > 0"

    def check(self) -> None:
        super().check()
        self.check_q()


class QLogUniform(QuantizedBounded, LogUniform):
    kind = "qloguniform"
    ARGS = ("low", "high", "q", "base")
    REQUIRED = 3
    NOTE = "low < high (exponents of base, natural log by default) and q > 0"

    def check(self) -> None:
        super().check()
        self.check_q()


class Normal(DistributionParam):
    """``normal(loc, scale)``; unbounded, so its domain reports loc +/- 3 scale as a guide."""

    kind = "normal"
    ARGS = ("loc", "scale")
    REQUIRED = 2
    NOTE = "scale > 0"

    def check(self) -> None:
        loc, scale = self.number("loc"), self.number("scale", positive=True)
        reach = abs(loc) + 3 * scale  # the domain's bounds, and about where samples lie
        if self.kind in ("lognormal", "qlognormal"):  # exponents: exp(710) overflows
            reach = math.exp(reach) if reach < 709 else math.inf
        if error := too_far_apart(self, reach):
            raise error
        if "q" in self.ARGS and (error := too_far_apart(self, reach / self.number("q", positive=True))):
            raise error

    def draw(self, rng: np.random.Generator) -> float:
        return float(rng.normal(self.args["loc"], self.args["scale"]))

    def sample(self, rng: np.random.Generator) -> Any:
        x = self.draw(rng)
        q = self.args.get("q")
        return x if q is None else tidy_multiple(round(x / q), q)

    def domain(self) -> Numeric:
        loc, scale = self.args["loc"], self.args["scale"]
        low, high, log = loc - 3 * scale, loc + 3 * scale, False
        if self.kind in ("lognormal", "qlognormal"):
            low, high, log = math.exp(low), math.exp(high), True
        q = self.args.get("q")
        integer = isinstance(q, int)
        return Numeric(low=low, high=high, log=log, q=q, integer=integer, bounded=False)

    def check_value(self, value: Any) -> str | None:
        value = to_python(value)
        problem = not_a_number(value)
        if problem is None and self.kind in ("lognormal", "qlognormal") and value < 0:
            problem = f"{value!r} is negative, and a {self.kind} value never is"
        elif problem is None and self.args.get("q") is not None and off_grid(value, self.args["q"]):
            problem = f"{value!r} is not a multiple of q={self.args['q']!r}"
        return problem


class QNormal(Normal):
    kind = "qnormal"
    ARGS = ("loc", "scale", "q")
    REQUIRED = 3
    NOTE = "scale > 0 and q > 0"


class LogNormal(Normal):
    """``exp(normal(loc, scale))`` (numpy's ``lognormal(mean=loc, sigma=scale)``)."""

    kind = "lognormal"

    def draw(self, rng: np.random.Generator) -> float:
        return float(rng.lognormal(self.args["loc"], self.args["scale"]))


class QLogNormal(LogNormal):
    kind = "qlognormal"
    ARGS = ("loc", "scale", "q")
    REQUIRED = 3
    NOTE = "scale > 0 and q > 0"


DISTRIBUTION_KINDS = (
    PValues,
    Uniform,
    QUniform,
    LogUniform,
    QLogUniform,
    Normal,
    QNormal,
    LogNormal,
    QLogNormal,
)
