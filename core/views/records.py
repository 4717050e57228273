"""Plain records computed from a :class:`GroupState`: what exports and tables show."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from hpo.views.failures import bad_lines
from hpo.eventlog.ranking import ranked
from hpo.eventlog.state import GroupState, TrialState

META_COLUMNS = ("bracket", "rung", "resource", "parent", "origin_trial")  # origin_trial: restarts


def iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).isoformat()


def trial_record(t: TrialState, rank: int | None = None) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "trial": t.trial_id,
        "status": t.status,
        "params": t.params,
        "metrics": dict(t.metrics),
        "step": t.last_step,
        "attempts": t.attempts,
        "started_at": iso(t.started_at),
        "finished_at": iso(t.finished_at),
        # the attempt that finished (a paused and resumed trial ran again from its relaunch)
        "duration": (t.finished_at - since) if t.finished_at and (since := t.attempt_started_at or t.started_at) else None,
        "exit_code": t.exit_code,
        "reason": t.reason,
        "rank": rank,  # its place in the group's ranking (hpo.eventlog.ranking); None: not ranked
        "bad_lines": bad_lines(t),  # report lines that did not parse
        "retries": t.retries,  # attempts run again after being lost
    }
    for key in META_COLUMNS:
        if key in t.meta:
            rec[key] = t.meta[key]
    if t.stop_decision:
        rec["stopped_by"] = t.stop_decision.get("policy")
    return rec


def trial_records(state: GroupState) -> list[dict[str, Any]]:
    ranks = {t.trial_id: i for i, t in enumerate(ranked(state), start=1)}
    return [trial_record(t, ranks.get(t.trial_id))
            for t in sorted(state.trials.values(), key=lambda t: t.trial_id)]


def flat_record(rec: dict[str, Any]) -> dict[str, Any]:
    """One CSV row: params and metrics flattened into ``param.X`` / ``metric.Y`` columns."""
    out = {k: v for k, v in rec.items() if k not in ("params", "metrics")}
    out.update({f"param.{k}": v for k, v in rec["params"].items()})
    out.update({f"metric.{k}": v for k, v in rec["metrics"].items()})
    return out


def group_summary(state: GroupState, planned: int | None = None,
                  counts: dict[str, int] | None = None, best: TrialState | None = None) -> dict[str, Any]:
    """The group's JSON record. ``counts`` (trials by status) and ``best`` can be handed in by a
    caller that already has them (a view's snapshot), to spare two more passes over the trials."""
    if counts is None:
        counts = {}
        for t in state.trials.values():
            counts[t.status] = counts.get(t.status, 0) + 1
        best = state.best()
    metric = state.metric
    return {
        "group": state.group_id,
        "name": state.name,
        "status": state.status,
        "reason": state.reason,
        "algorithm": state.spec.get("search", {}).get("algorithm"),
        "metric": metric,
        "seed": state.seed,
        "trials": len(state.trials),
        "planned": planned,
        "counts": counts,
        "best": None if best is None else {
            "trial": best.trial_id, "value": best.value(metric["name"]), "params": best.params,
        },
        "created_at": iso(state.created_at),
        "finished_at": iso(state.finished_at),
        "engine": state.engine,
        "origin": state.origin,
        "stop": None if state.group_stop is None else state.group_stop.model_dump(),
        "plugin_failures": [f.model_dump() for f in state.plugin_failures],
        "notices": [{**n, "at": iso(n["at"])} for n in state.notices],
        "bad_lines": sum(bad_lines(t) for t in state.trials.values()),
    }
