"""Hyperband (``resume: true``) against random search at full resource, on MLP-on-digits curves.

For each seed: hyperband (``max_iter: 81, eta: 3, resume: true``) runs to the end, one trial at
a time (concurrency 1), each trial training a real model; a promoted trial continues its
parent's model and trains only the extra epochs. Random search then runs
``floor(R / max_iter)`` configurations at the full 81 epochs, where R is the epochs hyperband
actually trained, so both spend (nearly) the same budget.

The measure (issue #3's target is at most 1/3): walk hyperband's trials in launch order, adding
up the epochs each one actually trained; at the first trial whose validation loss is <= random
search's final best loss, that running total divided by random search's total epochs is the
share of random search's resource hyperband needed. "any rung" lets any trained model count
(a model trained for 9 epochs is a real model with a real validation loss); "max_iter only"
lets only models trained for the full 81 epochs count (the epochs of every trial are still
spent). A seed where hyperband never gets there counts as ``inf`` ("never").

Run it alone for the per-seed table: ``python benchmarks/hyperband_bench.py --seeds 10``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from drivers import make_spec, run_hpo, searcher_for
from hpo.contracts.searcher import SearchHistory, Suggestion, TrialRecord
from learning_curve import MATRIX, RESOURCE, new_model, train

RESULTS = Path(__file__).parent / "results"
LOW_BUDGETS = (1, 3, 9, 27)


def _config(params: dict) -> dict:
    return {k: v for k, v in params.items() if k != RESOURCE}


def run_hyperband(seed: int, max_iter: int, eta: int) -> list[dict]:
    """Drive the searcher as the engine does at concurrency 1, keeping each trial's model.

    Returns one row per trial, in launch order: its meta, params, loss and the epochs it trained.
    """
    block = {
        "max_iter": max_iter, "eta": eta, "resume": True,
        "resource": {"name": RESOURCE, "type": "int"},
    }
    searcher = searcher_for(make_spec("hyperband", block, MATRIX, seed), seed)
    trials: list[TrialRecord] = []
    rows: list[dict] = []
    models = {}  # trial id -> the model that trial left, until its promoted child takes it
    while True:
        decision = searcher.suggest(SearchHistory(tuple(trials)))
        if not isinstance(decision, Suggestion):
            break
        trial_id, meta = len(trials) + 1, decision.meta
        epochs = int(decision.params[RESOURCE])
        if meta["parent"] is None:
            model = new_model(_config(decision.params))
        else:
            # the engine hands a promoted trial its parent's checkpoint only with resume: true
            assert meta.get("resume") is True, meta
            model = models.pop(meta["parent"])
        before = model.epochs
        loss = train(model, epochs)[epochs]
        models[trial_id] = model
        status = "failed" if model.diverged else "succeeded"
        trials.append(TrialRecord(trial_id, decision.params, status,
                                  None if model.diverged else loss, meta))
        rows.append({"meta": meta, "params": decision.params, "loss": loss,
                     "trained": model.epochs - before})
    return rows


def run_random(seed: int, n: int, max_iter: int) -> list[dict[int, float]]:
    """``n`` random configurations, each trained for ``max_iter`` epochs; their curves."""
    curves: list[dict[int, float]] = []

    def objective(params):
        curve = train(new_model(_config(params)), max_iter, eval_at=LOW_BUDGETS)
        curves.append(curve)
        return curve[max_iter]

    run_hpo(searcher_for(make_spec("random_search", {"n_experiments": n}, MATRIX, seed), seed),
            objective)
    return curves


def resource_to_reach(target: float, values, spent) -> float:
    """Running total of ``spent`` at the first value <= target (values in launch order)."""
    cum = np.cumsum(spent)
    hit = np.nonzero(np.minimum.accumulate(values) <= target)[0]
    return float(cum[hit[0]]) if len(hit) else math.inf


def _spearman(a, b) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def run_seed(seed: int, max_iter: int = 81, eta: int = 3) -> dict:
    started = time.perf_counter()
    hb = run_hyperband(seed, max_iter, eta)
    losses = [r["loss"] for r in hb]
    spent = [r["trained"] for r in hb]
    planned = [r["meta"]["resource"] for r in hb]  # what each trial would cost without resume
    total = int(sum(spent))
    n_random = total // max_iter
    # one configuration more than the budget allows, as a check on the rounding down: random
    # search's suggestions depend on the seed and trial id only, so the first n_random are the
    # same configurations a run of n_random would try
    curves_plus_one = run_random(seed, n_random + 1, max_iter)
    curves = curves_plus_one[:n_random]
    rs_total = n_random * max_iter
    rs_best = min(c[max_iter] for c in curves)
    rs_best_plus_one = min(c[max_iter] for c in curves_plus_one)
    full = [v if r == max_iter else math.inf for v, r in zip(losses, planned)]
    final = [c[max_iter] for c in curves]
    return {
        "seed": seed,
        "hyperband_trials": len(hb),
        "hyperband_configs": sum(1 for r in hb if r["meta"]["parent"] is None),
        "hyperband_resource": total,
        "random_trials": n_random,
        "random_resource": rs_total,
        "random_best": rs_best,
        "random_best_plus_one": rs_best_plus_one,
        "hyperband_best_any_rung": min(losses),
        "hyperband_best_max_iter": min(full),
        "fraction_any_rung": resource_to_reach(rs_best, losses, spent) / rs_total,
        "fraction_max_iter": resource_to_reach(rs_best, full, spent) / rs_total,
        "fraction_any_rung_plus_one":
            resource_to_reach(rs_best_plus_one, losses, spent) / (rs_total + max_iter),
        # the same walk if every promoted trial had retrained from scratch (resume: false)
        "fraction_any_rung_no_resume": resource_to_reach(rs_best, losses, planned) / rs_total,
        # how well a low budget ranks configurations, on random search's full curves
        **{f"spearman_{r}_vs_{max_iter}": _spearman([c[r] for c in curves], final)
           for r in LOW_BUDGETS},
        "diverged_random": sum(1 for v in final if math.isinf(v)),
        "wall_s": time.perf_counter() - started,
        "random_curves": [{str(k): v for k, v in sorted(c.items())} for c in curves],
    }


def _median(rows: list[dict], key: str) -> float:
    return float(np.median([r[key] for r in rows]))


def run(seeds: list[int]) -> dict:
    rows = [run_seed(s) for s in seeds]
    keys = [k for k in rows[0] if k not in ("seed", "random_curves")]
    medians = {k: _median(rows, k) for k in keys}
    medians["seeds_never_any_rung"] = sum(math.isinf(r["fraction_any_rung"]) for r in rows)
    medians["seeds_never_max_iter"] = sum(math.isinf(r["fraction_max_iter"]) for r in rows)
    medians["seeds_never_any_rung_plus_one"] = sum(
        math.isinf(r["fraction_any_rung_plus_one"]) for r in rows
    )
    return {"per_seed": rows, "median": medians, "pooled": pooled_ranking(rows)}


def pooled_ranking(rows: list[dict], max_iter: int = 81) -> dict:
    """Over every random-search curve of every seed: Spearman of the loss at r vs at max_iter,
    and how much worse (at max_iter) the config that was best at r is than the best at max_iter,
    per seed, median."""
    curves = [c for r in rows for c in r["random_curves"]]
    final = [c[str(max_iter)] for c in curves]
    out = {"curves": len(curves)}
    for r in LOW_BUDGETS:
        out[f"spearman_{r}_vs_{max_iter}"] = _spearman([c[str(r)] for c in curves], final)
        gaps = []
        for row in rows:
            cs = row["random_curves"]
            pick = min(cs, key=lambda c: c[str(r)])
            gaps.append(pick[str(max_iter)] - min(c[str(max_iter)] for c in cs))
        out[f"median_gap_best_at_{r}"] = float(np.median(gaps))
    return out


def _fmt(v: float) -> str:
    return "never" if math.isinf(v) else f"{v:.2f}"


def table_markdown(result: dict) -> str:
    """The per-seed table (and the medians) as Markdown, ready for the docs."""
    lines = [
        (
            "| seed | random best (19 / 20 configs) | hyperband best (any rung / 81 only) "
            "| share, any rung | share, 81 only | share, any rung, 20 random configs "
            "| share, any rung, no resume | Spearman 1, 3, 9, 27 vs 81 |"
        ),
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def row(label, r):
        return (
            f"| {label} | {r['random_best']:.4f} / {r['random_best_plus_one']:.4f} "
            f"| {r['hyperband_best_any_rung']:.4f} / {r['hyperband_best_max_iter']:.4f} "
            f"| {_fmt(r['fraction_any_rung'])} | {_fmt(r['fraction_max_iter'])} "
            f"| {_fmt(r['fraction_any_rung_plus_one'])} "
            f"| {_fmt(r['fraction_any_rung_no_resume'])} | "
            + ", ".join(f"{r[f'spearman_{b}_vs_81']:.2f}" for b in LOW_BUDGETS) + " |"
        )

    for r in result["per_seed"]:
        lines.append(row(str(r["seed"]), r))
    lines.append(row("**median**", result["median"]))
    m = result["median"]
    lines.append("")
    lines.append(
        f"Seeds that never reach random search's best: {m['seeds_never_any_rung']} (any rung), "
        f"{m['seeds_never_max_iter']} (81 only), {m['seeds_never_any_rung_plus_one']} "
        "(any rung, 20 random configs)."
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS / "hyperband.json")
    args = parser.parse_args(argv)
    started = time.time()
    result = run(list(range(args.seeds)))
    result["wall_s"] = time.time() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(table_markdown(result))
    print(f"pooled over random search's curves: {result['pooled']}")
    print(f"wrote {args.out} in {result['wall_s']:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
