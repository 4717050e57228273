"""Where the engine's time per trial goes (the profile behind docs/benchmarks.md).

    python benchmarks/engine_profile.py [--trials 200] [--concurrency 4]

Runs the engine_overhead group under cProfile and sums the time spent in process creation,
file-system calls, SQLite, sleeping, and everything else (Python in the engine). Also prints
the function calls per trial and the CPU time per trial of the engine and of its trials
(``getrusage``), which a busy machine disturbs much less than wall-clock times.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from engine_overhead import hpo_group  # noqa: E402

BUCKETS = {
    "process creation (fork/exec)": ("fork_exec", "posix_spawn"),
    "file system (mkdir, open, read, write, stat)": (
        "posix.mkdir", "io.open", "posix.stat", "posix.unlink", "posix.lstat",
        "TextIOWrapper' objects", "BufferedReader' objects", "BufferedWriter' objects",
        "posix.listdir", "posix.scandir", "posix.rename", "posix.open", "posix.read",
    ),
    "SQLite (appends and reads)": ("sqlite3.Connection' objects", "sqlite3.Cursor' objects"),
    "sleeping between polls": ("time.sleep", "select.poll' objects"),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:  # warm up: imports and plugin loading
        hpo_group(5, args.concurrency, Path(tmp))
    profiler = cProfile.Profile()
    before = _cpu()
    with tempfile.TemporaryDirectory() as tmp:
        profiler.enable()
        wall = hpo_group(args.trials, args.concurrency, Path(tmp))
        profiler.disable()
    after = _cpu()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    totals = {name: 0.0 for name in BUCKETS}
    for (filename, _, func), (_, _, tottime, _, _) in stats.items():
        label = f"{filename}:{func}" if filename != "~" else func
        for name, needles in BUCKETS.items():
            if any(n in label for n in needles):
                totals[name] += tottime
                break
    profiled = sum(v[2] for v in stats.values())
    calls = sum(v[1] for v in stats.values())
    totals["Python in the engine (the rest)"] = profiled - sum(totals.values())
    print(f"{args.trials} trials at concurrency {args.concurrency}: {wall:.2f}s under the profiler")
    for name, seconds in totals.items():
        print(f"  {name:<48} {1000 * seconds / args.trials:7.2f} ms/trial  {100 * seconds / profiled:5.1f}%")
    n = args.trials
    print(f"  function calls: {calls / n:.0f} per trial")
    print(f"  CPU time (under the profiler): engine {1000 * (after[0] - before[0]) / n:.2f} ms/trial, "
          f"its trials {1000 * (after[1] - before[1]) / n:.2f} ms/trial")


def _cpu() -> tuple[float, float]:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


if __name__ == "__main__":
    main()
