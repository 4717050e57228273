"""What one sweep for an attempt's leftovers costs: a pass over the whole process table.

    python benchmarks/marker_sweep.py [--extra 500] [--repeat 20] [--trials 200 1000]

A sweep (``hpo.runkit.markers.kill_marked``) reads the environment of every process to find the
ones that carry an attempt's marker; it is made when an attempt ends, at most once a second per
runner, and once when an engine starts on a group with history. This times a sweep that finds
nothing (the usual case) over the machine's process table as it is, then with ``--extra`` more
processes of this user running (``sleep``), and prints the median of ``--repeat`` sweeps each.
Then it runs the groups of benchmarks/engine_overhead.py (no-op trials, concurrency 4) of
``--trials`` trials and counts the sweeps their runner made and the time they took.
Writes benchmarks/results/marker_sweep.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import psutil

import hpo.runkit.markers as markers
from engine_overhead import hpo_group
from hpo.runkit.markers import attempt_token, kill_marked

RESULTS = Path(__file__).parent / "results"


def sweep_ms(repeat: int) -> float:
    token = attempt_token("benchmark00", 1, 1)  # carried by nothing: the sweep reads every process
    kill_marked([token])  # warm psutil's table of process handles
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        kill_marked([token])
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def sweeps_in_groups(trials: int) -> dict:
    """Run a no-op group of ``trials`` trials; the sweeps its runner made and their time."""
    taken: list[float] = []
    real = markers.kill_where

    def timed(match):
        start = time.perf_counter()
        try:
            return real(match)
        finally:
            taken.append(time.perf_counter() - start)

    markers.kill_where = timed
    try:
        with tempfile.TemporaryDirectory() as tmp:
            elapsed = hpo_group(trials, 4, Path(tmp))
    finally:
        markers.kill_where = real
    return {"trials": trials, "group_s": elapsed, "sweeps": len(taken), "sweeps_ms": 1000 * sum(taken),
            "ms_per_trial": 1000 * sum(taken) / trials}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--extra", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--trials", type=int, nargs="*", default=[200, 1000])
    args = ap.parse_args()
    rows = []
    processes = len(psutil.pids())
    rows.append({"processes": processes, "sweep_ms": sweep_ms(args.repeat)})
    extra = [subprocess.Popen(["sleep", "600"]) for _ in range(args.extra)]
    try:
        rows.append({"processes": len(psutil.pids()), "sweep_ms": sweep_ms(args.repeat)})
    finally:
        for proc in extra:
            proc.kill()
            proc.wait()
    with tempfile.TemporaryDirectory() as tmp:  # warm up: imports and plugin loading
        hpo_group(5, 4, Path(tmp))
    groups = [sweeps_in_groups(n) for n in args.trials]
    result = {"rows": rows, "groups": groups, "repeat": args.repeat, "cpus": os.cpu_count(),
              "load_average": os.getloadavg()[0]}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "marker_sweep.json").write_text(json.dumps(result, indent=2))
    for row in rows:
        print(f"{row['processes']:5d} processes: one sweep {row['sweep_ms']:.1f} ms")
    for g in groups:
        print(f"{g['trials']} no-op trials in {g['group_s']:.2f}s: {g['sweeps']} sweeps, "
              f"{g['sweeps_ms']:.1f} ms in all ({g['ms_per_trial']:.3f} ms/trial)")
    print(f"(load average {result['load_average']:.1f})")


if __name__ == "__main__":
    main()
