"""The engine's peak memory while a trial prints a huge line or a huge output.

    python benchmarks/output_memory.py [--line-mb 400] [--output-mb 1000]

Runs two real groups with `hpo run --plain` in a temp folder, each one trial: one prints a single
line of LINE_MB megabytes without a newline and then a report; one prints OUTPUT_MB megabytes of
ordinary 100-byte lines and then a report. The trials write with `head`/`tr` (a few MB each), so
the largest process waited for is the engine: its peak resident set is `ru_maxrss` of this
script's children. Target: under 300 MB for both. Writes benchmarks/results/output_memory.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = """
settings:
  metric: {{name: loss, optimization: minimize}}
  matrix:
    x: {{values: [1]}}
run:
  cmd: {produce}; echo; echo "@hpo loss=0.5"
"""


def peak_rss_mb(produce: str) -> tuple[float, float]:
    """(peak RSS of the `hpo run` process in MB, seconds it took)."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.yaml"
        spec.write_text(SPEC.format(produce=produce))
        # a fresh wrapper per case, so each peak is that case's: the engine is its only large child
        script = ("import resource, subprocess, sys;"
                  "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL);"
                  "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)")
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", script, sys.executable, "-m", "hpo", "run", str(spec),
                              "--plain", "--db", str(Path(tmp) / "hpo.db")],
                             capture_output=True, text=True, cwd=tmp, check=True)
        took = time.perf_counter() - started
    kb, returncode = out.stdout.split()
    if returncode != "0":
        raise SystemExit(f"the group did not succeed (exit {returncode}): {out.stderr}")
    return int(kb) / 1024, took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--line-mb", type=int, default=400)
    ap.add_argument("--output-mb", type=int, default=1000)
    args = ap.parse_args()
    cases = {
        f"one {args.line_mb} MB line": f"head -c {args.line_mb * 10**6} /dev/zero | tr '\\0' x",
        f"{args.output_mb} MB of 100-byte lines": (
            f"yes 'the quick brown fox jumps over the lazy dog, again and again and again, said the log line' "
            f"| head -c {args.output_mb * 10**6}"),
    }
    results = {}
    for name, produce in cases.items():
        rss, took = peak_rss_mb(produce)
        results[name] = {"peak_rss_mb": round(rss, 1), "seconds": round(took, 1)}
        print(f"{name:32s} engine peak RSS {rss:7.1f} MB   {took:5.1f} s", flush=True)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "output_memory.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
