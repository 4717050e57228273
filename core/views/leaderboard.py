"""The leaderboard behind ``hpo trials``: filter by status, sort by a metric in the group's
direction (or a param, ``trial``, ``step``, ``duration``), keep the top N.

Sorted by the group's metric (the default), the order is the group's ranking
(:mod:`hpo.eventlog.ranking`, the one every view uses): the ranked trials best first, then the
trials that are not ranked (failed, running...) by their value, then those without one. Each
trial's ``rank`` is its place in that ranking whatever the sort (None when it is not ranked).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from hpo.errors import HpoError
from hpo.eventlog import ranking as group_ranking
from hpo.eventlog.state import GroupState, TrialState
from hpo.views.failures import bad_examples, bad_lines

STATUSES = ("pending", "running", "succeeded", "failed", "stopped")
BUILTIN_KEYS = ("trial", "step", "duration")


class SortError(HpoError):
    """``--sort`` names nothing the trials have."""


@dataclass(frozen=True)
class Ranking:
    key: str  # what the trials are sorted by
    descending: bool
    trials: list[TrialState]
    metrics: list[str]  # metric columns, the sort key (if a metric) first
    params: list[str]  # param columns, in the order the matrix declares them
    kind: str = "metric"  # what the key is: metric | param | builtin
    ranks: dict[int, int] = field(default_factory=dict)  # trial id -> its rank in the group

    def rank_of(self, t: TrialState) -> int | None:
        return self.ranks.get(t.trial_id)

    def param_label(self, name: str) -> str:
        """A param's column title: ``param.loss`` when a metric has the same name (what
        ``--sort`` takes for it too)."""
        return f"param.{name}" if name in self.metrics else name


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return None if isinstance(v, float) and math.isnan(v) else float(v)
    return None


def sort_value(t: TrialState, key: str, kind: str) -> Any:
    if kind == "metric":
        return _number(t.metrics.get(key))
    if kind == "param":
        return t.params.get(key)
    if key == "trial":
        return t.trial_id
    if key == "step":
        return t.last_step if t.reports else None
    if t.started_at is None or t.finished_at is None:
        return None
    return t.finished_at - t.started_at


def rank(
    state: GroupState,
    sort: str | None = None,
    statuses: tuple[str, ...] = (),
    top: int | None = None,
    order: str | None = None,
) -> Ranking:
    """Trials sorted by ``sort`` (default: the group metric, best first, valueless last)."""
    trials = [t for t in state.trials.values() if not statuses or t.status in statuses]
    metrics = _metric_names(state)
    params = _param_names(state)
    key = sort or state.metric_name or "trial"
    if key.startswith("metric.") and key[7:] in metrics:
        key, kind = key[7:], "metric"
    elif key.startswith("param.") and key[6:] in params:
        key, kind = key[6:], "param"
    elif key in metrics:
        kind = "metric"  # a metric wins over a param of the same name: say param.X for the param
    elif key in params:
        kind = "param"
    elif key in BUILTIN_KEYS:
        kind = "builtin"
    else:
        known = ", ".join([*metrics, *params, *BUILTIN_KEYS])
        raise SortError(f"--sort {key!r}: the trials have no such metric or param (one of: {known})")
    if order is not None:
        descending = order == "desc"
    elif kind == "metric" and state.metric and key == state.metric_name:
        descending = state.metric.get("optimization", "maximize") == "maximize"
    else:
        descending = False
    by_id = sorted(trials, key=lambda t: t.trial_id)
    group_ranked = group_ranking.ranked(state)
    ranks = {t.trial_id: i for i, t in enumerate(group_ranked, start=1)}
    first: list[TrialState] = []
    natural = descending == (group_ranking.sign(state.metric) > 0)
    if kind == "metric" and key == state.metric_name and natural:
        kept = {t.trial_id for t in by_id}
        first = [t for t in group_ranked if t.trial_id in kept]
        by_id = [t for t in by_id if t.trial_id not in ranks]
    present = [t for t in by_id if sort_value(t, key, kind) is not None]
    missing = [t for t in by_id if sort_value(t, key, kind) is None]
    # a stable sort: ties keep trial order, in either direction
    present.sort(key=lambda t: _sortable(sort_value(t, key, kind)), reverse=descending)
    ranked = first + present + missing
    if top is not None:
        ranked = ranked[:top]
    if kind == "metric":
        metrics = [key] + [m for m in metrics if m != key]
    elif kind == "param":
        params = [key] + [p for p in params if p != key]
    return Ranking(key, descending, ranked, metrics, params, kind, ranks)


def _sortable(v: Any) -> tuple[int, Any]:
    """Numbers before strings, so a param mixing both still sorts."""
    return (0, v) if isinstance(v, (int, float)) else (1, str(v))


def _metric_names(state: GroupState) -> list[str]:
    names: list[str] = [state.metric_name] if state.metric_name else []
    for t in sorted(state.trials.values(), key=lambda t: t.trial_id):
        names += [k for k in t.metrics if k not in names]
    return names


def _param_names(state: GroupState) -> list[str]:
    names = list((state.spec.get("matrix") or {}).keys())
    for t in sorted(state.trials.values(), key=lambda t: t.trial_id):
        names += [k for k in t.params if k not in names]
    return names


def ranking_records(ranking: Ranking) -> list[dict[str, Any]]:
    """The JSON form: one object per trial, in rank order."""
    out = []
    for t in ranking.trials:
        rec: dict[str, Any] = {
            "rank": ranking.rank_of(t), "trial": t.trial_id, "status": t.status, "metrics": dict(t.metrics),
            "params": dict(t.params), "step": t.last_step, "attempts": t.attempts,
            "duration": sort_value(t, "duration", "builtin"), "reason": t.reason,
            "bad_lines": bad_lines(t), "protocol_errors": bad_examples(t),
        }
        rec.update({k: t.meta[k] for k in ("bracket", "rung", "resource", "origin_trial") if k in t.meta})
        out.append(rec)
    return out
