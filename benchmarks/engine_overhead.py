"""Engine overhead per trial against a bare subprocess loop at the same concurrency.

    python benchmarks/engine_overhead.py [--trials 200] [--concurrency 4] [--repeat 3]

Both sides run the same command (``true`` through ``/bin/sh``) TRIALS times with CONCURRENCY at
once. The baseline is the tightest loop the standard library allows: ``subprocess.Popen(...,
shell=True)`` and ``os.wait()`` for any child. The hpo side is a real group (grid search over
TRIALS values, local runner, SQLite event log in a temp folder), driven by the engine with its
defaults. Prints the medians and the ratio; writes benchmarks/results/engine_overhead.json.

Also prints the CPU time per trial of each side (its own process and its children, from
``getrusage``): on a machine shared with other work the wall-clock ratio swings with the load,
the CPU times much less.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hpo.engine.loop import Engine
from hpo.engine.composition import create_group
from hpo.spec import parse_spec
from hpo.eventlog.store import EventStore

RESULTS = Path(__file__).parent / "results"
COMMAND = "true"  # --command changes it, e.g. "sleep 0.2" for trials that do some work


def bare_loop(trials: int, concurrency: int) -> float:
    start = time.perf_counter()
    running: dict[int, subprocess.Popen] = {}  # kept referenced: subprocess must not reap them
    launched = 0
    while launched < trials or running:
        while len(running) < concurrency and launched < trials:
            proc = subprocess.Popen(COMMAND, shell=True)
            running[proc.pid] = proc
            launched += 1
        pid, status = os.wait()
        running.pop(pid).returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - start


def hpo_group(trials: int, concurrency: int, folder: Path) -> float:
    spec = parse_spec(
        {"settings": {"concurrency": concurrency, "matrix": {"i": {"range": [0, trials, 1]}}},
         "run": {"cmd": COMMAND + " # {{ i }}"}}
    )
    store = EventStore(folder / "hpo.db")
    gid = create_group(store, spec, seed=0, source_path=str(folder / "spec.yaml"))
    start = time.perf_counter()
    state = Engine(store, gid).run()
    elapsed = time.perf_counter() - start
    if state.status != "succeeded" or len(state.trials) != trials:
        raise SystemExit(f"the group did not finish properly: {state.status} {state.reason}")
    store.close()
    return elapsed


def cpu() -> tuple[float, float]:
    """CPU seconds of this process and of its reaped children so far."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--command", default="true", help="the trial command (shell)")
    args = ap.parse_args()
    global COMMAND
    COMMAND = args.command
    bare, engine = [], []
    bare_cpu: list[tuple[float, float]] = []
    engine_cpu: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:  # warm up: imports and plugin loading
        hpo_group(5, args.concurrency, Path(tmp))
    for _ in range(args.repeat):
        before = cpu()
        bare.append(bare_loop(args.trials, args.concurrency))
        after = cpu()
        bare_cpu.append((after[0] - before[0], after[1] - before[1]))
        with tempfile.TemporaryDirectory() as tmp:
            before = cpu()
            engine.append(hpo_group(args.trials, args.concurrency, Path(tmp)))
            after = cpu()
        engine_cpu.append((after[0] - before[0], after[1] - before[1]))
    b, e = statistics.median(bare), statistics.median(engine)

    def per_trial_ms(samples: list[tuple[float, float]], i: int) -> float:
        return 1000 * statistics.median(x[i] for x in samples) / args.trials

    result = {
        "command": args.command, "trials": args.trials, "concurrency": args.concurrency,
        "repeat": args.repeat,
        "bare_s": b, "engine_s": e, "ratio": e / b,
        "bare_ms_per_trial": 1000 * b / args.trials, "engine_ms_per_trial": 1000 * e / args.trials,
        "overhead_ms_per_trial": 1000 * (e - b) / args.trials, "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "bare_cpu_ms_per_trial": {"self": per_trial_ms(bare_cpu, 0), "children": per_trial_ms(bare_cpu, 1)},
        "engine_cpu_ms_per_trial": {"self": per_trial_ms(engine_cpu, 0),
                                    "children": per_trial_ms(engine_cpu, 1)},
        "load_average": os.getloadavg()[0],
    }
    RESULTS.mkdir(exist_ok=True)
    name = "engine_overhead" if args.command == "true" else "engine_overhead_" + args.command.replace(" ", "_")
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    print(f"bare subprocess loop: {b:.3f}s ({result['bare_ms_per_trial']:.2f} ms/trial)")
    print(f"hpo engine:           {e:.3f}s ({result['engine_ms_per_trial']:.2f} ms/trial)")
    print(f"ratio {result['ratio']:.2f}x  (overhead {result['overhead_ms_per_trial']:.2f} ms/trial)")
    bc, ec = result["bare_cpu_ms_per_trial"], result["engine_cpu_ms_per_trial"]
    print(f"CPU per trial: bare loop {bc['self']:.2f} + its children {bc['children']:.2f} ms; "
          f"engine {ec['self']:.2f} + its trials {ec['children']:.2f} ms "
          f"(load average {result['load_average']:.1f})")


if __name__ == "__main__":
    main()
