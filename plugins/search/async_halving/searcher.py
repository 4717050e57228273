"""The ``async_halving`` searcher: asynchronous successive halving (Li et al., MLSys 2020).

Every time a slot is free, ``suggest`` looks at the rungs from the top down: a finished trial
that is in the top ``floor(n / eta)`` of the ``n`` finished trials of its rung, and has not been
promoted yet, is promoted one rung up (best first); if no trial can be promoted, a new
configuration starts at the bottom rung. So it never waits for a rung to fill and never leaves a
slot idle while the budget lasts. Failed, stopped and valueless trials count among a rung's
finished trials but rank last and are never promoted.

The budget (``max_trials`` trials, or ``max_resource`` of resource summed over the trials
suggested, a continued trial costing only its extra resource) ends the search: work that would
exceed it is not started. ``suggest`` keeps no state: the rungs are rebuilt from the ``rung``,
``config`` and ``parent`` keys it wrote into each suggestion's meta.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from hpo.contracts.searcher import (
    SUCCEEDED,
    Exhausted,
    Plan,
    Searcher,
    SearchHistory,
    Suggestion,
    TrialRecord,
    Wait,
)
from hpo.errors import SpecError
from hpo.plugins.search.hyperband.brackets import default_min_resource
from hpo.plugins.search.hyperband.searcher import HyperbandConfig, check_resource

from .rungs import expected_sizes, rung_costs, rung_resources

EPS = 1e-9  # float budgets: a trial that fits exactly is not refused for rounding


class AsyncHalvingConfig(HyperbandConfig):
    """Hyperband's options (``max_iter``, ``eta``, ``resource``, ``resume``), the bottom rung
    and a budget: ``max_trials`` or ``max_resource`` (at least one). An omitted
    ``min_resource`` is resolved to the bottom of the top three rungs (hyperband's
    ``brackets.default_min_resource``), so the group records it; an explicit ``null`` keeps
    hyperband's smallest (every rung)."""

    min_resource: int | float | None = Field(None, gt=0)
    max_trials: int | None = Field(None, ge=1)
    max_resource: int | float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _default_bottom_rung(self) -> "AsyncHalvingConfig":
        if "min_resource" not in self.model_fields_set:
            self.min_resource = default_min_resource(self.max_iter, self.eta, self.resource.type)
        return self

    @model_validator(mode="after")
    def _a_budget(self) -> "AsyncHalvingConfig":
        if self.max_trials is None and self.max_resource is None:
            raise ValueError(
                "async_halving needs a budget so that it ends: set max_trials (trials, every "
                "rung counted) or max_resource (resource summed over all trials), or both"
            )
        return self


