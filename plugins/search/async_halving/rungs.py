"""The rungs of asynchronous successive halving, and what a budget lets them hold.

Rung ``k`` (``0 <= k <= K``) trains for ``max_iter * eta^(k - K)``: the top rung is exactly
``max_iter`` and each rung below it gets ``1/eta`` of the next, as in the largest hyperband
bracket. ``K`` is the largest integer with ``max_iter * eta^-K >= min_resource`` (None: the
bottom rung is hyperband's smallest resource). The arithmetic is exact, and integer resources
are rounded, not truncated, as in ``hpo.plugins.search.hyperband.brackets``.

When the spec names no ``min_resource``, the bottom rung is the third from the top (hyperband's
``brackets.default_min_resource``): on learning curves that cross, the lowest rungs rank by
speed of learning rather than by where a configuration ends, and promoting from them spends
most of the budget on configurations that never reach ``max_iter`` (docs/benchmarks.md,
"Multi-fidelity at equal budget", measures it).
"""

from __future__ import annotations

import math
from fractions import Fraction

from hpo.plugins.search.hyperband.brackets import MAX_BRACKETS, ResourceType, exact, s_max


def rung_resources(
    max_iter: int | float, eta: int | float, min_resource: int | float | None = None,
    resource_type: ResourceType = "int",
) -> list[int | float]:
    """The resource of every rung, bottom first; ValueError names what is wrong."""
    m = exact(max_iter)
    if min_resource is not None:
        low = exact(min_resource)
        if low <= 0 or low > m:
            raise ValueError(f"min_resource must be > 0 and at most max_iter ({max_iter}), "
                             f"got {min_resource!r}")
        top = s_max(m / low, eta)
    else:
        top = s_max(max_iter, eta)
    if top + 1 > MAX_BRACKETS:
        raise ValueError(f"max_iter {max_iter} with eta {eta} gives {top + 1} rungs (at most "
                         f"{MAX_BRACKETS}); choose a larger eta or min_resource")
    e = exact(eta)
    out = [_resource(m / e ** (top - k), resource_type) for k in range(top + 1)]
    if resource_type == "int" and out[0] < 1:
        raise ValueError(f"the bottom rung would train for {float(m / e**top):g}, which rounds to "
                         "0 for an int resource; raise min_resource to at least 1")
    return out


def _resource(value: Fraction, resource_type: ResourceType) -> int | float:
    if resource_type == "int":
        return math.floor(value + Fraction(1, 2))
    return float(value)


def rung_costs(resources: list[int | float], resume: bool) -> list[int | float]:
    """What a trial at each rung trains: the whole rung, or with ``resume`` only the extra over
    the rung below (the bottom rung always starts from scratch)."""
    if not resume:
        return list(resources)
    return [resources[0]] + [hi - lo for lo, hi in zip(resources, resources[1:])]


def expected_sizes(
    resources: list[int | float], eta: int | float, resume: bool,
    max_trials: int | None, max_resource: int | float | None,
) -> list[int]:
    """How many trials each rung holds when the budget is spent, if every rung has promoted its
    top ``1/eta`` (rung ``k`` holds ``n0 / eta^k``): an estimate for the plan, since which
    trials run is decided as results arrive."""
    weights = [float(eta) ** -k for k in range(len(resources))]
    limits = []
    if max_trials is not None:
        limits.append(max_trials / sum(weights))
    if max_resource is not None:
        costs = rung_costs(resources, resume)
        limits.append(float(max_resource) / sum(w * c for w, c in zip(weights, costs)))
    n0 = min(limits)
    return [math.floor(n0 * w + 1e-9) for w in weights]
