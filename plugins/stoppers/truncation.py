"""Truncation: stop the worst ``percent`` of trials at each evaluation interval.

A running trial T is judged at its checkpoint ``t`` (its largest reported step rounded down to a
multiple of ``every``, once ``t >= min_steps``). The population is every trial with a value at
``t`` (T included, whatever their status, so a trial stopped here keeps its place in the
ranking and stopping it never exposes the next one). With ``n`` trials in it and
``n >= min_trials``, ``k = floor(n * percent / 100)`` are to go: T is stopped when its value at
``t`` is strictly worse than the ``(n - k)``-th best value. Ties at the cut are all kept.
"""

from __future__ import annotations

import math

from pydantic import Field

from hpo.contracts.hookspecs import hookimpl
from hpo.contracts.stopper import StopDecision

from ._base import MetricOptions, SeriesTable, TrialStopper, fmt
from ._curves import Series, checkpoint


class TruncationConfig(MetricOptions):
    percent: float = Field(default=25.0, gt=0, lt=100)
    every: int = Field(default=1, ge=1)
    min_trials: int = Field(default=4, ge=1)
    min_steps: int = Field(default=0, ge=0)


class Truncation(TrialStopper):
    """Stop trials ranked in the worst ``percent`` at the same step."""

    name = "truncation"
    version = "1"
    Config = TruncationConfig

    def judge(self, trial_id: int, series: Series, table: SeriesTable) -> StopDecision | None:
        cfg: TruncationConfig = self.config  # type: ignore[assignment]
        step = checkpoint(series.last_step, cfg.every, cfg.min_steps)
        if step is None:
            return None
        score = series.score_at(step)
        population = table.scores_at(step)
        n = len(population)
        if score is None or n < cfg.min_trials:
            return None
        cut = math.floor(n * cfg.percent / 100 + 1e-9)
        if cut == 0:
            return None
        ranked = sorted((s for _, s in population), reverse=True)
        cutoff = ranked[n - cut - 1]
        if score >= cutoff:
            return None
        value, threshold = self.value(score), self.value(cutoff)
        reason = (
            f"trial {trial_id}: {self.target.name}={fmt(value)} at step {step} is in the worst "
            f"{cfg.percent:g}% of {n} trials (the best {n - cut} reach {fmt(threshold)})"
        )
        compared = [i for i, _ in population if i != trial_id]
        return self.stop(trial_id, reason, step, value, threshold, compared)


@hookimpl
def hpo_register_stoppers(register):
    """Its own entry point (``truncation``), so ``HPO_DISABLE_PLUGINS=truncation`` leaves the others."""
    register(Truncation)
