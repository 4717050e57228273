"""Asynchronous successive halving (Li et al. 2020) as a stopping rule, like Ray's ASHAScheduler.

Rungs sit at ``round(min_resource * eta**k)`` steps, ``k = 0, 1, ...``, below ``max_resource``
(a trial at ``max_resource`` is done; judging it there would save nothing). A running trial below
``max_resource`` is judged at its current rung ``r``, the highest rung ``<=`` its largest
reported step. The trials
*recorded* at ``r`` are those with a value at ``r`` (any status, the judged one included); with
``n`` of them, the top ``ceil(n / eta)`` continue: the trial is stopped when its value at ``r`` is
strictly worse than the ``ceil(n / eta)``-th best. The first trial at a rung always continues.

Stoppers keep no memory, so the judgement is re-made on every call while the trial stays in the
rung: a better trial that arrives at ``r`` later can still stop it before it reaches the next
rung (Ray judges once, on arrival). Both agree when trials reach a rung together.
"""

from __future__ import annotations

import math

from pydantic import Field, model_validator

from hpo.contracts.hookspecs import hookimpl
from hpo.contracts.stopper import StopDecision

from ._base import MetricOptions, SeriesTable, TrialStopper, fmt
from ._curves import Series


class AshaConfig(MetricOptions):
    min_resource: int = Field(default=1, ge=1)
    max_resource: int | None = Field(default=None, ge=1)
    reduction_factor: float = Field(default=3.0, gt=1)

    @model_validator(mode="after")
    def _resources(self) -> "AshaConfig":
        if self.max_resource is not None and self.max_resource <= self.min_resource:
            raise ValueError(
                f"max_resource ({self.max_resource}) must be above "
                f"min_resource ({self.min_resource})"
            )
        return self


def rungs_upto(step: int, cfg: AshaConfig) -> list[int]:
    """The rungs at or below ``step`` (and below ``max_resource``), lowest first."""
    rungs: list[int] = []
    k = 0
    while True:
        rung = math.floor(cfg.min_resource * cfg.reduction_factor**k + 0.5)
        if rung > step or (cfg.max_resource is not None and rung >= cfg.max_resource):
            return rungs
        if not rungs or rung > rungs[-1]:
            rungs.append(rung)
        k += 1


class Asha(TrialStopper):
    """Stop a trial at a rung unless it is in the top ``1/eta`` of the trials recorded there."""

    name = "asha"
    version = "1"
    Config = AshaConfig

    def judge(self, trial_id: int, series: Series, table: SeriesTable) -> StopDecision | None:
        cfg: AshaConfig = self.config  # type: ignore[assignment]
        if cfg.max_resource is not None and series.last_step >= cfg.max_resource:
            return None  # it has had its full resource
        rungs = rungs_upto(series.last_step, cfg)
        if not rungs:
            return None
        rung = rungs[-1]
        score = series.score_at(rung)
        if score is None:
            return None
        recorded = table.scores_at(rung)
        n = len(recorded)
        keep = math.ceil(n / cfg.reduction_factor - 1e-9)
        cutoff = sorted((s for _, s in recorded), reverse=True)[keep - 1]
        if score >= cutoff:
            return None
        value, threshold = self.value(score), self.value(cutoff)
        reason = (
            f"trial {trial_id}: {self.target.name}={fmt(value)} at rung {rung} is not in the top "
            f"{keep} of {n} trials recorded there (needs {fmt(threshold)})"
        )
        compared = [i for i, _ in recorded if i != trial_id]
        return self.stop(trial_id, reason, rung, value, threshold, compared, rung=rung,
                         rung_index=len(rungs) - 1)


@hookimpl
def hpo_register_stoppers(register):
    """Its own entry point (``asha``), so ``HPO_DISABLE_PLUGINS=asha`` leaves the others."""
    register(Asha)
