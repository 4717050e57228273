"""Search-quality benchmark of the built-in searchers (and Optuna's, when it is installed).

    python benchmarks/search_quality.py            # 50 trials x 5 seeds, every problem (~17-20 min)
    python benchmarks/search_quality.py --quick    # 20 trials x 2 seeds, a smoke run (~2 min)

Prints rich tables and writes ``benchmarks/results/search_quality.json`` (``..._quick.json`` with
``--quick``; the folder is gitignored). Regret is
the best loss a run found minus the problem's optimum (for the real model: minus the best loss
any run found). Times are the median ``suggest`` (hpo) or ``ask`` + sampling (Optuna) per trial.
See docs/benchmarks.md for the figures and what they mean.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))

from drivers import OBSERVATIONS_FOR_TIMING, make_spec, run_hpo, run_optuna, searcher_for  # noqa: E402
from problems import PROBLEMS  # noqa: E402

from hpo.contracts.searcher import SearchHistory  # noqa: E402

N_INITIAL = 10  # the same random start Optuna's GPSampler uses
RESULTS = Path(__file__).parent / "results"


def hpo_methods(trials: int) -> dict[str, tuple[str, dict]]:
    bo = {"n_initial_trials": N_INITIAL, "n_iterations": trials - N_INITIAL}
    return {
        "random": ("random_search", {"n_experiments": trials}),
        "bo": ("bo", bo),  # the defaults: ei (log-EI), eps 0, Matern 2.5
        # the default before log-EI: ucb with kappa 2.576
        "bo-ucb": ("bo", {**bo, "utility_function": {"acquisition_function": "ucb", "kappa": 2.576}}),
        # opt-in: a second, isotropic kernel term (a two-scale model)
        "bo-iso": ("bo", {**bo, "utility_function": {"gaussian_process": {"isotropic_term": True}}}),
    }


def optuna_available() -> bool:
    try:
        import optuna  # noqa: F401
        import torch  # noqa: F401  (GPSampler needs it)
    except ImportError:
        return False
    return True


def bo_time_at_50(problem, seed: int, history, block: dict) -> float:
    """Median suggest time of a bo row's spec on exactly 50 observations."""
    from drivers import time_suggest_at

    block = {**block, "n_initial_trials": N_INITIAL, "n_iterations": 1000}
    searcher = searcher_for(make_spec("bo", block, problem.matrix, seed), seed)
    return time_suggest_at(searcher, history)


def run_problem(problem, seeds, trials, use_optuna, console, methods=None) -> dict:
    runs: dict[str, list[dict]] = {}
    timing50: dict[str, list[float]] = {}
    wanted = (lambda m: True) if methods is None else (lambda m: m in methods)
    for method, (key, block) in hpo_methods(trials).items():
        if not wanted(method):
            continue
        for seed in seeds:
            searcher = searcher_for(make_spec(key, block, problem.matrix, seed), seed)
            run = run_hpo(searcher, problem.loss, max_trials=trials)
            runs.setdefault(method, []).append(_summary(run, seed))
            if method in ("bo", "bo-iso") and len(run.values) >= OBSERVATIONS_FOR_TIMING:
                history = SearchHistory(run.history.trials[:OBSERVATIONS_FOR_TIMING])
                timing50.setdefault(method, []).append(bo_time_at_50(problem, seed, history, block))
            console.log(f"{problem.name} {method} seed {seed}: best {run.best:.6g}")
    if problem.grid_matrix is not None and wanted("grid"):  # deterministic: one run stands for every seed
        run = run_hpo(searcher_for(make_spec("grid_search", {}, problem.grid_matrix, 0), 0), problem.loss)
        runs["grid"] = [_summary(run, None)]
    if use_optuna:
        for method in ("optuna-gp", "optuna-tpe"):
            if not wanted(method):
                continue
            for seed in seeds:
                run = run_optuna(method, problem, seed, trials)
                runs.setdefault(method, []).append(_summary(run, seed))
                console.log(f"{problem.name} {method} seed {seed}: best {run.best:.6g}")
    optimum = problem.optimum
    if optimum is None:
        optimum = min(r["best"] for rs in runs.values() for r in rs)
    summary = {}
    for method, rs in runs.items():
        regrets = [r["best"] - optimum for r in rs]
        summary[method] = {
            "runs": len(rs),
            "trials": int(np.median([r["trials"] for r in rs])),
            "median_best": float(np.median([r["best"] for r in rs])),
            "median_regret": float(np.median(regrets)),
            "regrets": regrets,
            "median_suggest_ms": float(np.median([r["suggest_ms"] for r in rs])),
        }
    reference = summary.get("optuna-gp")
    for method, m in summary.items():
        if reference is not None and method != "optuna-gp":
            m["ratio_ci95_vs_optuna_gp"] = ratio_ci(m["regrets"], reference["regrets"])
    return {
        "optimum": optimum,
        "optimum_known": problem.optimum is not None,
        "note": problem.note,
        "methods": summary,
        "bo_suggest_ms_at_50_obs": (1000 * float(np.median(timing50["bo"]))
                                    if timing50.get("bo") else None),
        "suggest_ms_at_50_obs_per_seed": {m: [1000 * t for t in ts] for m, ts in timing50.items()},
    }


