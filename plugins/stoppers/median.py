"""The median stopping rule (Golovin et al. 2017, Google Vizier).

A running trial T is judged at its checkpoint ``t`` (its largest reported step rounded down to a
multiple of ``every``, once ``t >= min_steps``). T is stopped when its best value at steps
``<= t`` is strictly worse than the median of the *other* trials' running averages up to ``t``
(mean of their values at steps ``<= t``), counting only trials that have reached ``t``, and only
once at least ``min_trials`` of them have. Other trials count whatever their status.
"""

from __future__ import annotations

import statistics

from pydantic import Field

from hpo.contracts.hookspecs import hookimpl
from hpo.contracts.stopper import StopDecision

from ._base import MetricOptions, SeriesTable, TrialStopper, fmt
from ._curves import Series, checkpoint


class MedianConfig(MetricOptions):
    min_steps: int = Field(default=0, ge=0)
    min_trials: int = Field(default=3, ge=1)
    every: int = Field(default=1, ge=1)


class Median(TrialStopper):
    """Stop a trial whose best value so far is worse than the median of the others' averages."""

    name = "median"
    version = "1"
    Config = MedianConfig

    def judge(self, trial_id: int, series: Series, table: SeriesTable) -> StopDecision | None:
        cfg: MedianConfig = self.config  # type: ignore[assignment]
        step = checkpoint(series.last_step, cfg.every, cfg.min_steps)
        if step is None:
            return None
        best = series.best_upto(step)
        if best is None:
            return None
        averages: dict[int, float] = {}
        for other_id, other in table.series.items():
            if other_id == trial_id or not other.reached(step):
                continue
            mean = other.mean_upto(step)
            if mean is not None:
                averages[other_id] = mean
        if len(averages) < cfg.min_trials:
            return None
        median = statistics.median(averages.values())
        if not self.target.better(median, best):
            return None
        reason = (
            f"trial {trial_id}: best {self.target.name} so far {fmt(best)} at step {step} is "
            f"worse than {fmt(median)}, the median running average of {len(averages)} other trials"
        )
        return self.stop(trial_id, reason, step, best, median, list(averages))


@hookimpl
def hpo_register_stoppers(register):
    """Its own entry point (``median``), so ``HPO_DISABLE_PLUGINS=median`` leaves the others."""
    register(Median)
