"""Per-group records for ``hpo list``, ``hpo status`` and ``hpo compare`` (their JSON forms)."""

from __future__ import annotations

from typing import Any

from hpo.views.records import group_summary
from hpo.eventlog.state import GroupState
from hpo.engine.plans import Plan
from hpo.views.overview import Overview, progress_record, overview


def group_record(state: GroupState, plan: Plan, now: float | None = None) -> dict[str, Any]:
    """``hpo.views.records.group_summary`` plus the progress (done, planned, elapsed, remaining)."""
    snap = overview(state, plan, now)
    rec = group_summary(state, plan.planned, counts=snap.counts, best=snap.best)
    rec["progress"] = progress_record(snap)
    rec["engine_gone"] = snap.engine_gone
    return rec


def budget(state: GroupState) -> dict[str, Any]:
    """What a group spent: trials, attempts, trial-seconds, and hyperband's resource."""
    seconds, resource, attempts = 0.0, 0.0, 0
    has_resource = False
    for t in state.trials.values():
        attempts += t.attempts
        if t.started_at is not None and t.finished_at is not None:
            seconds += t.finished_at - t.started_at
        if "resource" in t.meta and t.attempts and isinstance(t.meta["resource"], (int, float)):
            resource += t.meta["resource"]
            has_resource = True
    return {"trials": len(state.trials), "attempts": attempts, "trial_seconds": seconds,
            "resource": resource if has_resource else None}


def compare_record(snap: Overview) -> dict[str, Any]:
    st, best = snap.state, snap.best
    time_to_best = None
    if best is not None and best.finished_at is not None and st.created_at is not None:
        time_to_best = best.finished_at - st.created_at
    return {
        "group": st.group_id,
        "name": st.name,
        "status": st.status,
        "algorithm": st.spec.get("search", {}).get("algorithm"),
        "metric": st.metric,
        "planned": snap.plan.planned,
        "done": snap.done,
        "counts": dict(snap.counts),
        "budget": budget(st),
        "best": None if best is None else {
            "trial": best.trial_id, "value": best.value(st.metric_name), "params": best.params,
        },
        "elapsed": snap.elapsed,
        "time_to_best": time_to_best,
        "concurrency": st.spec.get("concurrency"),
    }
