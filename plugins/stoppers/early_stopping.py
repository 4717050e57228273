"""The seed's ``early_stopping``: stop the whole search once a metric reaches a value.

Each entry ``{metric, value, optimization}`` is satisfied when *any* non-NaN value that *any*
trial reported for ``metric`` (at any step, whatever the trial's status now) reaches ``value``
inclusively: ``>=`` for maximize, ``<=`` for minimize. The first satisfied entry in list order
stops the group as succeeded; its reason names the entry, the trial and the value.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from hpo.contracts.hookspecs import hookimpl
from hpo.errors import SpecError
from hpo.contracts.options import parse_options
from hpo.contracts.stopper import StopDecision, Stopper, StopView

from ._base import fmt


class Entry(BaseModel):
    """One line of the seed's list."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    value: float
    optimization: Literal["maximize", "minimize"]  # required, as in the spec's own parser

    def reached(self, value: float) -> bool:
        return value >= self.value if self.optimization == "maximize" else value <= self.value


class EarlyStoppingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entries: list[Entry] = []
    # False (the default): trials still running when an entry fires are stopped;
    # True: no new trial starts, the running ones finish their work
    let_running_finish: bool = False


class EarlyStopping(Stopper):
    """Stop the group (succeeded) when any entry's metric reaches its value."""

    name = "early_stopping"
    version = "1"
    Config = EarlyStoppingConfig

    @classmethod
    def parse_config(cls, options: Any, path: str) -> BaseModel:
        """Accept the seed's bare list as well as ``{"entries": [...]}``.

        Entries are validated one by one so an error names ``path[i].field``.
        """
        if isinstance(options, list):
            options, entries_path = {"entries": options}, path
        else:
            entries_path = f"{path}.entries"
        entries = options.get("entries") if isinstance(options, dict) else None
        if entries is not None and not isinstance(entries, list):
            raise SpecError(f"expected a list of entries, got {entries!r}", entries_path)
        for i, entry in enumerate(entries or []):
            parse_options(Entry, entry, f"{entries_path}[{i}]")
        return parse_options(cls.Config, options, path)

    def decide(self, view: StopView) -> list[StopDecision]:
        satisfied = []
        for index, entry in enumerate(self.config.entries):
            hit = self._best_hit(entry, view)
            if hit is not None:
                satisfied.append((index, entry, hit))
        if not satisfied:
            return []
        index, entry, (trial_id, step, value) = satisfied[0]
        op = ">=" if entry.optimization == "maximize" else "<="
        reason = (
            f"early_stopping[{index}]: {entry.metric} {op} {fmt(entry.value)} reached by "
            f"trial {trial_id} ({entry.metric}={fmt(value)} at step {step})"
        )
        evidence = {
            "policy": self.name,
            "config": self.config.model_dump(),
            "entry": index,
            "metric": entry.metric,
            "optimization": entry.optimization,
            "trial_id": trial_id,
            "step": step,
            "value": value,
            "threshold": entry.value,
            "compared_trials": [trial_id],
            "satisfied_entries": [i for i, _, _ in satisfied],
        }
        return [
            StopDecision(
                scope="group",
                reason=reason,
                policy=self.name,
                group_status="succeeded",
                evidence=evidence,
                stop_running=not self.config.let_running_finish,
            )
        ]

    @staticmethod
    def _best_hit(entry: Entry, view: StopView) -> tuple[int, int, float] | None:
        """``(trial_id, step, value)`` of the best report reaching the entry, if any.

        Best by the entry's direction; ties go to the lowest trial id, then the earliest report.
        """
        sign = 1.0 if entry.optimization == "maximize" else -1.0
        best: tuple[int, int, float] | None = None
        for trial in sorted(view.trials, key=lambda t: t.trial_id):
            for step, value in trial.curves.get(entry.metric, ()):
                if value is None or math.isnan(value) or not entry.reached(value):
                    continue
                if best is None or sign * value > sign * best[2]:
                    best = (trial.trial_id, step, value)
        return best


@hookimpl
def hpo_register_stoppers(register):
    """Its own entry point (``early_stopping``), so ``HPO_DISABLE_PLUGINS=early_stopping`` leaves the others."""
    register(EarlyStopping)
