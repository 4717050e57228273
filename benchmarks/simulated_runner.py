"""Past one machine, by simulation: can one engine keep up with thousands of trials at once?

    python benchmarks/simulated_runner.py [--trials 2000] [--seconds 60] [--every 1.0]

A simulated runner (here, not shipped) holds up to ``--trials`` trials at once, each reporting
one metric every ``--every`` seconds for ``--reports`` reports and then exiting; there are no
processes, so everything measured is the engine: its ticks, the event log, the state fold. The
group is a random search with concurrency = ``--trials`` and enough trials to keep every slot
busy for the whole run. For ``--seconds`` of wall time it records:

- tick time (median, p95, max) of the engine's loop;
- reports the trials made (due) and reports the engine recorded, per second;
- backlog: reports due but not yet recorded, at the start and the end of the last half of the
  run (a backlog that grows means the engine does not keep up);
- the engine's resident memory at the end.

Results go to benchmarks/results/simulated_runner.json; docs/benchmarks.md has the table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from hpo.contracts.runner import EmptyConfig, Exited, Launch, Reported, Runner
from hpo.engine.composition import create_group
from hpo.engine.loop import Engine
from hpo.eventlog.store import EventStore
from hpo.spec import parse_spec

RESULTS = Path(__file__).parent / "results"


class SimulatedRunner(Runner):
    """Trials without processes: each reports ``loss`` every ``every`` seconds, ``reports``
    times, then exits 0. ``due`` counts the reports the trials have made so far."""

    name = "simulated"
    Config = EmptyConfig

    def __init__(self, every: float, reports: int):
        super().__init__(EmptyConfig())
        self.every, self.reports = every, reports
        self.trials: dict[tuple[int, int], list[float]] = {}  # key -> [started, sent]
        self.due_before = 0  # reports of trials already ended

    def start(self, launch: Launch) -> dict[str, Any]:
        self.trials[launch.key] = [time.monotonic(), 0]
        return {"simulated": True}

    def due(self, now: float) -> int:
        """Reports the running trials have made by ``now``, plus those of ended trials."""
        return self.due_before + sum(min(self.reports, int((now - t[0]) / self.every)) for t in self.trials.values())

    def poll(self) -> list:
        now, out = time.monotonic(), []
        for key, t in list(self.trials.items()):
            made = min(self.reports, int((now - t[0]) / self.every))
            for step in range(int(t[1]) + 1, made + 1):
                out.append(Reported(key[0], key[1], step, {"loss": 1.0 / step}, step * 16))
            t[1] = made
            if made >= self.reports:
                out.append(Exited(key[0], key[1], "succeeded", exit_code=0))
                self.due_before += self.reports
                del self.trials[key]
        return out

    def stop(self, trial_id: int, attempt: int, reason: str) -> None:
        self.trials.pop((trial_id, attempt), None)

    def running(self) -> list[tuple[int, int]]:
        return list(self.trials)

    def wait(self, timeout: float) -> None:
        time.sleep(min(timeout, 0.05))

    def close(self, stop_running: bool) -> None:
        self.trials.clear()


def run(trials: int, seconds: float, every: float, reports: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="hpo-sim-"))
    n_trials = int(trials * (seconds / (every * reports) + 2))
    spec = parse_spec({"settings": {"random_search": {"n_experiments": n_trials}, "concurrency": trials,
                                    "metric": {"name": "loss", "optimization": "minimize"},
                                    "matrix": {"x": {"uniform": [0, 1]}}},
                       "run": {"cmd": "simulated {{ x }}"}})
    store = EventStore(folder / "hpo.db")
    gid = create_group(store, spec, seed=0, source_path=str(folder / "spec.yaml"))
    runner = SimulatedRunner(every, reports)
    engine = Engine(store, gid, runner=runner)
    engine.start("run")
    ticks: list[float] = []
    samples: list[tuple[float, int, int]] = []  # (elapsed, due, recorded)
    began = time.monotonic()
    finished_reports: dict[int, int] = {}
    while time.monotonic() - began < seconds:
        t0 = time.perf_counter()
        engine.tick()
        ticks.append(time.perf_counter() - t0)
        now = time.monotonic()
        for tid, tr in engine.state.trials.items():  # reports of trials that ended stay counted
            if tr.finished and tid not in finished_reports:
                finished_reports[tid] = tr.reports
        if not samples or now - began - samples[-1][0] >= 1.0:
            running = sum(tr.reports for tid, tr in engine.state.trials.items() if tid not in finished_reports)
            samples.append((now - began, runner.due(now), sum(finished_reports.values()) + running))
    rss = psutil.Process().memory_info().rss / 2**20
    engine.pause("benchmark over", requested_by="benchmark")
    half = [s for s in samples if s[0] >= seconds / 2]
    first, last = half[0], half[-1]
    span = last[0] - first[0]
    ticks_ms = sorted(t * 1000 for t in ticks)
    return {
        "trials_at_once": trials, "every_s": every, "seconds": seconds,
        "tick_ms_median": round(statistics.median(ticks_ms), 2),
        "tick_ms_p95": round(ticks_ms[int(0.95 * (len(ticks_ms) - 1))], 2),
        "tick_ms_max": round(ticks_ms[-1], 1),
        "reports_due_per_s": round((last[1] - first[1]) / span, 1),
        "reports_recorded_per_s": round((last[2] - first[2]) / span, 1),
        "backlog_start": first[1] - first[2], "backlog_end": last[1] - last[2],
        "rss_mb": round(rss),
        "events": store.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, nargs="+", default=[2000])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--every", type=float, default=1.0)
    ap.add_argument("--reports", type=int, default=30)
    args = ap.parse_args()
    out = []
    for n in args.trials:
        res = run(n, args.seconds, args.every, args.reports)
        out.append(res)
        print(json.dumps(res))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "simulated_runner.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
