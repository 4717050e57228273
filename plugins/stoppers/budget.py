"""Stop the whole search, as succeeded, when its budget is spent.

``max_trials``: the number of trials *started* (every status but ``pending``) reaches it.
``max_duration``: ``view.now - view.started_at`` (seconds since the group was created) reaches
it; written as seconds (``5400``) or a duration string (``"90m"``, ``"1h30m"``, ``"2d"``).
Both limits are inclusive; with both set, ``max_trials`` is checked first.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hpo.contracts.hookspecs import hookimpl
from hpo.contracts.searcher import PENDING
from hpo.contracts.stopper import StopDecision, Stopper, StopView

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_WHOLE = re.compile(r"(?:\s*\d+(?:\.\d+)?\s*[smhd])+\s*")


def parse_duration(raw: object) -> float:
    """Seconds from a number or a string such as ``"2h"``, ``"30m"``, ``"1h30m"``, ``"45s"``."""
    if isinstance(raw, bool):
        raise ValueError(f"expected a duration such as 3600, '30m' or '2h', got {raw!r}")
    if isinstance(raw, (int, float)):
        return float(raw)
    if isinstance(raw, str):
        text = raw.strip().lower()
        try:
            return float(text)
        except ValueError:
            pass
        if _WHOLE.fullmatch(text):
            return sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
    raise ValueError(
        f"expected a duration such as 3600, '30m', '2h' or '1h30m' "
        f"(units s, m, h, d), got {raw!r}"
    )


class BudgetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_trials: int | None = Field(default=None, ge=1)
    max_duration: float | None = Field(default=None, gt=0)  # seconds

    @field_validator("max_duration", mode="before")
    @classmethod
    def _duration(cls, raw: object) -> object:
        return None if raw is None else parse_duration(raw)

    @model_validator(mode="after")
    def _one_limit(self) -> "BudgetConfig":
        if self.max_trials is None and self.max_duration is None:
            raise ValueError("give max_trials, max_duration or both")
        return self


class Budget(Stopper):
    """Stop the group (succeeded) after ``max_trials`` started or ``max_duration`` elapsed."""

    name = "budget"
    version = "1"
    Config = BudgetConfig

    def decide(self, view: StopView) -> list[StopDecision]:
        cfg: BudgetConfig = self.config  # type: ignore[assignment]
        started = sorted(t.trial_id for t in view.trials if t.status != PENDING)
        elapsed = view.now - view.started_at
        if cfg.max_trials is not None and len(started) >= cfg.max_trials:
            rule, value, threshold = "max_trials", float(len(started)), float(cfg.max_trials)
            reason = f"{len(started)} trials started (max_trials={cfg.max_trials})"
            compared = started
        elif cfg.max_duration is not None and elapsed >= cfg.max_duration:
            rule, value, threshold = "max_duration", elapsed, cfg.max_duration
            reason = (
                f"the group has run {elapsed:.0f}s (max_duration={cfg.max_duration:g}s)"
            )
            compared = []
        else:
            return []
        evidence = {
            "policy": self.name,
            "config": cfg.model_dump(),
            "rule": rule,
            "step": None,
            "value": value,
            "threshold": threshold,
            "started_trials": len(started),
            "elapsed_s": elapsed,
            "compared_trials": compared,
        }
        return [
            StopDecision(
                scope="group",
                reason=reason,
                policy=self.name,
                group_status="succeeded",
                evidence=evidence,
                # max_trials is a budget on starts: the trials it counted finish their work;
                # max_duration is a budget on time: what still runs is stopped
                stop_running=rule == "max_duration",
            )
        ]


@hookimpl
def hpo_register_stoppers(register):
    """Its own entry point (``budget``), so ``HPO_DISABLE_PLUGINS=budget`` leaves the others."""
    register(Budget)
