"""``hpo whatif``: replay a group's logged metrics through a stopping policy, offline.

:func:`simulate` answers "had this stopper been on, which trials would it have stopped, when,
and how much compute would that have saved?" It replays the logged curves in *step order*: every
trial with reports is treated as running from the first step until its own curve ends, and at
each step where any trial reported, the stopper sees every curve cut at that step (a trial it
stopped stays cut where it was stopped) and decides. Real groups run trials at different times,
so decisions that depend on how far other trials had got may differ from a live run.

A trial's resource is its largest reported step; a trial stopped at step ``s`` would have run
``s`` steps. Curves of trials that were already stopped in the log end where they were stopped,
so the replay cannot know how they would have gone on.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from rich.console import Group as RichGroup
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from hpo.contracts.searcher import RUNNING, STOPPED, SUCCEEDED
from hpo.spec.metric import MetricSpec
from hpo.contracts.stopper import Curve, Stopper, StopView, TrialCurves
from hpo.views.fmt import clean

LOCKSTEP_NOTE = (
    "replayed in step order: every trial with reports is treated as running from the first "
    "step until its curve ends; time does not advance (view.now = the group's start)"
)


@dataclass(frozen=True)
class TrialOutcome:
    """What the policy would have done to one trial."""

    trial_id: int
    status: str  # as logged
    steps_logged: int  # largest reported step, 0 when it never reported
    stopped_at_step: int | None = None
    reason: str | None = None
    policy: str | None = None

    @property
    def steps_would_run(self) -> int:
        if self.stopped_at_step is None:
            return self.steps_logged
        return min(self.stopped_at_step, self.steps_logged)

    @property
    def steps_saved(self) -> int:
        return self.steps_logged - self.steps_would_run

    def to_json(self) -> dict[str, Any]:
        return {
            "trial_id": self.trial_id,
            "status": self.status,
            "steps_logged": self.steps_logged,
            "stopped_at_step": self.stopped_at_step,
            "steps_would_run": self.steps_would_run,
            "steps_saved": self.steps_saved,
            "reason": self.reason,
            "policy": self.policy,
        }


@dataclass(frozen=True)
class GroupStop:
    """The first group-level decision of the replay."""

    step: int
    policy: str
    reason: str
    status: str

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "policy": self.policy, "reason": self.reason,
                "status": self.status}


@dataclass(frozen=True)
class WhatIfResult:
    """The outcome of :func:`simulate`: per trial, the totals, and the best trial's fate."""

    policy: str
    config: dict[str, Any]
    metric: MetricSpec | None
    trials: tuple[TrialOutcome, ...]
    group_stop: GroupStop | None
    best_trial_id: int | None  # best final value among succeeded trials
    notes: tuple[str, ...]

    @property
    def steps_logged(self) -> int:
        return sum(t.steps_logged for t in self.trials)

    @property
    def steps_would_run(self) -> int:
        return sum(t.steps_would_run for t in self.trials)

    @property
    def steps_saved(self) -> int:
        return self.steps_logged - self.steps_would_run

    @property
    def saved_percent(self) -> float:
        return 100.0 * self.steps_saved / self.steps_logged if self.steps_logged else 0.0

    @property
    def stopped_trials(self) -> list[int]:
        return [t.trial_id for t in self.trials if t.stopped_at_step is not None]

    @property
    def best_trial_stopped(self) -> bool | None:
        """Whether the eventual best trial would have been stopped; None without one."""
        if self.best_trial_id is None:
            return None
        return self.outcome(self.best_trial_id).stopped_at_step is not None

    def outcome(self, trial_id: int) -> TrialOutcome:
        return next(t for t in self.trials if t.trial_id == trial_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "config": self.config,
            "metric": self.metric.model_dump() if self.metric else None,
            "trials": [t.to_json() for t in self.trials],
            "stopped_trials": self.stopped_trials,
            "steps_logged": self.steps_logged,
            "steps_would_run": self.steps_would_run,
            "steps_saved": self.steps_saved,
            "saved_percent": self.saved_percent,
            "best_trial_id": self.best_trial_id,
            "best_trial_stopped": self.best_trial_stopped,
            "group_stop": self.group_stop.to_json() if self.group_stop else None,
            "notes": list(self.notes),
        }

    def render(self) -> RenderableType:
        return render(self)

    def __rich__(self) -> RenderableType:
        return self.render()


class _Replay:
    """The logged curves, cut at any step in report order."""

    def __init__(self, trials: Sequence[TrialCurves]):
        self.trials = tuple(trials)
        self._steps: dict[tuple[int, str], list[int] | None] = {}
        for t in self.trials:
            for name, curve in t.curves.items():
                steps = [s for s, _ in curve]
                monotone = all(a <= b for a, b in zip(steps, steps[1:]))
                self._steps[(t.trial_id, name)] = steps if monotone else None
        self.last_step = {t.trial_id: _last_step(t) for t in self.trials}

    def all_steps(self) -> list[int]:
        return sorted({s for t in self.trials for c in t.curves.values() for s, _ in c})

    def cut(self, trial: TrialCurves, name: str, curve: Curve, step: int) -> Curve:
        steps = self._steps[(trial.trial_id, name)]
        if steps is None:
            return tuple(r for r in curve if r[0] <= step)
        return tuple(curve[: bisect_right(steps, step)])

    def view_at(self, step: int, stopped: dict[int, int], metric: MetricSpec | None,
                started_at: float) -> StopView:
        trials = []
        for t in self.trials:
            cut_at = stopped.get(t.trial_id)
            limit = step if cut_at is None else cut_at
            curves = {n: self.cut(t, n, c, limit) for n, c in t.curves.items()}
            trials.append(replace(t, curves=curves, status=self._status(t, step, cut_at)))
        return StopView(trials=tuple(trials), metric=metric, started_at=started_at,
                        now=started_at)

    def _status(self, trial: TrialCurves, step: int, cut_at: int | None) -> str:
        if cut_at is not None:
            return STOPPED
        last = self.last_step[trial.trial_id]
        if last is not None and step < last:
            return RUNNING
        return trial.status


