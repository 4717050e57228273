"""Stop the whole search, as failed, when too many trials fail.

``failed`` counts trials whose status is ``failed``; ``finished`` counts ``succeeded``,
``failed`` and ``stopped`` ones (a stopped trial is finished, not failed). The group stops once
``failed >= max_failed``, or once ``finished >= min_finished`` and
``failed / finished >= max_failed_fraction``. Both limits are inclusive.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hpo.contracts.hookspecs import hookimpl
from hpo.contracts.searcher import FAILED, FINISHED_STATUSES
from hpo.contracts.stopper import StopDecision, Stopper, StopView


class FailuresConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_failed: int | None = Field(default=None, ge=1)
    max_failed_fraction: float | None = Field(default=None, gt=0, le=1)
    min_finished: int = Field(default=5, ge=1)

    @model_validator(mode="after")
    def _one_limit(self) -> "FailuresConfig":
        if self.max_failed is None and self.max_failed_fraction is None:
            raise ValueError("give max_failed, max_failed_fraction or both")
        return self


class Failures(Stopper):
    """Stop the group (failed) after too many failed trials."""

    name = "failures"
    version = "1"
    Config = FailuresConfig

    def decide(self, view: StopView) -> list[StopDecision]:
        cfg: FailuresConfig = self.config  # type: ignore[assignment]
        failed = sorted(t.trial_id for t in view.trials if t.status == FAILED)
        finished = sum(1 for t in view.trials if t.status in FINISHED_STATUSES)
        if cfg.max_failed is not None and len(failed) >= cfg.max_failed:
            rule, threshold, value = "max_failed", float(cfg.max_failed), float(len(failed))
            reason = f"{len(failed)} trials failed (max_failed={cfg.max_failed})"
        elif (
            cfg.max_failed_fraction is not None
            and finished >= cfg.min_finished
            and len(failed) / finished >= cfg.max_failed_fraction
        ):
            rule, threshold = "max_failed_fraction", cfg.max_failed_fraction
            value = len(failed) / finished
            reason = (
                f"{len(failed)} of {finished} finished trials failed ({value:.0%}, "
                f"max_failed_fraction={cfg.max_failed_fraction:g})"
            )
        else:
            return []
        evidence = {
            "policy": self.name,
            "config": cfg.model_dump(),
            "rule": rule,
            "step": None,
            "value": value,
            "threshold": threshold,
            "failed": len(failed),
            "finished": finished,
            "compared_trials": failed,
        }
        return [
            StopDecision(
                scope="group",
                reason=reason,
                policy=self.name,
                group_status="failed",
                evidence=evidence,
            )
        ]


@hookimpl
def hpo_register_stoppers(register):
    """Its own entry point (``failures``), so ``HPO_DISABLE_PLUGINS=failures`` leaves the others."""
    register(Failures)
