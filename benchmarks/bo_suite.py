"""The broad search-quality suite: ``bo`` against Optuna's GPSampler and TPE and scikit-optimize's GP.

    python benchmarks/bo_suite.py                                  # every contender, seeds 0-19
    python benchmarks/bo_suite.py --seeds 0-9 --contenders bo,bo-iso   # a sweep on the tuning seeds
    python benchmarks/bo_suite.py --seeds 10-19                    # the held-out seeds

Twelve problems (``suite_problems.py``), 50 trials, 10 random start-up trials for every model-based
contender. A run's score is its final regret: the best loss it found (for the noisy problem: the
true loss of the trial that looked best) minus the optimum (for the scikit-learn tasks: minus the
best loss any run of any contender found). Per problem, contenders are ranked by median final
regret; the suite's score is the mean rank.

Peers' runs are cached in ``benchmarks/cache/suite/`` (committed: recomputing them takes about an
hour on 2 cores); ``bo`` rows are cached in ``benchmarks/results/suite/`` under a fingerprint of
the plugin's source and the row's options, so they are rerun after any change to either. Prints
the tables (markdown with ``--markdown``) and writes ``benchmarks/results/bo_suite.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import lru_cache
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

TRIALS = 50
N_STARTUP = 10
PEERS = ("optuna-gp", "optuna-tpe", "skopt-gp")
PEER_CACHE = HERE / "cache" / "suite"
OUR_CACHE = HERE / "results" / "suite"
BO_SOURCE = HERE.parent / "plugins" / "search" / "bo"

# bo rows: options on top of {n_initial_trials: 10, n_iterations: 40}. "bo" is the plugin's
# defaults, whatever they are at the time; the others pin options to compare against.
VARIANTS: dict[str, dict] = {
    "bo": {},
    # the default before output warping
    "bo-0.2": {"utility_function": {"gaussian_process": {"output_warping": "none"}}},
    "bo-iso": {"utility_function": {"gaussian_process": {"isotropic_term": True}}},
    "bo-0.2-iso": {"utility_function": {"gaussian_process": {"output_warping": "none",
                                                             "isotropic_term": True}}},
}


def parse_seeds(text: str) -> list[int]:
    seeds: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        seeds += list(range(int(lo), int(hi or lo) + 1))
    return seeds


# -- one run ------------------------------------------------------------------------------


def _final(problem, values: list[float], params: list[dict]) -> float:
    i = int(np.argmin(values))
    return float(problem.true_loss(params[i])) if problem.true_loss else float(values[i])


def run_one(contender: str, problem_name: str, seed: int, trials: int) -> dict:
    import warnings

    from suite_problems import SUITE
    from threadpoolctl import threadpool_limits

    warnings.filterwarnings("ignore")  # scikit-learn's convergence warnings, per evaluation
    problem = SUITE[problem_name]
    started = time.perf_counter()
    # one thread per run: the runs go in parallel, and BLAS or torch threads on top of them
    # oversubscribe the cores (scikit-optimize's runs took several times longer so)
    with threadpool_limits(limits=1):
        if contender in PEERS:
            values, params, suggest_s = _peer(contender, problem, seed, trials)
            at50 = None
        else:
            values, params, suggest_s, at50 = _ours(contender, problem, seed, trials)
    return {
        "seed": seed,
        "values": values,
        "final": _final(problem, values, params),
        "suggest_ms": 1000 * float(np.median(suggest_s)),
        "suggest_ms_at_50": at50,
        "wall_s": time.perf_counter() - started,
    }


def _ours(variant: str, problem, seed: int, trials: int):
    from drivers import make_spec, run_hpo, searcher_for, time_suggest_at

    from hpo.contracts.searcher import SearchHistory

    block = {**VARIANTS[variant], "n_initial_trials": N_STARTUP, "n_iterations": trials - N_STARTUP}
    searcher = searcher_for(make_spec("bo", block, problem.matrix, seed), seed)
    run = run_hpo(searcher, problem.loss, max_trials=trials)
    at50 = None
    if len(run.values) >= 50:
        timed = searcher_for(make_spec("bo", {**block, "n_iterations": 1000}, problem.matrix, seed), seed)
        at50 = 1000 * time_suggest_at(timed, SearchHistory(run.history.trials[:50]), repeats=3)
    return run.values, run.params, run.suggest_s, at50


def _peer(name: str, problem, seed: int, trials: int):
    from spaces import optuna_params, skopt_dimensions, skopt_params

    values, params, suggest_s = [], [], []
    if name == "skopt-gp":
        from skopt import Optimizer

        opt = Optimizer(skopt_dimensions(problem.matrix), base_estimator="GP",
                        n_initial_points=N_STARTUP, random_state=seed)
        for _ in range(trials):
            t = time.perf_counter()
            x = opt.ask()
            asked = time.perf_counter() - t
            p = skopt_params(x, problem.matrix)
            v = float(problem.loss(p))
            t = time.perf_counter()
            opt.tell(x, v)  # scikit-optimize fits its model and picks the next point here
            suggest_s.append(asked + time.perf_counter() - t)
            values.append(v)
            params.append(p)
        return values, params, suggest_s
    import optuna
    import torch

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = (optuna.samplers.GPSampler(seed=seed, n_startup_trials=N_STARTUP) if name == "optuna-gp"
               else optuna.samplers.TPESampler(seed=seed, n_startup_trials=N_STARTUP))
    study = optuna.create_study(direction="minimize", sampler=sampler)
    for _ in range(trials):
        t = time.perf_counter()
        trial = study.ask()
        p = optuna_params(trial, problem.matrix)
        suggest_s.append(time.perf_counter() - t)
        v = float(problem.loss(p))
        study.tell(trial, v)
        values.append(v)
        params.append(p)
    return values, params, suggest_s


# -- caches -------------------------------------------------------------------------------


@lru_cache(maxsize=None)  # once per process: editing the plugin mid-run must not move the rows
def fingerprint(variant: str) -> str:
    h = hashlib.sha256(json.dumps(VARIANTS[variant], sort_keys=True).encode())
    for path in sorted(BO_SOURCE.glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:10]


def cache_file(contender: str, problem: str, trials: int, latest: bool = False) -> Path:
    """Where a contender's runs on a problem are cached. ``latest``: for a bo row, the newest
    cache of that row whatever source it ran with (to tabulate runs made before an edit)."""
    if contender in PEERS:
        return PEER_CACHE / contender / f"{problem}-{trials}.json"
    current = OUR_CACHE / f"{contender}-{fingerprint(contender)}" / f"{problem}-{trials}.json"
    if not latest or current.exists():
        return current
    pattern = re.compile(re.escape(contender) + r"-[0-9a-f]{10}")
    found = [d / current.name for d in OUR_CACHE.glob(f"{contender}-*")
             if pattern.fullmatch(d.name) and (d / current.name).exists()]
    return max(found, key=lambda f: f.stat().st_mtime) if found else current


def load(path: Path) -> dict[str, dict]:
    return json.loads(path.read_text()) if path.exists() else {}


def store(path: Path, runs: dict[str, dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(runs, indent=1, sort_keys=True))
    os.replace(tmp, path)


def collect(contenders, problems, seeds, trials, workers, log, run=True) -> dict:
    """{contender: {problem: [run, ...]}}, running what no cache holds (``run`` False: leaving
    out the contenders whose cache is not complete)."""
    todo = []
    for c in list(contenders):
        for p in problems:
            have = load(cache_file(c, p, trials, latest=not run))
            todo += [(c, p, s) for s in seeds if str(s) not in have]
        if not run and any(t[0] == c for t in todo):
            log(f"{c}: not every run is cached; left out")
            contenders.remove(c)
            todo = [t for t in todo if t[0] != c]
    # cheap ones first: a sweep can compare against them sooner
    cost = {"skopt-gp": 1, "optuna-gp": 2, "optuna-tpe": 3}  # the quick peers first
    todo.sort(key=lambda t: -cost.get(t[0], 1))
    if todo:
        log(f"{len(todo)} runs to do ({workers} workers)")
    done = 0
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(run_one, c, p, s, trials): (c, p, s) for c, p, s in todo}
        for fut in as_completed(futures):
            c, p, s = futures[fut]
            run = fut.result()
            path = cache_file(c, p, trials)
            runs = load(path)
            runs[str(s)] = run
            store(path, runs)
            done += 1
            log(f"[{done}/{len(todo)}] {c} {p} seed {s}: final {run['final']:.6g} "
                f"({run['wall_s']:.1f} s)")
    return {c: {p: [load(cache_file(c, p, trials, latest=not run))[str(s)] for s in seeds]
                for p in problems} for c in contenders}


# -- tables -------------------------------------------------------------------------------


def median_ci(x: np.ndarray, level=0.95) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    boots = np.median(rng.choice(x, size=(2000, len(x)), replace=True), axis=1)
    a = (1 - level) / 2
    return float(np.quantile(boots, a)), float(np.quantile(boots, 1 - a))


def summarise(results: dict, problems, trials) -> dict:
    from scipy.stats import rankdata
    from suite_problems import SUITE

    out = {"problems": {}, "mean_rank": {}}
    contenders = list(results)
    ranks = {c: [] for c in contenders}
    for p in problems:
        optimum = SUITE[p].optimum
        if optimum is None:  # the best any cached run found, ours included
            finals = [r["final"] for c in contenders for r in results[c][p]]
            for path in list(PEER_CACHE.glob(f"*/{p}-{trials}.json")) + list(OUR_CACHE.glob(f"*/{p}-{trials}.json")):
                finals += [r["final"] for r in load(path).values()]
            optimum = min(finals)
        rows = {}
        for c in contenders:
            regrets = np.array([r["final"] - optimum for r in results[c][p]])
            lo, hi = median_ci(regrets)
            timed = [r["suggest_ms"] for r in results[c][p] if r["suggest_ms"] is not None]
            rows[c] = {"median_regret": float(np.median(regrets)), "ci95": [lo, hi],
                       # None: the cached runs were not timed this way (scikit-optimize's
                       # first cache timed ask() alone, and its model runs in tell())
                       "suggest_ms": float(np.median(timed)) if timed else None}
            at50 = [r["suggest_ms_at_50"] for r in results[c][p] if r.get("suggest_ms_at_50")]
            if at50:
                rows[c]["suggest_ms_at_50"] = float(np.median(at50))
                rows[c]["suggest_ms_at_50_max"] = float(np.max(at50))
        rank = rankdata([rows[c]["median_regret"] for c in contenders])
        for c, r in zip(contenders, rank):
            rows[c]["rank"] = float(r)
            ranks[c].append(float(r))
        out["problems"][p] = {"optimum": optimum, "rows": rows}
    out["mean_rank"] = {c: float(np.mean(r)) for c, r in ranks.items()}
    return out


def print_summary(summary: dict, markdown: bool, console) -> None:
    contenders = list(summary["mean_rank"])
    if markdown:
        print("| problem | " + " | ".join(contenders) + " |")
        print("|---|" + "---|" * len(contenders))
        for p, res in summary["problems"].items():
            cells = []
            for c in contenders:
                r = res["rows"][c]
                cells.append(f"{r['median_regret']:.3g} [{r['ci95'][0]:.2g}, {r['ci95'][1]:.2g}] "
                             f"({r['rank']:g})")
            print(f"| {p} | " + " | ".join(cells) + " |")
        print("| **mean rank** | " + " | ".join(f"**{summary['mean_rank'][c]:.2f}**"
                                                for c in contenders) + " |")
        def ms(c):
            times = [res["rows"][c]["suggest_ms"] for res in summary["problems"].values()]
            return "-" if None in times else f"{np.median(times):.0f}"

        print("| median suggest ms | " + " | ".join(ms(c) for c in contenders) + " |")
        return
    from rich.table import Table

    table = Table(title="median final regret (rank)")
    table.add_column("problem")
    for c in contenders:
        table.add_column(c, justify="right")
    for p, res in summary["problems"].items():
        table.add_row(p, *[f"{res['rows'][c]['median_regret']:.3g} ({res['rows'][c]['rank']:g})"
                           for c in contenders])
    table.add_row("mean rank", *[f"{summary['mean_rank'][c]:.2f}" for c in contenders])
    console.print(table)
    for c in contenders:
        at50 = {p: res["rows"][c].get("suggest_ms_at_50") for p, res in summary["problems"].items()}
        if any(at50.values()):
            text = ", ".join(f"{p} {v:.0f}" for p, v in at50.items() if v)
            console.print(f"{c}: median suggest ms at 50 observations: {text}")


def timing(contenders, problems, seeds, trials, console) -> int:
    """Median and slowest suggest time at 50 observations, per bo row and problem."""
    from rich.table import Table
    from suite_problems import SUITE

    table = Table(title=f"suggest ms at 50 observations ({len(seeds)} seeds, one run at a time)")
    table.add_column("problem")
    table.add_column("params", justify="right")
    rows = [c for c in contenders if c in VARIANTS]
    for c in rows:
        table.add_column(f"{c} median / slowest", justify="right")
    worst = {c: 0.0 for c in rows}
    for p in problems:
        cells = []
        for c in rows:
            times = [run_one(c, p, s, trials)["suggest_ms_at_50"] for s in seeds]
            worst[c] = max(worst[c], *times) if len(SUITE[p].matrix) <= 10 else worst[c]
            cells.append(f"{np.median(times):.0f} / {max(times):.0f}")
        table.add_row(p, str(len(SUITE[p].matrix)), *cells)
    console.print(table)
    for c in rows:
        console.print(f"{c}: slowest suggest at 50 observations, problems of up to 10 parameters: "
                      f"{worst[c]:.0f} ms (load average now {os.getloadavg()[0]:.1f})")
    return 0


def main(argv=None) -> int:
    from rich.console import Console

    from suite_problems import SUITE

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contenders", default=",".join(PEERS + ("bo",)))
    parser.add_argument("--problems", default=",".join(SUITE))
    parser.add_argument("--seeds", default="0-19", help="e.g. 0-9 (tuning) or 10-19 (held out)")
    parser.add_argument("--trials", type=int, default=TRIALS)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--cached", action="store_true",
                        help="run nothing: tabulate the contenders whose runs are all cached")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "bo_suite.json")
    parser.add_argument("--timing", action="store_true",
                        help="only time bo rows' suggest at 50 observations, one run at a time "
                             "(run it on an otherwise idle machine); nothing is cached")
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    if args.timing:
        return timing(args.contenders.split(","), args.problems.split(","), parse_seeds(args.seeds),
                      args.trials, console)
    contenders = args.contenders.split(",")
    for c in contenders:
        if c not in PEERS and c not in VARIANTS:
            parser.error(f"unknown contender {c!r}: one of {', '.join(PEERS + tuple(VARIANTS))}")
    problems = args.problems.split(",")
    seeds = parse_seeds(args.seeds)
    started = time.time()
    results = collect(contenders, problems, seeds, args.trials, args.workers, console.log,
                      run=not args.cached)
    summary = summarise(results, problems, args.trials)
    summary.update(seeds=seeds, trials=args.trials, wall_s=time.time() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print_summary(summary, args.markdown, console if not args.markdown else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