def _last_step(trial: TrialCurves) -> int | None:
    steps = [s for c in trial.curves.values() for s, _ in c]
    return max(steps) if steps else None


def _final_value(trial: TrialCurves, metric: str) -> float | None:
    for _, value in reversed(trial.curves.get(metric, ())):
        if value is not None and not math.isnan(value):
            return value
    return None


def best_trial(trials: Sequence[TrialCurves], metric: MetricSpec | None) -> int | None:
    """The succeeded trial with the best final value (lowest id on ties), if any."""
    best: tuple[int, float] | None = None
    for t in sorted(trials, key=lambda t: t.trial_id):
        value = _final_value(t, metric.name) if metric and t.status == SUCCEEDED else None
        if value is not None and (best is None or metric.better(value, best[1])):
            best = (t.trial_id, value)
    return best[0] if best else None


def simulate(
    stopper: Stopper,
    trials: Sequence[TrialCurves],
    metric: MetricSpec,
    started_at: float,
) -> WhatIfResult:
    """Replay ``trials``' logged curves through ``stopper`` and report what it would have done.

    ``metric`` is the group's metric: it goes into every view and picks the eventual best
    trial. ``started_at`` is the group's start (seconds since the epoch).
    """
    replay = _Replay(trials)
    stopped: dict[int, int] = {}
    why: dict[int, tuple[str, str]] = {}
    group_stop: GroupStop | None = None
    for step in replay.all_steps():
        view = replay.view_at(step, stopped, metric, started_at)
        running = {t.trial_id for t in view.trials if t.status == RUNNING}
        for decision in stopper.decide(view):
            if decision.scope == "group":
                group_stop = GroupStop(step, decision.policy, decision.reason,
                                       decision.group_status)
                for trial_id in sorted(running - set(stopped)):
                    stopped[trial_id] = step
                    why[trial_id] = (f"group stopped: {decision.reason}", decision.policy)
                break
            if decision.trial_id in running and decision.trial_id not in stopped:
                stopped[decision.trial_id] = step
                why[decision.trial_id] = (decision.reason, decision.policy)
        if group_stop is not None:
            break

    outcomes = tuple(
        TrialOutcome(
            trial_id=t.trial_id,
            status=t.status,
            steps_logged=replay.last_step[t.trial_id] or 0,
            stopped_at_step=stopped.get(t.trial_id),
            reason=why.get(t.trial_id, (None, None))[0],
            policy=why.get(t.trial_id, (None, None))[1],
        )
        for t in replay.trials
    )
    return WhatIfResult(
        policy=stopper.name,
        config=stopper.config.model_dump(),
        metric=metric,
        trials=outcomes,
        group_stop=group_stop,
        best_trial_id=best_trial(trials, metric),
        notes=_notes(replay.trials),
    )


def _notes(trials: Sequence[TrialCurves]) -> tuple[str, ...]:
    notes = [LOCKSTEP_NOTE]
    already = [t.trial_id for t in trials if t.status == STOPPED]
    if already:
        notes.append(
            f"{len(already)} trial(s) were already stopped in the log ({_ids(already)}): "
            "their curves end where they were stopped, so the replay cannot tell how they "
            "would have gone on, and their saving counts only the steps they logged"
        )
    return tuple(notes)


def _ids(ids: Sequence[int], limit: int = 10) -> str:
    shown = ", ".join(str(i) for i in ids[:limit])
    return shown + (f", ... ({len(ids) - limit} more)" if len(ids) > limit else "")


def render(result: WhatIfResult) -> RenderableType:
    """A table per trial and a summary, for ``hpo whatif``."""
    table = Table(title=f"what if: {result.policy}", title_justify="left")
    for column in ("trial", "status", "steps logged", "stopped at", "saved", "reason"):
        table.add_column(column, justify="right" if column != "reason" else "left")
    for t in result.trials:
        mark = " *" if t.trial_id == result.best_trial_id else ""
        table.add_row(
            f"{t.trial_id}{mark}",
            t.status,
            str(t.steps_logged),
            "-" if t.stopped_at_step is None else str(t.stopped_at_step),
            str(t.steps_saved),
            clean(t.reason or ""),
        )
    lines = [
        f"config: {result.config}",
        f"would stop {len(result.stopped_trials)} of {len(result.trials)} trials; steps: "
        f"{result.steps_would_run} of {result.steps_logged} would have run, "
        f"{result.steps_saved} saved ({result.saved_percent:.1f}%)",
    ]
    if result.best_trial_id is None:
        lines.append("best trial: none succeeded with a value")
    else:
        fate = result.outcome(result.best_trial_id)
        verdict = (
            f"WOULD HAVE BEEN STOPPED at step {fate.stopped_at_step}"
            if fate.stopped_at_step is not None
            else "would have run to the end"
        )
        lines.append(f"best trial (*): {result.best_trial_id}, {verdict}")
    if result.group_stop is not None:
        g = result.group_stop
        lines.append(f"group would stop at step {g.step} as {g.status}: {g.reason}")
    lines += [f"note: {n}" for n in result.notes]
    return RichGroup(table, *(Text(clean(line)) for line in lines))
