"""Run one searcher on one problem for one seed, the way the engine would (one slot).

``run_hpo`` drives any installed hpo searcher through ``suggest`` and a history, exactly as the
engine does with concurrency 1, and times every ``suggest`` call. ``run_optuna`` does the same
with an Optuna sampler through ``ask``/``tell``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from hpo.contracts.registry import default_registry
from hpo.contracts.searcher import SearchHistory, Suggestion, TrialRecord
from hpo.spec import parse_spec

OBSERVATIONS_FOR_TIMING = 50


@dataclass
class Run:
    values: list[float]  # loss of each trial, in order
    suggest_s: list[float]  # seconds per suggest call
    meta: list[dict] = field(default_factory=list)
    params: list[dict] = field(default_factory=list)
    history: SearchHistory = field(default_factory=SearchHistory)

    @property
    def best(self) -> float:
        return min(self.values) if self.values else float("inf")


def make_spec(algorithm_key: str, block: dict[str, Any], matrix: dict[str, Any], seed: int):
    block = dict(block)
    block.setdefault("metric", {"name": "loss", "optimization": "minimize"})
    if algorithm_key in ("grid_search", "random_search"):
        block.pop("metric")
    data = {"run": {"cmd": "true"}, "seed": seed, "settings": {algorithm_key: block, "matrix": matrix}}
    return parse_spec(data)


def searcher_for(spec, seed: int):
    cls = default_registry().get("searcher", spec.search.algorithm).cls
    return cls(spec, seed)


def run_hpo(searcher, objective: Callable[[dict], float], max_trials: int | None = None) -> Run:
    trials: list[TrialRecord] = []
    run = Run([], [])
    while max_trials is None or len(trials) < max_trials:
        history = SearchHistory(tuple(trials))
        start = time.perf_counter()
        decision = searcher.suggest(history)
        run.suggest_s.append(time.perf_counter() - start)
        if not isinstance(decision, Suggestion):
            break
        value = float(objective(decision.params))
        trials.append(TrialRecord(len(trials) + 1, decision.params, "succeeded", value, decision.meta))
        run.values.append(value)
        run.meta.append(decision.meta)
        run.params.append(decision.params)
    run.history = SearchHistory(tuple(trials))
    return run


def time_suggest_at(searcher, history: SearchHistory, repeats: int = 5) -> float:
    """Median seconds of ``suggest`` on a fixed history (e.g. 50 observations)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        searcher.suggest(history)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def run_optuna(sampler_name: str, problem, seed: int, n_trials: int) -> Run:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if sampler_name == "optuna-gp":
        sampler = optuna.samplers.GPSampler(seed=seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    run = Run([], [])
    for _ in range(n_trials):
        start = time.perf_counter()
        trial = study.ask()
        params = problem.optuna_params(trial)
        run.suggest_s.append(time.perf_counter() - start)
        value = float(problem.loss(params))
        study.tell(trial, value)
        run.values.append(value)
        run.params.append(params)
    return run
