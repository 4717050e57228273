"""Fold the :class:`~hpo.contracts.stopper.StopView` that stoppers see from a :class:`GroupState`."""

from __future__ import annotations

import time
from copy import deepcopy

from hpo.spec.metric import MetricSpec
from hpo.eventlog.state import GroupState
from hpo.contracts.stopper import StopView, TrialCurves


def trial_curves(state: GroupState) -> tuple[TrialCurves, ...]:
    return tuple(
        TrialCurves(
            trial_id=t.trial_id,
            status=t.status,
            params=deepcopy(t.params),  # a stopper that changes it changes nothing here
            curves={k: tuple(v) for k, v in t.curves.items()},
            started_at=t.started_at,
            finished_at=t.finished_at,
        )
        for t in sorted(state.trials.values(), key=lambda t: t.trial_id)
    )


def stop_view(state: GroupState, planned: int | None = None, now: float | None = None) -> StopView:
    metric = MetricSpec(**state.metric) if state.metric else None
    return StopView(
        trials=trial_curves(state),
        metric=metric,
        started_at=state.created_at or 0.0,
        now=time.time() if now is None else now,
        planned_trials=planned,
    )
