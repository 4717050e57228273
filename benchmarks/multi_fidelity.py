"""Multi-fidelity search at equal total budget: six contenders on the parametric learning curves.

For each seed, each contender gets the same budget of epochs (``--budget`` full trainings of
``max_iter`` epochs each; a trial that continues its parent's checkpoint pays only its extra
epochs) and ``--concurrency`` slots, in simulated time (``mf_driver``). The final loss is the best
loss of any trial trained to ``max_iter``; slot utilisation is busy over available slot-time.

Contenders (``max_iter`` 81, ``eta`` 3 everywhere, ``resume: true`` for ours):
``async_halving`` (budget ``max_resource``), ``bohb`` (brackets run as often as the budget
allows), both otherwise with their defaults, ``hyperband`` (run again with a new seed when it ends), random search with our ``asha``
stopper, Optuna's RandomSampler and TPESampler with its HyperbandPruner.

Run: ``cd benchmarks && python multi_fidelity.py --seeds 20`` (the table for docs/benchmarks.md;
results are kept in ``benchmarks/results/multi_fidelity.json``).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

import mf_curves
from drivers import make_spec, searcher_for
from mf_driver import AshaJudge, Outcome, run_searcher, run_stopped

RESULTS = Path(__file__).parent / "results"
MAX_ITER, ETA = 81, 3
RESOURCE = {"name": mf_curves.RESOURCE, "type": "int"}
OURS = ("async_halving", "bohb")
PEERS = ("hyperband", "random+asha", "optuna-random+hb", "optuna-tpe+hb")


def hpo_contender(key: str, block: dict[str, Any]) -> Callable[..., Outcome]:
    def run(seed: int, budget: float, concurrency: int) -> Outcome:
        def make(restart: int):
            s = seed + 1000 * restart
            return searcher_for(make_spec(key, block, mf_curves.MATRIX, s), s)
        return run_searcher(make, seed, budget, concurrency, MAX_ITER)
    return run


def random_asha(seed: int, budget: float, concurrency: int) -> Outcome:
    space = make_spec("random_search", {"n_experiments": 1}, mf_curves.MATRIX, seed).matrix

    def next_config(i: int):
        rng = np.random.default_rng([seed, i + 1])  # as random search draws trial i + 1
        config = {n: p.sample(rng) for n, p in space.items()}
        return config, config
    return run_stopped(next_config, AshaJudge(MAX_ITER, ETA), seed, budget, concurrency, MAX_ITER)


class OptunaJudge:
    """An Optuna study with the HyperbandPruner, asked and told as trials start and report.

    The pruner puts a trial in a bracket by a hash of the study's name and the trial's number,
    so the study is named for the seed: an unnamed study gets a random name, and the same seed
    would then give a different result on every run."""

    def __init__(self, sampler: Any, seed: int):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=MAX_ITER,
                                                reduction_factor=ETA)
        self.study = optuna.create_study(direction="minimize", sampler=sampler, pruner=pruner,
                                         study_name=f"multi-fidelity-seed-{seed}")
        self.trials: dict[int, Any] = {}

    def ask(self, i: int):
        trial = self.study.ask()
        config = {
            "learning_rate_init": trial.suggest_float("learning_rate_init", 1e-5, 1.0, log=True),
            "alpha": trial.suggest_float("alpha", 1e-7, 1.0, log=True),
            "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128, 256]),
            "hidden": trial.suggest_categorical("hidden", [16, 32, 64, 128]),
        }
        return config, trial

    def start(self, i: int, trial: Any) -> None:
        self.trials[i] = trial

    def report(self, i: int, epoch: int, value: float, now: float) -> set[int]:
        trial = self.trials[i]
        trial.report(value, epoch)
        if trial.should_prune():
            self.study.tell(trial, state=self.optuna.trial.TrialState.PRUNED)
            return {i}
        return set()

    def end(self, i: int, status: str, value: float | None) -> None:
        states = self.optuna.trial.TrialState
        if status == "succeeded":
            self.study.tell(self.trials[i], value)
        else:
            self.study.tell(self.trials[i], state=states.FAIL if status == "failed" else states.PRUNED)


def optuna_contender(sampler_name: str) -> Callable[..., Outcome]:
    def run(seed: int, budget: float, concurrency: int) -> Outcome:
        import optuna

        sampler = (optuna.samplers.TPESampler(seed=seed) if sampler_name == "tpe"
                   else optuna.samplers.RandomSampler(seed=seed))
        judge = OptunaJudge(sampler, seed)
        return run_stopped(judge.ask, judge, seed, budget, concurrency, MAX_ITER)
    return run


def contenders(budget: float, options: dict[str, dict[str, Any]] | None = None
               ) -> dict[str, Callable[..., Outcome]]:
    """Every contender; ``options`` adds to (or replaces) the blocks of ours by name."""
    common = {"max_iter": MAX_ITER, "eta": ETA, "resource": RESOURCE, "resume": True}
    extra = options or {}
    return {
        "async_halving": hpo_contender("async_halving", {**common, "max_resource": budget,
                                                         **extra.get("async_halving", {})}),
        "bohb": hpo_contender("bohb", {**common, "iterations": 20, **extra.get("bohb", {})}),
        "hyperband": hpo_contender("hyperband", common),
        "random+asha": random_asha,
        "optuna-random+hb": optuna_contender("random"),
        "optuna-tpe+hb": optuna_contender("tpe"),
    }


def run_all(seeds: list[int], budget_trainings: int, concurrency: int,
            only: list[str] | None = None, options: dict[str, dict[str, Any]] | None = None,
            ) -> dict[str, list[dict]]:
    budget = budget_trainings * MAX_ITER
    out: dict[str, list[dict]] = {}
    for name, run in contenders(budget, options).items():
        if only and name not in only:
            continue
        start = time.perf_counter()
        out[name] = []
        for seed in seeds:
            o = run(seed, budget, concurrency)
            out[name].append({"seed": seed, "final": o.final, "utilisation": o.utilisation,
                              "trials": o.trials, "full": o.full, "busy": o.busy})
        print(f"{name}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    return out


def median_interval(values: list[float], seed: int = 0) -> tuple[float, float, float]:
    """The median and a 95% bootstrap interval of it."""
    rng = np.random.default_rng(seed)
    data = np.asarray(values)
    boot = np.median(rng.choice(data, size=(2000, len(data))), axis=1)
    return float(np.median(data)), float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))


def table(results: dict[str, list[dict]]) -> str:
    rows = ["| contender | median final loss (95% CI) | mean utilisation | trials | full trainings | target |",
            "|---|---|---|---|---|---|"]
    medians = {n: statistics.median(r["final"] for r in rs) for n, rs in results.items()}
    ours = [n for n in OURS if n in medians]
    peers = [n for n in PEERS if n in medians]
    best_ours = min(ours, key=lambda n: medians[n]) if ours else None
    for name, rs in results.items():
        m, lo, hi = median_interval([r["final"] for r in rs])
        util = statistics.mean(r["utilisation"] for r in rs)
        trials = statistics.median(r["trials"] for r in rs)
        full = statistics.median(r["full"] for r in rs)
        if name in PEERS and best_ours:
            target = "beaten" if medians[best_ours] < medians[name] else "**not beaten**"
            wins = sum(a["final"] < b["final"] for a, b in zip(results[best_ours], rs))
            target += f" (lower on {wins} of {len(rs)} seeds)"
        else:
            target = "best of ours" if name == best_ours else ""
        rows.append(f"| {name} | {m:.4f} ({lo:.4f}-{hi:.4f}) | {util:.3f} | {trials:g} | {full:g} | {target} |")
    if not best_ours or len(peers) < len(PEERS):
        return "\n".join(rows)  # the target needs every contender
    met = all(medians[best_ours] < medians[p] for p in PEERS)
    rows.append("")
    rows.append(f"Target (the best of async_halving and bohb has a lower median final loss than each "
                f"of the four peers): **{'met' if met else 'missed'}** ({best_ours}, "
                f"{medians[best_ours]:.4f}).")
    return "\n".join(rows)


def options_from(parser: argparse.ArgumentParser, settings: list[str]) -> dict[str, dict]:
    """``--set NAME.OPTION=VALUE`` items as per-contender options."""
    out: dict[str, dict[str, Any]] = {}
    for item in settings:
        key, eq, value = item.partition("=")
        name, dot, option = key.partition(".")
        if not eq or not dot or name not in OURS:
            parser.error(f"--set {item!r}: expected NAME.OPTION=VALUE with NAME one of "
                         f"{', '.join(OURS)}")
        out.setdefault(name, {})[option] = yaml.safe_load(value)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=40, help="full trainings of max_iter epochs")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--only", help="comma-separated contenders to run (default: all)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME.OPTION=VALUE",
                        help="an option for one of ours, e.g. async_halving.min_resource=3 "
                             "(the value read as YAML); repeatable")
    parser.add_argument("--out", type=Path, default=RESULTS / "multi_fidelity.json")
    parser.add_argument("--table", type=Path, metavar="RESULTS_JSON",
                        help="print the table of a saved run instead of running")
    args = parser.parse_args(argv)
    if args.table:
        saved = json.loads(args.table.read_text())
        print(saved["header"] if "header" in saved else "")
        print(table(saved["results"]))
        return 0
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    only = args.only.split(",") if args.only else None
    if only and set(only) - set(OURS + PEERS):
        parser.error(f"--only: unknown contenders {sorted(set(only) - set(OURS + PEERS))}; "
                     f"choose from {', '.join(OURS + PEERS)}")
    results = run_all(seeds, args.budget, args.concurrency, only, options_from(parser, args.set))
    header = (f"budget {args.budget} x {MAX_ITER} epochs, concurrency {args.concurrency}, "
              f"seeds {seeds[0]}-{seeds[-1]}, optimum {mf_curves.OPTIMUM:.3f}"
              + "".join(f", {item}" for item in args.set) + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                    "header": header, "results": results}, indent=1,
                                   default=float))
    print(header)
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
