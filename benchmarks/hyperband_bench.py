"""Hyperband against random search at full resource, on the SGD-on-digits learning curves.

For each seed: hyperband (max_iter 81, eta 3) runs to the end; random search then runs
``floor(R / max_iter)`` configurations at the full 81 epochs, where R is hyperband's total
resource, so both spend the same budget. We report the loss each reaches, and the share of the
random search's resource that hyperband needed to reach random search's final loss (the target:
at most 1/3). "any rung" counts every model hyperband trained (a model trained for 9 epochs is a
real model with a real validation error); "max_iter only" counts only fully trained ones.
"""

from __future__ import annotations

import math

import numpy as np

from drivers import make_spec, run_hpo, searcher_for
from learning_curve import MATRIX, RESOURCE, Curves


def _resource_to_reach(target: float, values, resources) -> float:
    cum = np.cumsum(resources)
    best = np.minimum.accumulate(values)
    hit = np.nonzero(best <= target)[0]
    return float(cum[hit[0]]) if len(hit) else math.inf


def run_seed(seed: int, max_iter: int = 81, eta: int = 3) -> dict:
    curves = Curves()
    block = {"max_iter": max_iter, "eta": eta, "resource": {"name": RESOURCE, "type": "int"}}
    hb = run_hpo(
        searcher_for(make_spec("hyperband", block, MATRIX, seed), seed),
        lambda p: curves.loss(p, p[RESOURCE]),
    )
    resources = [m["resource"] for m in hb.meta]
    total = int(sum(resources))
    n_random = total // max_iter
    rs_spec = make_spec("random_search", {"n_experiments": n_random}, MATRIX, seed)
    rs = run_hpo(searcher_for(rs_spec, seed), lambda p: curves.loss(p, max_iter))
    rs_total = n_random * max_iter
    full = [v if r == max_iter else math.inf for v, r in zip(hb.values, resources)]
    return {
        "seed": seed,
        "hyperband_trials": len(hb.values),
        "hyperband_resource": total,
        "random_trials": n_random,
        "random_resource": rs_total,
        "random_best": rs.best,
        "hyperband_best_any_rung": hb.best,
        "hyperband_best_max_iter": min(full),
        "fraction_any_rung": _resource_to_reach(rs.best, hb.values, resources) / rs_total,
        "fraction_max_iter": _resource_to_reach(rs.best, full, resources) / rs_total,
        "suggest_ms_median": 1000 * float(np.median(hb.suggest_s)),
    }


def run(seeds: list[int]) -> dict:
    rows = [run_seed(s) for s in seeds]
    keys = [k for k in rows[0] if k != "seed"]
    return {"per_seed": rows, "median": {k: float(np.median([r[k] for r in rows])) for k in keys}}
