"""The Hyperband searcher: each execution of a configuration at a rung is one trial.

``suggest`` rebuilds every bracket's progress from the history (the ``bracket``/``rung``/
``config`` keys it wrote into each suggestion's meta) and returns the first piece of work any
bracket can start now, brackets in run order. A bracket whose rung is waiting for results does
not block the next bracket, so free slots never idle while any bracket has work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator

from hpo.errors import SpecError
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

from .brackets import Bracket, plan, plan_json, planned_trials


class Resource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    type: Literal["int", "float"] = "int"


class HyperbandConfig(BaseModel):
    """Options of the ``hyperband`` block (``metric`` and ``concurrency`` are read elsewhere)."""

    model_config = ConfigDict(extra="forbid")

    max_iter: int | float
    eta: int | float = 3
    resource: Resource
    resume: bool = False

    @field_validator("eta")
    @classmethod
    def _eta_above_one(cls, v: float) -> float:
        if not v > 1:
            raise ValueError("eta must be greater than 1 (the paper uses 3)")
        return v

    @field_validator("max_iter")
    @classmethod
    def _max_iter_positive(cls, v: float) -> float:
        if not v > 0:
            raise ValueError("max_iter must be greater than 0")
        return v


def check_resource(algorithm: str, cfg: HyperbandConfig, spec: Any) -> None:
    """The resource options every hyperband-like algorithm shares: a whole ``max_iter`` for an
    int resource, and a resource name that is not a matrix param."""
    path = spec.search.path
    if cfg.resource.type == "int" and float(cfg.max_iter) != int(cfg.max_iter):
        raise SpecError(
            f"max_iter must be a whole number for an int resource (got {cfg.max_iter!r})",
            f"{path}.max_iter",
        )
    if cfg.resource.name in spec.matrix:
        raise SpecError(
            f"the resource {cfg.resource.name!r} is also a matrix parameter: {algorithm} "
            "sets it for every trial, remove it from the matrix",
            f"{path}.resource.name",
        )


@dataclass(frozen=True)
class _Work:
    """One trial a bracket wants to start."""

    bracket: int
    rung: int
    config: int
    parent: TrialRecord | None
    note: str | None = None


class HyperbandSearcher(Searcher):
    name = "hyperband"
    version = "1"
    Config = HyperbandConfig
    needs_metric = True
    spec_keys = ("hyperband",)

    @classmethod
    def extra_params(cls, config: HyperbandConfig) -> tuple[str, ...]:
        """The resource: every trial gets it as a param (``{{ num_steps }}``)."""
        return (config.resource.name,)

    def __init__(self, spec: Any, seed: int):
        super().__init__(spec, seed)
        cfg = self.config
        self.resource = cfg.resource
        try:
            self.brackets: list[Bracket] = plan(cfg.max_iter, cfg.eta, cfg.resource.type)
        except ValueError as exc:
            raise SpecError(str(exc), f"{spec.search.path}.eta") from None

    def check_spec(self, spec: Any) -> None:
        super().check_spec(spec)
        check_resource(self.name, self.config, spec)

    def planned_trials(self) -> int:
        return planned_trials(self.brackets)

    def plan(self) -> Plan:
        cfg = self.config
        return Plan(self.planned_trials(), plan_json(self.brackets)["brackets"], cfg.resource.name,
                    f"max_iter={cfg.max_iter}, eta={cfg.eta}", cfg.resume)

    def continues(self, meta: dict[str, Any]) -> int | None:
        """With ``resume: true``, a promoted trial continues its parent's checkpoint."""
        parent = meta.get("parent")
        return parent if meta.get("resume") and isinstance(parent, int) else None

    # -- decisions -------------------------------------------------------------------------

    def suggest(self, history: SearchHistory) -> Suggestion | Wait | Exhausted:
        by_rung: dict[tuple[int, int], list[TrialRecord]] = {}
        for t in history.trials:
            key = (t.meta.get("bracket"), t.meta.get("rung"))
            by_rung.setdefault(key, []).append(t)
        waiting = False
        for bracket in self.brackets:
            work = self._next_in_bracket(bracket, by_rung)
            if isinstance(work, _Work):
                return self._suggestion(bracket, work, history)
            waiting = waiting or work
        if waiting:
            return Wait("every bracket is waiting for its current rung to finish")
        return Exhausted(
            f"{self.name} finished all {len(self.brackets)} brackets "
            f"({self.planned_trials()} planned rung executions)"
        )

    def _next_in_bracket(
        self, bracket: Bracket, by_rung: dict[tuple[int, int], list[TrialRecord]]
    ) -> _Work | bool:
        """The bracket's next trial, else True if it must wait for results, False if done."""
        started = by_rung.get((bracket.s, 0), [])
        if len(started) < bracket.rungs[0].n:
            return _Work(bracket.s, 0, len(started), None)
        for i in range(1, len(bracket.rungs)):
            previous = by_rung.get((bracket.s, i - 1), [])
            if not all(t.finished for t in previous):
                return True
            promoted, note = self._promotions(bracket, i, previous)
            done = {t.meta.get("parent") for t in by_rung.get((bracket.s, i), [])}
            for parent in promoted:
                if parent.trial_id not in done:
                    return _Work(bracket.s, i, int(parent.meta["config"]), parent, note)
            if not promoted:
                return False  # nothing survived to promote: the bracket ends here
        return False  # every planned trial of the bracket has been suggested

    def _promotions(
        self, bracket: Bracket, rung: int, previous: list[TrialRecord]
    ) -> tuple[list[TrialRecord], str | None]:
        """The planned ``n_rung`` best trials of rung ``rung - 1``, best first."""
        planned = bracket.rungs[rung].n
        valid = [
            t for t in previous
            if t.status == SUCCEEDED and t.value is not None and not math.isnan(t.value)
        ]
        sign = self.metric.sign()
        valid.sort(key=lambda t: (-sign * float(t.value), int(t.meta.get("config", 0))))
        promoted = valid[:planned]
        note = None
        if len(promoted) < planned:
            note = (
                f"only {len(valid)} of the {len(previous)} trials of rung {rung - 1} succeeded "
                f"with a value of {self.metric.name!r}; promoting {len(promoted)} instead of "
                f"the planned {planned} (failed, stopped and valueless trials are never promoted)"
            )
        return promoted, note

    def _suggestion(self, bracket: Bracket, work: _Work, history: SearchHistory) -> Suggestion:
        resource = bracket.rungs[work.rung].resource
        drawn: dict[str, Any] = {}
        if work.parent is None:
            params, drawn = self._fresh(work.bracket, work.config, history)
        else:
            params = {k: v for k, v in work.parent.params.items() if k != self.resource.name}
        params[self.resource.name] = resource
        meta: dict[str, Any] = {
            "bracket": work.bracket,
            "rung": work.rung,
            "resource": resource,
            "parent": work.parent.trial_id if work.parent else None,
            "config": work.config,
            **drawn,
        }
        if work.note:
            meta["note"] = work.note
        if self.config.resume and work.parent is not None:
            meta["resume"] = True
        return Suggestion(params=params, meta=meta)

    def _fresh(
        self, bracket: int, config: int, history: SearchHistory
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A new configuration for rung 0, and what to add to its meta about how it was drawn.
        Hyperband draws at random; a model-based variant overrides this."""
        return self._sample(bracket, config), {}

    def _sample(self, bracket: int, config: int) -> dict[str, Any]:
        """A fresh configuration, from the group seed, the bracket and the config index only."""
        rng = np.random.default_rng([self.seed, bracket, config])
        return {name: param.sample(rng) for name, param in self.space.items()}
