"""The ``bohb`` searcher: hyperband's brackets, new configurations from a density model.

Brackets, rungs, promotion, resume and the order work is handed out are hyperband's
(:class:`~hpo.plugins.search.hyperband.searcher.HyperbandSearcher`); only a bracket's new
configurations differ. With probability ``random_fraction``, or while no budget has enough
observations, one is drawn at random exactly as hyperband draws it; otherwise from the density
model (:mod:`.kde`) fitted on the observations at the largest resource that has at least
``min_points_in_model + 2`` of them (Falkner et al. 2018, Algorithm 2). ``iterations`` runs the
whole set of brackets that many times, the model learning across them.

Everything is rebuilt from the history on each call (the finished trials' params, values and
the ``resource`` of their meta), so the same history gives the same suggestion.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import Field, model_validator
from threadpoolctl import threadpool_limits

from hpo.contracts.searcher import FAILED, SUCCEEDED, Plan, SearchHistory
from hpo.errors import SpecError
from hpo.spec.params import Numeric
from hpo.plugins.search.bo.space import UNBOUNDED_KINDS, Encoder
from hpo.plugins.search.hyperband.brackets import (
    Bracket,
    default_min_resource,
    plan,
    plan_json,
)
from hpo.plugins.search.hyperband.searcher import HyperbandConfig, HyperbandSearcher

from .kde import Axes, Density, propose


class BOHBConfig(HyperbandConfig):
    """Hyperband's options, the smallest resource a bracket starts at, how often the brackets
    run, and the model's (the paper's defaults). An omitted ``min_resource`` is resolved to the
    bottom of the top three rungs (hyperband's ``brackets.default_min_resource``), so the group
    records it; an explicit ``null`` keeps every bracket of hyperband's."""

    min_resource: int | float | None = Field(None, gt=0)  # the paper's smallest budget
    iterations: int = Field(1, ge=1, le=100)  # times the whole set of brackets runs
    random_fraction: float = Field(1 / 3, ge=0, le=1)  # share of configurations drawn at random
    top_n_percent: float = Field(15, gt=0, lt=100)  # observations that make the good density
    min_points_in_model: int | None = Field(None, ge=1)  # default: parameters + 1
    num_samples: int = Field(64, ge=1)  # candidates drawn from the good density per suggestion
    bandwidth_factor: float = Field(3, gt=0)  # widens the good density for drawing candidates
    min_bandwidth: float = Field(1e-3, gt=0)  # keeps the model exploring on a collapsed axis

    @model_validator(mode="after")
    def _default_min_resource(self) -> "BOHBConfig":
        if "min_resource" not in self.model_fields_set:
            self.min_resource = default_min_resource(self.max_iter, self.eta, self.resource.type)
        return self


class BOHBSearcher(HyperbandSearcher):
    name = "bohb"
    version = "1"
    Config = BOHBConfig
    spec_keys = ("bohb",)

    def __init__(self, spec: Any, seed: int):
        super().__init__(spec, seed)
        cfg = self.config
        try:  # hyperband's brackets from min_resource up, s_max first
            one = plan(cfg.max_iter, cfg.eta, cfg.resource.type, cfg.min_resource)
        except ValueError as exc:
            field = "min_resource" if cfg.min_resource is not None else "eta"
            raise SpecError(str(exc), f"{spec.search.path}.{field}") from None
        # ids stay unique and fall in run order
        n, runs = len(one), cfg.iterations
        self.brackets = [Bracket(s=(runs - 1 - i) * n + b.s, rungs=b.rungs)
                         for i in range(runs) for b in one]
        self.per_iteration = n

    def check_spec(self, spec: Any) -> None:
        super().check_spec(spec)
        for param in spec.matrix.values():
            dom = param.domain()
            if param.kind in UNBOUNDED_KINDS or (isinstance(dom, Numeric) and not dom.bounded):
                raise SpecError(
                    f"bohb cannot model a {param.kind} parameter: its support is unbounded and "
                    "the density model works on a bounded box; use uniform, quniform, "
                    "loguniform or qloguniform with explicit bounds", param.path)
        if not spec.matrix:
            raise SpecError("bohb needs at least one matrix parameter to search", "matrix")
        self.axes = Axes(Encoder(spec.matrix))
        self.min_points = self.config.min_points_in_model or len(spec.matrix) + 1

    def plan(self) -> Plan:
        cfg = self.config
        return Plan(self.planned_trials(), plan_json(self.brackets)["brackets"], cfg.resource.name,
                    f"max_iter={cfg.max_iter}, eta={cfg.eta}, iterations={cfg.iterations}", cfg.resume)

    def _fresh(
        self, bracket: int, config: int, history: SearchHistory
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        where = {"s": bracket % self.per_iteration,
                 "iteration": self.config.iterations - 1 - bracket // self.per_iteration}
        coin = np.random.default_rng([self.seed, bracket, config, 1]).random()
        budget = None if coin < self.config.random_fraction else self._model_budget(history)
        if budget is None:  # drawn as hyperband draws, from the same generator
            return self._sample(bracket, config), {**where, "model": None}
        rng = np.random.default_rng([self.seed, bracket, config, 2])
        good, bad = self._densities(history, budget)
        cfg = self.config
        with threadpool_limits(limits=1):
            v = propose(good, bad, rng, cfg.num_samples, cfg.bandwidth_factor)
        return self.axes.params(v), {**where, "model": budget}

    # -- the model ---------------------------------------------------------------------------

    def _observations(self, history: SearchHistory) -> dict[Any, list[tuple[float, int, dict]]]:
        """Per resource: (rank key, trial id, config) of every finished trial of ours. A failed
        trial ranks below every value (as the paper's implementation scores it: infinitely
        bad); stopped and valueless trials say nothing and are left out."""
        sign, out = self.metric.sign(), {}
        for t in history.trials:
            if "rung" not in t.meta or "resource" not in t.meta:
                continue
            if t.status == SUCCEEDED and t.value is not None and math.isfinite(t.value):
                key = -sign * float(t.value)
            elif t.status == FAILED:
                key = math.inf
            else:
                continue
            config = {k: t.params[k] for k in self.space}
            out.setdefault(t.meta["resource"], []).append((key, t.trial_id, config))
        return out

    def _model_budget(self, history: SearchHistory) -> Any:
        """The largest resource with enough observations for both densities, or None."""
        enough = [r for r, obs in self._observations(history).items()
                  if len(obs) >= self.min_points + 2]
        return max(enough) if enough else None

    def _densities(self, history: SearchHistory, budget: Any) -> tuple[Density, Density]:
        obs = sorted(self._observations(history)[budget], key=lambda o: (o[0], o[1]))
        n = len(obs)
        n_good = max(self.min_points, int(self.config.top_n_percent * n) // 100)
        n_bad = max(self.min_points, int((100 - self.config.top_n_percent) * n) // 100)
        V = self.axes.vectors([o[2] for o in obs])
        choices, floor = self.axes.choices, self.config.min_bandwidth
        return (Density.fit(V[:n_good], choices, floor),
                Density.fit(V[n_good:n_good + n_bad], choices, floor))