def ratio_ci(regrets, reference, level=0.95):
    """Bootstrap interval of median(regrets) / median(reference), seeds resampled in each group.

    With 5 seeds the interval is wide on a problem where a run either finds the global basin or
    does not (Hartmann6): the table then says the two samplers are not told apart.
    """
    from scipy.stats import bootstrap

    a, b = np.asarray(regrets, float), np.asarray(reference, float)
    if len(a) < 2 or len(b) < 2 or np.median(b) <= 0:
        return None

    def ratio(x, y, axis=-1):
        return np.median(x, axis=axis) / np.maximum(np.median(y, axis=axis), 1e-300)

    res = bootstrap((a, b), ratio, confidence_level=level, n_resamples=2000, method="percentile",
                    vectorized=True, rng=np.random.default_rng(0))
    return [float(res.confidence_interval.low), float(res.confidence_interval.high)]


def _summary(run, seed) -> dict:
    return {
        "seed": seed,
        "trials": len(run.values),
        "best": run.best,
        "suggest_ms": 1000 * float(np.median(run.suggest_s)),
    }


def machine() -> dict:
    versions = {}
    for dist in ("hpo-groups", "numpy", "scipy", "scikit-learn", "optuna", "torch"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "versions": versions,
        "load_average_at_start": os.getloadavg(),
    }


def print_tables(result: dict, console: Console) -> None:
    for name, res in result["problems"].items():
        table = Table(title=f"{name} ({result['trials']} trials x {len(result['seeds'])} seeds)")
        for col in ("method", "runs", "median best", "median regret", "vs optuna-gp", "95% CI",
                    "suggest ms"):
            table.add_column(col, justify="left" if col == "method" else "right", overflow="fold")
        gp = res["methods"].get("optuna-gp", {}).get("median_regret")
        for method, m in res["methods"].items():
            ratio = f"{m['median_regret'] / gp:.2f}x" if gp else "-"
            ci = m.get("ratio_ci95_vs_optuna_gp")
            ci_text = f"{ci[0]:.2g}-{ci[1]:.2g}x" if ci else "-"
            table.add_row(method, str(m["runs"]), f"{m['median_best']:.6g}",
                          f"{m['median_regret']:.3g}", ratio, ci_text, f"{m['median_suggest_ms']:.1f}")
        console.print(table)
        for method, per_seed in (res.get("suggest_ms_at_50_obs_per_seed") or {}).items():
            console.print(f"  {method} median suggest time at 50 observations: "
                          f"{np.median(per_seed):.1f} ms (slowest seed {max(per_seed):.1f} ms)")
    hb = result.get("hyperband")
    if hb:
        table = Table(title="hyperband (resume) vs random search at full resource (MLP on digits)")
        table.add_column("measure")
        table.add_column("median over seeds", justify="right")
        for key, value in hb["median"].items():
            table.add_row(key, f"{value:.4g}")
        console.print(table)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 trials x 2 seeds")
    parser.add_argument("--trials", type=int)
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--seed-offset", type=int, default=0,
                        help="first seed (default 0): --seeds 20 --seed-offset 20 runs seeds 20-39")
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--methods", help="comma-separated subset: random,bo,bo-ucb,bo-iso,grid,optuna-gp,optuna-tpe")
    parser.add_argument("--no-optuna", action="store_true")
    parser.add_argument("--no-hyperband", action="store_true")
    parser.add_argument("--out", type=Path, help="default: results/search_quality[_quick].json")
    args = parser.parse_args(argv)
    trials = args.trials or (20 if args.quick else 50)
    if args.out is None:
        args.out = RESULTS / ("search_quality_quick.json" if args.quick else "search_quality.json")
    seeds = list(range(args.seed_offset, args.seed_offset + (args.seeds or (2 if args.quick else 5))))
    use_optuna = optuna_available() and not args.no_optuna
    console = Console(stderr=True)
    if not use_optuna and not args.no_optuna:
        console.log("optuna (and torch) not importable: skipping the Optuna baselines "
                    "(pip install 'hpo-groups[bench]' torch)")
    started = time.time()
    result = {"trials": trials, "seeds": seeds, "machine": machine(), "problems": {}}
    for name in args.problems.split(","):
        methods = set(args.methods.split(",")) if args.methods else None
        result["problems"][name] = run_problem(
            PROBLEMS[name], seeds, trials, use_optuna, console, methods
        )
    if not args.no_hyperband:
        import hyperband_bench

        result["hyperband"] = hyperband_bench.run(seeds)
    result["wall_s"] = time.time() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print_tables(result, Console())
    console.log(f"wrote {args.out} in {result['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
