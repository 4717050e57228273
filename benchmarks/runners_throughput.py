"""200 short trials on each runner: trials per second and the engine's overhead per trial.

    python benchmarks/runners_throughput.py [--trials 200] [--concurrency 4] [--runners local ssh dask]

Each runner runs the same group: a grid of TRIALS values at CONCURRENCY, a command that prints
one report and sleeps ``--sleep`` seconds (0.2 by default). The local runner runs trials here;
the SSH runner on two throwaway sshd servers on 127.0.0.1 (the test suite's own, so it needs
sshd like the tests do: run as root, or where sshd may listen), each with CONCURRENCY/2 slots;
the Dask runner on its own LocalCluster with 2 worker processes. For each: wall time, trials
per second, and overhead per trial = (wall time - the ideal TRIALS x sleep / CONCURRENCY) /
TRIALS, the time the runner and the engine add to each trial, both counted from the first launch
to the last exit (a Dask cluster's start-up is in the wall time only). Results go to
benchmarks/results/runners_throughput.json; docs/benchmarks.md has the table.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hpo.engine.composition import create_group
from hpo.engine.loop import Engine
from hpo.eventlog.store import EventStore
from hpo.spec import parse_spec

RESULTS = Path(__file__).parent / "results"
sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "runners"))  # the tests' sshd helper


def ssh_section(folder: Path, concurrency: int) -> tuple[dict[str, Any], list]:
    from _sshd import Keys, SshServer

    keys = Keys(folder / "keys")
    servers = [SshServer(keys, folder / "sshd-1").start(),
               SshServer(keys, folder / "sshd-2", address="127.0.0.2").start()]
    known = folder / "known_hosts"
    for s in servers:
        s.known_hosts(known)
    hosts = [s.host_options(slots=max(1, concurrency // 2)) for s in servers]
    return {"kind": "ssh", "hosts": hosts, "known_hosts": str(known), "rundir": str(folder / "runs")}, servers


def run(kind: str, trials: int, concurrency: int, sleep: float) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"hpo-{kind}-"))
    servers: list = []
    runner: dict[str, Any] = {"kind": kind}
    if kind == "ssh":
        runner, servers = ssh_section(folder, concurrency)
    elif kind == "dask":
        runner = {"kind": "dask", "scheduler": "local", "n_workers": 2}
    try:
        spec = parse_spec({"settings": {"concurrency": concurrency, "matrix": {"i": {"range": [0, trials, 1]}}},
                           "run": {"cmd": f"echo '@hpo loss={{{{ i }}}}'; sleep {sleep}"}, "runner": runner})
        store = EventStore(folder / "hpo.db")
        gid = create_group(store, spec, seed=0, source_path=str(folder / "spec.yaml"))
        began = time.perf_counter()
        state = Engine(store, gid).run()
        wall = time.perf_counter() - began
    finally:
        for s in servers:
            s.stop()
    done = sum(1 for t in state.trials.values() if t.status == "succeeded")
    # from the first launch to the last exit: without the cluster's or the hosts' start-up
    launched = min(t.started_at for t in state.trials.values())
    ended = max(t.finished_at for t in state.trials.values())
    steady, ideal = ended - launched, trials * sleep / concurrency
    return {"runner": kind, "trials": trials, "succeeded": done, "concurrency": concurrency,
            "sleep_s": sleep, "wall_s": round(wall, 2), "first_launch_to_last_exit_s": round(steady, 2),
            "trials_per_s": round(trials / steady, 2),
            "overhead_ms_per_trial": round((steady - ideal) / trials * 1000, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--sleep", type=float, default=0.2)
    ap.add_argument("--runners", nargs="+", default=["local", "ssh", "dask"])
    args = ap.parse_args()
    out = []
    for kind in args.runners:
        res = run(kind, args.trials, args.concurrency, args.sleep)
        out.append(res)
        print(json.dumps(res), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "runners_throughput.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