class AsyncHalvingSearcher(Searcher):
    name = "async_halving"
    version = "1"
    Config = AsyncHalvingConfig
    needs_metric = True
    spec_keys = ("async_halving",)

    @classmethod
    def extra_params(cls, config: AsyncHalvingConfig) -> tuple[str, ...]:
        """The resource: every trial gets it as a param (``{{ num_steps }}``)."""
        return (config.resource.name,)

    def check_spec(self, spec: Any) -> None:
        super().check_spec(spec)
        cfg, path = self.config, spec.search.path
        check_resource(self.name, cfg, spec)
        try:
            self.resources = rung_resources(cfg.max_iter, cfg.eta, cfg.min_resource,
                                            cfg.resource.type)
        except ValueError as exc:
            field = "min_resource" if cfg.min_resource is not None else "eta"
            raise SpecError(str(exc), f"{path}.{field}") from None
        self.costs = rung_costs(self.resources, cfg.resume)
        if cfg.max_resource is not None and cfg.max_resource < self.costs[0]:
            raise SpecError(
                f"max_resource {cfg.max_resource} is less than one trial at the bottom rung "
                f"({self.resources[0]}): nothing could run", f"{path}.max_resource")

    # -- what it plans ---------------------------------------------------------------------

    def sizes(self) -> list[int]:
        cfg = self.config
        return expected_sizes(self.resources, cfg.eta, cfg.resume, cfg.max_trials, cfg.max_resource)

    def planned_trials(self) -> int:
        return self.config.max_trials or sum(self.sizes())

    def plan(self) -> Plan:
        cfg = self.config
        budget = ", ".join(f"{k}={v}" for k, v in (("max_trials", cfg.max_trials),
                                                   ("max_resource", cfg.max_resource)) if v)
        rungs = [{"n": n, "resource": r} for n, r in zip(self.sizes(), self.resources)]
        return Plan(self.planned_trials(), [{"bracket": 0, "rungs": rungs}], cfg.resource.name,
                    f"max_iter={cfg.max_iter}, eta={cfg.eta}, {budget}, rung sizes estimated", cfg.resume)

    def continues(self, meta: dict[str, Any]) -> int | None:
        """With ``resume: true``, a promoted trial continues its parent's checkpoint."""
        parent = meta.get("parent")
        return parent if meta.get("resume") and isinstance(parent, int) else None

    # -- decisions -------------------------------------------------------------------------

    def suggest(self, history: SearchHistory) -> Suggestion | Wait | Exhausted:
        mine = [t for t in history.trials if "rung" in t.meta and "config" in t.meta]
        spent = sum(self.costs[int(t.meta["rung"])] for t in mine)
        for parent in self._promotable(mine):
            rung = int(parent.meta["rung"]) + 1
            if self._fits(len(mine), spent, self.costs[rung]):
                return self._suggestion(rung, int(parent.meta["config"]), parent)
        if self._fits(len(mine), spent, self.costs[0]):
            configs = sum(1 for t in mine if t.meta["rung"] == 0)
            return self._suggestion(0, configs, None)
        cfg = self.config
        if cfg.max_trials is not None and len(mine) >= cfg.max_trials:
            return Exhausted(f"async_halving ran its budget of {cfg.max_trials} trials")
        left = cfg.max_resource - spent  # type: ignore[operator]
        if left + EPS < min(self.costs) or not any(t.active for t in mine):
            return Exhausted(f"async_halving spent its budget: {spent:g} of max_resource "
                             f"{cfg.max_resource:g}, too little left for the work it has")
        return Wait(f"{left:g} of max_resource is left: too little for a new configuration; "
                    "waiting for running trials, whose results may allow a promotion that fits")

    def _fits(self, trials: int, spent: float, cost: float) -> bool:
        cfg = self.config
        if cfg.max_trials is not None and trials + 1 > cfg.max_trials:
            return False
        return cfg.max_resource is None or spent + cost <= cfg.max_resource + EPS

    def _promotable(self, mine: list[TrialRecord]) -> list[TrialRecord]:
        """Trials that may move up now, the highest rung first, best first within a rung."""
        promoted = {t.meta.get("parent") for t in mine}
        sign = self.metric.sign()
        out: list[TrialRecord] = []
        for rung in range(len(self.resources) - 2, -1, -1):
            finished = [t for t in mine if t.meta["rung"] == rung and t.finished]
            valid = [t for t in finished if t.status == SUCCEEDED and t.value is not None
                     and not math.isnan(t.value)]
            valid.sort(key=lambda t: (-sign * float(t.value), t.trial_id))
            top = valid[: math.floor(len(finished) / float(self.config.eta) + EPS)]
            out.extend(t for t in top if t.trial_id not in promoted)
        return out

    def _suggestion(self, rung: int, config: int, parent: TrialRecord | None) -> Suggestion:
        name, resource = self.config.resource.name, self.resources[rung]
        if parent is None:
            rng = np.random.default_rng([self.seed, config])
            params = {n: p.sample(rng) for n, p in self.space.items()}
        else:
            params = {k: v for k, v in parent.params.items() if k != name}
        params[name] = resource
        meta: dict[str, Any] = {"bracket": 0, "rung": rung, "resource": resource,
                                "parent": parent.trial_id if parent else None, "config": config}
        if self.config.resume and parent is not None:
            meta["resume"] = True
        return Suggestion(params=params, meta=meta)
