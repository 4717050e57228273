"""Why hyperband misses on a seed: train every configuration it sampled for the full 81 epochs.

For each seed given: rerun hyperband exactly as ``hyperband_bench`` does, then train each of its
configurations (every rung-0 trial) for ``max_iter`` epochs and report, per bracket, the best
loss its survivor reached, the best loss any of its configurations would have reached with the
full budget, the rung where that best configuration was cut, and its rank at each rung's
budget. This costs ~11,600 epochs per seed (a few minutes), which is why it is a separate script:
``python benchmarks/hyperband_oracle.py 11 15``.
"""

from __future__ import annotations

import json
import sys

from hyperband_bench import _config, run_hyperband, run_random
from learning_curve import new_model, train

MAX_ITER, ETA = 81, 3


def oracle(seed: int) -> dict:
    hb = run_hyperband(seed, MAX_ITER, ETA)
    total = sum(r["trained"] for r in hb)
    random_best = min(c[MAX_ITER] for c in run_random(seed, total // MAX_ITER, MAX_ITER))
    out = {"seed": seed, "random_best": random_best, "brackets": []}
    brackets = sorted({r["meta"]["bracket"] for r in hb}, reverse=True)
    for s in brackets:
        rows = [r for r in hb if r["meta"]["bracket"] == s]
        first = [r for r in rows if r["meta"]["rung"] == 0]
        budgets = sorted({r["meta"]["resource"] for r in rows})
        reached = {}  # config -> highest rung it ran at
        for r in rows:
            c = r["meta"]["config"]
            reached[c] = max(reached.get(c, 0), r["meta"]["rung"])
        curves, params = {}, {}
        for r in first:
            params[r["meta"]["config"]] = _config(r["params"])
            model = new_model(_config(r["params"]))
            curves[r["meta"]["config"]] = train(model, MAX_ITER, eval_at=budgets)
        best_c = min(curves, key=lambda c: curves[c][MAX_ITER])
        ranks = {}
        for b in budgets:
            order = sorted(curves, key=lambda c: (curves[c][b], c))
            ranks[b] = order.index(best_c) + 1
        last = [r for r in rows if r["meta"]["resource"] == MAX_ITER]
        survivor = min(r["loss"] for r in last)
        survivor_c = min(last, key=lambda r: r["loss"])["meta"]["config"]
        better_than_random = sum(1 for c in curves.values() if c[MAX_ITER] <= random_best)
        out["brackets"].append({
            "bracket": s, "configs": len(first), "survivor_loss": survivor,
            "best_config_loss_at_81": curves[best_c][MAX_ITER],
            "best_config_reached_rung": reached[best_c],
            "best_config_rank_at": ranks,
            "best_config_curve": curves[best_c],
            "best_config": params[best_c],
            "survivor_curve": curves[survivor_c],
            "survivor": params[survivor_c],
            "configs_beating_random_at_81": better_than_random,
        })
    return out


def main(argv: list[str]) -> int:
    for seed in map(int, argv):
        res = oracle(seed)
        print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
