"""The "diff" rule: stop a trial that is too far behind the best trial at the same step.

A running trial T is judged at its checkpoint ``t`` (its largest reported step rounded down to a
multiple of ``every``, once ``t >= min_steps``), once at least ``min_trials`` other trials have a
value at ``t``. With ``best`` the best value any trial (T included, any status) has at ``t`` and
``gap = |best - value|`` measured in the worse direction, T is stopped when
``gap > margin`` (or ``gap > margin * |best|`` with ``relative: true``). A gap equal to the
margin keeps the trial.
"""

from __future__ import annotations

from pydantic import Field

from hpo.contracts.hookspecs import hookimpl
from hpo.contracts.stopper import StopDecision

from ._base import MetricOptions, SeriesTable, TrialStopper, fmt
from ._curves import Series, checkpoint


class ThresholdConfig(MetricOptions):
    margin: float = Field(ge=0)
    relative: bool = False
    every: int = Field(default=1, ge=1)
    min_steps: int = Field(default=0, ge=0)
    min_trials: int = Field(default=1, ge=1)


class Threshold(TrialStopper):
    """Stop trials worse than the best at the same step by more than ``margin``."""

    name = "threshold"
    version = "1"
    Config = ThresholdConfig

    def judge(self, trial_id: int, series: Series, table: SeriesTable) -> StopDecision | None:
        cfg: ThresholdConfig = self.config  # type: ignore[assignment]
        step = checkpoint(series.last_step, cfg.every, cfg.min_steps)
        if step is None:
            return None
        score = series.score_at(step)
        population = table.scores_at(step)
        compared = [i for i, _ in population if i != trial_id]
        if score is None or len(compared) < cfg.min_trials:
            return None
        best_score = max(s for _, s in population)
        best = self.value(best_score)
        allowed = cfg.margin * abs(best) if cfg.relative else cfg.margin
        if best_score - score <= allowed:
            return None
        value, threshold = self.value(score), self.value(best_score - allowed)
        margin = f"{cfg.margin:g} x |best|" if cfg.relative else f"{cfg.margin:g}"
        reason = (
            f"trial {trial_id}: {self.target.name}={fmt(value)} at step {step} is more than "
            f"{margin} behind the best {fmt(best)}"
        )
        return self.stop(trial_id, reason, step, value, threshold, compared, best=best)


@hookimpl
def hpo_register_stoppers(register):
    """Its own entry point (``threshold``), so ``HPO_DISABLE_PLUGINS=threshold`` leaves the others."""
    register(Threshold)
