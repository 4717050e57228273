"""The data behind every plot, terminal or HTML: pure functions of a :class:`GroupState`.

- :func:`history`: each ranked trial's value and the best so far, in trial order;
- :func:`parallel`: params and the metric as axes scaled to [0, 1], one line per trial;
- :func:`curves`: each trial's reports of a metric, step by step;
- :func:`brackets`: hyperband trials placed by bracket, rung and resource, with promotions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from hpo.eventlog import ranking
from hpo.eventlog.state import GroupState, TrialState

LOG_KINDS = {"logspace", "geomspace", "loguniform", "qloguniform", "lognormal", "qlognormal"}


def _sign(state: GroupState) -> float:
    m = state.metric or {}
    return 1.0 if m.get("optimization", "maximize") == "maximize" else -1.0


def _ordered(state: GroupState) -> list[TrialState]:
    return sorted(state.trials.values(), key=lambda t: t.trial_id)


@dataclass(frozen=True)
class HistoryPoint:
    trial: int
    value: float
    best: float  # the best value among this trial and the ones before it


def history(state: GroupState) -> list[HistoryPoint]:
    """Ranked trials (see :mod:`hpo.eventlog.ranking`) in trial order; the best so far follows
    the group's ranking (on hyperband, a larger resource beats a better value at a smaller one)."""
    name, direction, out = state.metric_name, _sign(state), []
    best_key, best = None, None
    for t in _ordered(state):
        v = ranking.ranked_value(t, name)
        if v is None:
            continue
        key = ranking.rank_key(t, v, direction)
        if best_key is None or key < best_key:
            best_key, best = key, v
        out.append(HistoryPoint(t.trial_id, v, best))  # type: ignore[arg-type]
    return out


@dataclass
class Axis:
    name: str
    kind: str  # "linear" | "log" | "category"
    low: float = 0.0
    high: float = 1.0
    categories: list[str] = field(default_factory=list)

    def scale(self, value: Any) -> float | None:
        """``value`` on [0, 1] along this axis (None if it has no place on it)."""
        if self.kind == "category":
            label = str(value)
            if label not in self.categories:
                return None
            n = len(self.categories)
            return 0.5 if n == 1 else self.categories.index(label) / (n - 1)
        if not _is_number(value) or not math.isfinite(value):  # an infinity has no place on it
            return None
        x, lo, hi = float(value), self.low, self.high
        if self.kind == "log":
            if x <= 0:
                return None
            x, lo, hi = math.log10(x), math.log10(lo), math.log10(hi)
        return 0.5 if hi == lo else (x - lo) / (hi - lo)

    def label(self, fraction: float) -> str:
        """The axis value at ``fraction`` of its height (tick labels)."""
        if self.kind == "category":
            n = len(self.categories)
            return self.categories[round(fraction * (n - 1))] if n else ""
        if self.kind == "log":
            lo, hi = math.log10(self.low), math.log10(self.high)
            return f"{10 ** (lo + fraction * (hi - lo)):.3g}"
        return f"{self.low + fraction * (self.high - self.low):.4g}"


@dataclass(frozen=True)
class ParallelLine:
    trial: int
    value: float  # the metric
    points: tuple[float | None, ...]  # one per axis, on [0, 1]


@dataclass
class Parallel:
    axes: list[Axis]
    lines: list[ParallelLine]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not (
        isinstance(v, float) and math.isnan(v))


def make_axis(name: str, values: list[Any], kind_hint: str = "", declared: list[Any] | None = None) -> Axis:
    """An axis for ``values``: a ``values`` list in the matrix is a category axis in its declared
    order; other numbers are a linear (or, for the log kinds, log) axis; the rest categories."""
    if kind_hint == "values" and declared:
        return Axis(name, "category", categories=[str(v) for v in declared])
    numbers = [float(v) for v in values if _is_number(v)]
    if values and len(numbers) == len(values):
        finite = [x for x in numbers if math.isfinite(x)] or [0.0, 1.0]  # infinities: off the axis
        lo, hi = min(finite), max(finite)
        kind = "log" if kind_hint in LOG_KINDS and lo > 0 else "linear"
        return Axis(name, kind, lo, hi)
    categories: list[str] = []
    for v in values:
        if str(v) not in categories:
            categories.append(str(v))
    return Axis(name, "category", categories=categories)


def param_axes(state: GroupState, trials: list[TrialState]) -> list[Axis]:
    """One axis per param of ``trials``: the matrix's in its order, then any others (such as
    hyperband's resource) in the order the trials first show them."""
    matrix = state.spec.get("matrix") or {}
    names = list(matrix)
    for t in trials:
        names += [k for k in t.params if k not in names]
    return [make_axis(p, [t.params.get(p) for t in trials if p in t.params],
                      (matrix.get(p) or {}).get("kind", ""), (matrix.get(p) or {}).get("values"))
            for p in names]


def parallel(state: GroupState) -> Parallel:
    """One axis per param (matrix order) and a last one for the metric; ranked trials only."""
    name = state.metric_name
    trials = [t for t in _ordered(state) if ranking.ranked_value(t, name) is not None]
    axes = param_axes(state, trials)
    axes.append(make_axis(name or "metric", [t.value(name) for t in trials]))
    lines = [
        ParallelLine(t.trial_id, t.value(name),  # type: ignore[arg-type]
                     tuple(a.scale(t.params.get(a.name)) for a in axes[:-1]) + (axes[-1].scale(t.value(name)),))
        for t in trials
    ]
    return Parallel(axes, lines)


def curves(state: GroupState, metric: str | None = None, top: int | None = None
           ) -> dict[int, list[tuple[int, float]]]:
    """``{trial: [(step, value), ...]}`` of ``metric`` (default the group's); with ``top``, only
    the best ``top`` trials by their last value."""
    metric = metric or state.metric_name
    if metric is None:
        return {}
    out = {t.trial_id: list(t.curves.get(metric, [])) for t in _ordered(state) if t.curves.get(metric)}
    if top is not None and len(out) > top:
        if metric == state.metric_name:  # the group's ranking, then the rest by their last value
            first = [t.trial_id for t in ranking.ranked(state) if t.trial_id in out]
            taken = set(first)
            rest = sorted((tid for tid in out if tid not in taken),
                          key=lambda tid: -_sign(state) * out[tid][-1][1])
            keep = (first + rest)[:top]
        else:
            keep = sorted(out, key=lambda tid: out[tid][-1][1])[:top]
        out = {tid: out[tid] for tid in sorted(keep)}
    return out


@dataclass(frozen=True)
class BracketPoint:
    trial: int
    bracket: int
    rung: int
    resource: float
    value: float | None
    parent: int | None
    status: str


def brackets(state: GroupState) -> list[BracketPoint]:
    """Every hyperband trial (those whose meta has a bracket and a rung)."""
    out = []
    for t in _ordered(state):
        if "bracket" not in t.meta or "rung" not in t.meta:
            continue
        resource = t.meta.get("resource")
        out.append(BracketPoint(
            t.trial_id, int(t.meta["bracket"]), int(t.meta["rung"]),
            float(resource) if _is_number(resource) else float(t.meta["rung"]),
            t.value(state.metric_name), t.meta.get("parent"), t.status,
        ))
    return out
