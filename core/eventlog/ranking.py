"""The one definition of a group's best trial and of its ranking.

Every view (``hpo status``, ``hpo trials``, ``hpo compare``, ``hpo export``, the report, the
plots) and the Python API rank trials with these functions, so no two of them can name different
best trials:

- a trial is *ranked* when it succeeded, or a stopping rule stopped it, and it has a value of the
  group's metric (its last reported one; NaN is no value). Failed trials are never ranked, nor are
  trials a pause interrupted (they run again) or that the user stopped by hand;
- on a multi-fidelity group (hyperband: each trial's ``resource``), trials that reached a larger
  resource rank before those that reached a smaller one, as Optuna ranks only complete trials:
  a cheap trial's value is not comparable with a full one's;
- then by value in the metric's direction, and ties go to the lowest trial id.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable

from hpo.contracts.searcher import STOPPED, SUCCEEDED

if TYPE_CHECKING:
    from hpo.eventlog.state import GroupState, TrialState

USER_POLICY = "user"  # `hpo stop --trial N`: a person, not a stopping rule


def sign(metric: dict | None) -> float:
    """+1 when higher is better (maximize, the default), -1 for minimize."""
    return -1.0 if (metric or {}).get("optimization", "maximize") == "minimize" else 1.0


def stopped_by_rule(t: TrialState) -> bool:
    """Stopped by a stopping rule (its own decision, or the group's), not by a pause or a person."""
    if t.status != STOPPED or t.resumable:
        return False
    return (t.stop_decision or {}).get("policy") != USER_POLICY


def ranked_value(t: TrialState, metric_name: str | None) -> float | None:
    """The trial's value if it is ranked (see the module's docstring), else None."""
    if metric_name is None or not (t.status == SUCCEEDED or stopped_by_rule(t)):
        return None
    v = t.metrics.get(metric_name)
    if v is None or isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
        return None
    return float(v)


def resource_of(t: TrialState) -> float:
    """The resource a multi-fidelity trial reached (``-inf`` for a group without one)."""
    r = t.meta.get("resource")
    return float(r) if isinstance(r, (int, float)) and not isinstance(r, bool) else -math.inf


def rank_key(t: TrialState, value: float, direction: float) -> tuple[float, float, int]:
    """Smaller is better: the largest resource first, then the best value, then the lowest id."""
    return (-resource_of(t), -direction * value, t.trial_id)


def ranked(state: GroupState, trials: Iterable[TrialState] | None = None) -> list[TrialState]:
    """The ranked trials, best first."""
    name, direction = state.metric_name, sign(state.metric)
    scored = []
    for t in state.trials.values() if trials is None else trials:
        v = ranked_value(t, name)
        if v is not None:
            scored.append((rank_key(t, v, direction), t))
    scored.sort(key=lambda kv: kv[0])
    return [t for _, t in scored]


def best(state: GroupState) -> TrialState | None:
    """The first of :func:`ranked`, in one pass (``hpo list`` asks it of every group)."""
    name, direction = state.metric_name, sign(state.metric)
    if name is None:
        return None
    out, out_key = None, None
    for t in state.trials.values():
        v = ranked_value(t, name)
        if v is None:
            continue
        key = rank_key(t, v, direction)
        if out_key is None or key < out_key:
            out, out_key = t, key
    return out
