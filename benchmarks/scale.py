"""How the event log, state, status, suggestions and memory scale from 100 to 10,000 trials.

    python benchmarks/scale.py [--trials 100 1000 10000] [--reports 97]
    python benchmarks/scale.py --chain-only [--rounds 15] [--breakdown] [--batch 5000]

For each size it writes a synthetic but realistic log (every trial: Suggested, TrialLaunched,
REPORTS metric reports, TrialFinished; ~100 events a trial, so 10,000 trials = 1,000,000 events)
into a fresh SQLite file through ``EventStore.append`` in batches, and measures:

- append throughput of batched metric reports vs raw ``sqlite3.executemany`` of the same rows
  (pre-encoded JSON) into the same schema on the same disk;
- ingest with the hash chain vs without it (the same ``EventStore.append``, with no hash
  computed or written: ``benchmarks/chain_ingest.py``), interleaved batch by batch in the same
  run, and the time to verify the whole chain (an engine's start, ``hpo verify``);
- a full replay (read + fold of every event, no snapshot), both through the fast row path that
  replay, resume and status use, and decoding every event into its model;
- ``hpo status`` (a fresh process, through the snapshot cache: cold = first call builds it,
  warm = later calls);
- suggest time of random, grid, hyperband and bo at that history size (engine-built history;
  bo fits its GP on at most 256 of the trials, so its time is bounded);
- the resident memory (peak RSS) of a process holding the engine for the group (plugins, state,
  history, every metric curve materialised).

Writes benchmarks/results/scale.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import chain_ingest
from hpo.eventlog import chain
from hpo.eventlog import events as ev
from hpo.eventlog import snapshots
from hpo.engine.composition import build_searcher
from hpo.engine.plans import plan_from
from hpo.contracts.registry import default_registry
from hpo.spec import GroupSpec
from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore, utcnow

RESULTS = Path(__file__).parent / "results"
TRIALS_RUN: list[int] = []  # the sizes of this run; the interleaved append check runs once, at the largest
SPEC = {
    "version": None, "kind": None, "name": None, "description": None,
    "matrix": {
        "x": {"kind": "uniform", "args": {"low": 0.0, "high": 1.0}, "path": "matrix.x.uniform"},
        "i": {"kind": "range", "args": {"start": 0, "stop": 100000, "step": 1},
              "path": "matrix.i.range", "values": list(range(100000))},
    },
    "declarations": {}, "search": {"algorithm": "random", "options": {"n_experiments": 1000000},
                                   "path": "settings.random_search"},
    "concurrency": 4, "metric": {"name": "loss", "optimization": "minimize"}, "seed": None,
    "run": {"cmd": "true", "timeout": None, "env": {}, "workdir": None, "gpus": 0},
    "runner": {"kind": "local", "options": {}, "path": "runner"},
    "early_stopping": [], "stoppers": [], "warnings": [],
}


def trial_events(t: int, reports: int) -> list[ev.Event]:
    out: list[ev.Event] = [
        ev.Suggested(trial_id=t, params={"x": t / 1e5, "i": t}, searcher="random", searcher_version="1",
                     seed=t, seen_version=t),
        ev.TrialLaunched(trial_id=t, attempt=1, runner="local", handle={"pid": 1000 + t}, trial_dir=f"/t/{t}"),
    ]
    out += [ev.MetricReported(trial_id=t, attempt=1, step=r, metrics={"loss": 1.0 / r + t * 1e-6}, offset=40 * r)
            for r in range(1, reports + 1)]
    out.append(ev.TrialFinished(trial_id=t, attempt=1, status="succeeded", exit_code=0))
    return out


def build(path: Path, trials: int, reports: int) -> tuple[str, float, int]:
    store = EventStore(path)
    gid = "scale"
    store.append(gid, [
        ev.GroupCreated(group_id=gid, name="scale", spec=SPEC, seed=1),
        # as a real engine records it: who drives the group, and the searcher's plan
        ev.EngineStarted(engine_id="bench", host="bench", pid=1, lease_seconds=15.0, concurrency=4,
                         plan=plan_from(build_searcher(GroupSpec.from_json(SPEC), 1, default_registry())).to_json()),
    ], 0)
    n, spent, batch = 2, 0.0, []
    for t in range(1, trials + 1):
        batch += trial_events(t, reports)
        if len(batch) >= 5000 or t == trials:
            start = time.perf_counter()
            store.append(gid, batch, n)
            spent += time.perf_counter() - start
            n += len(batch)
            batch = []
    store.append(gid, [ev.GroupFinished(status="succeeded", reason="synthetic")], n)
    store.close()
    return gid, spent, n - 1


def raw_executemany(path: Path, rows: list[tuple], encode: bool = False, cpu: bool = False):
    """``encode``: rows hold payload dicts, JSON-encoded inside the timed loop (as an append must).
    Returns the wall time, or with ``cpu`` (wall, CPU) seconds."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute('CREATE TABLE events (seq INTEGER PRIMARY KEY, group_id TEXT NOT NULL, version INTEGER NOT NULL,'
                 ' type TEXT NOT NULL, schema INTEGER NOT NULL, payload TEXT NOT NULL, ts TEXT NOT NULL,'
                 ' writer TEXT NOT NULL)')
    conn.execute('CREATE UNIQUE INDEX events_group_version ON events (group_id, version)')
    conn.execute('CREATE INDEX events_type ON events (type)')
    start, cpu_start = time.perf_counter(), time.process_time()
    for i in range(0, len(rows), 5000):
        chunk = rows[i:i + 5000]
        if encode:
            chunk = [(g, v, t, sc, json.dumps(p), ts, w) for g, v, t, sc, p, ts, w in chunk]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO events (group_id, version, type, schema, payload, ts, writer)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?)", chunk)
        conn.execute("COMMIT")
    wall, used = time.perf_counter() - start, time.process_time() - cpu_start
    conn.close()
    return (wall, used) if cpu else wall


def append_vs_raw(folder: Path, trials: int = 500, reports: int = 97, rounds: int = 5) -> dict:
    """``EventStore.append`` against raw ``executemany`` of the same rows pre-encoded, the two
    interleaved round by round into fresh files, in wall and CPU time (medians): the CPU ratio
    holds still when other work shares the machine."""
    events = [e for t in range(1, trials + 1) for e in trial_events(t, reports)]
    rows = [("g", i + 1, *ev.encode(e), utcnow(), "bench") for i, e in enumerate(events)]
    wall, cpu = [], []
    for r in range(rounds):
        store = EventStore(folder / f"ab-{trials}-{r}.db")
        store.append("g", [ev.GroupCreated(group_id="g", name="g", spec={}, seed=1)], 0)
        w0, c0 = time.perf_counter(), time.process_time()
        for i in range(0, len(events), 5000):
            store.append("g", events[i:i + 5000], 1 + i)
        w1, c1 = time.perf_counter(), time.process_time()
        store.close()
        raw_w, raw_c = raw_executemany(folder / f"raw-ab-{trials}-{r}.db", rows, cpu=True)
        wall.append(raw_w / (w1 - w0))
        cpu.append(raw_c / (c1 - c0))
    return {"append_vs_raw_wall": statistics.median(wall), "append_vs_raw_cpu": statistics.median(cpu)}


def chain_vs_none(folder: Path, trials: int = 500, reports: int = 97, rounds: int = 15,
                  breakdown: bool = False, batch: int = chain_ingest.BATCH) -> dict:
    """Ingest with the hash chain against ingest without it (``benchmarks/chain_ingest.py``):
    ``trials`` trials of ``reports`` reports, in batches of ``batch``, the variants interleaved."""
    events = [e for t in range(1, trials + 1) for e in trial_events(t, reports)]
    return chain_ingest.compare(folder, events, rounds=rounds, breakdown=breakdown, batch=batch)


def timed_status(db: Path) -> float:
    """One ``hpo status --json`` process, as a user runs it: with compiled bytecode (an install
    writes it; the first, cold call here writes it for an editable install)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["HPO_DB"] = str(db)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "hpo", "status", "scale", "--json"], env=env, check=True,
                   capture_output=True)
    return time.perf_counter() - start


def status_inprocess(db: Path) -> float:
    from hpo.eventlog import snapshots
    from hpo.views.records import group_summary

    store = EventStore(db)
    start = time.perf_counter()
    group_summary(snapshots.load_state(store, "scale"))
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed


PROBE = """
import json, resource, sys, time
from hpo.engine.loop import Engine
from hpo.eventlog.store import EventStore
store = EventStore(sys.argv[1])
engine = Engine(store, "scale")
history = engine.state.history()
curves = [t.curves for t in engine.state.trials.values()]  # worst case: every curve in memory
def peak_rss_mb():
    # VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's resident size when it was
    # spawned (Linux keeps the old address space's peak across exec), which read 730 MB here
    # when the benchmark process itself held a million rows
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out = {"rss_mb": peak_rss_mb()}
from hpo.engine.composition import build_searcher
from hpo.spec import GroupSpec
import copy
for name, options in (("random", {"n_experiments": 10**6}), ("grid", {}),
                      ("hyperband", {"max_iter": 81, "eta": 3, "resource": {"name": "epochs", "type": "int"}}),
                      ("bo", {"n_initial_trials": 10, "n_iterations": 10**6})):
    data = copy.deepcopy(engine.state.spec)
    data["search"] = {"algorithm": name, "options": options, "path": "search"}
    if name == "grid":
        data["matrix"].pop("x")
    searcher = build_searcher(GroupSpec.from_json(data), 1, engine.registry)
    times = []
    for _ in range(5 if name == "bo" else 20):  # bo fits a GP on (a subsample of) the history
        start = time.perf_counter()
        engine.state._dirty.add(len(engine.state.trials))  # as after a report: one trial changed
        searcher.suggest(engine.state.history())
        times.append(time.perf_counter() - start)
    times.sort()
    out["suggest_ms_" + name] = 1000 * times[len(times) // 2]
print(json.dumps(out))
"""


def probe(db: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, str(db)], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(trials: int, reports: int, folder: Path) -> dict:
    db = folder / f"scale-{trials}.db"
    gid, append_s, n_events = build(db, trials, reports)
    rows = []
    for t in range(1, trials + 1):
        for e in trial_events(t, reports):
            type_, schema, payload = ev.encode(e)
            rows.append(("g", len(rows) + 1, type_, schema, payload, utcnow(), "bench"))
    raw_s = raw_executemany(folder / f"raw-{trials}.db", rows)
    dict_rows = [(g, v, t, sc, json.loads(p), ts, w) for g, v, t, sc, p, ts, w in rows]
    raw_json_s = raw_executemany(folder / f"rawjson-{trials}.db", dict_rows, encode=True)
    store = EventStore(db)
    start = time.perf_counter()
    verdict = chain.verify(store, gid)  # what an engine does when it starts, and `hpo verify`
    verify_s = time.perf_counter() - start
    assert verdict.ok and verdict.head_version == store.version(gid)
    start = time.perf_counter()
    state = GroupState.fold(store.iter_events(gid))  # every event decoded into its model
    replay_events_s = time.perf_counter() - start
    start = time.perf_counter()
    fast = snapshots.load_state(store, gid, cache=False)  # what replay/resume/status use
    replay_s = time.perf_counter() - start
    assert len(state.trials) == len(fast.trials) == trials
    store.close()
    status_cold = timed_status(db)  # no snapshot yet: folds everything, then caches it
    status_warm = statistics.median(timed_status(db) for _ in range(3))
    status_core = statistics.median(status_inprocess(db) for _ in range(3))
    return {
        "trials": trials, "events": n_events,
        "append_events_per_s": n_events / append_s, "raw_executemany_rows_per_s": len(rows) / raw_s,
        "append_vs_raw": (n_events / append_s) / (len(rows) / raw_s),
        "raw_executemany_with_json_rows_per_s": len(rows) / raw_json_s,
        "append_vs_raw_with_json": (n_events / append_s) / (len(rows) / raw_json_s),
        "replay_s": replay_s, "replay_decoding_every_event_s": replay_events_s, "verify_s": verify_s,
        "status_process_cold_s": status_cold,
        "status_process_warm_s": status_warm, "status_load_s": status_core,
        **(append_vs_raw(folder) if trials == max(TRIALS_RUN) else {}),
        **(chain_vs_none(folder) if trials == max(TRIALS_RUN) else {}),
        **probe(db),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--reports", type=int, default=97)
    ap.add_argument("--chain-only", action="store_true",
                    help="only ingest with the hash chain against ingest without it")
    ap.add_argument("--rounds", type=int, default=15, help="rounds of the chain comparison")
    ap.add_argument("--breakdown", action="store_true",
                    help="with --chain-only: also a NULL-bound hash and a stored, uncomputed one")
    ap.add_argument("--batch", type=int, default=chain_ingest.BATCH,
                    help="with --chain-only: events per append (an engine appends a few at a time)")
    args = ap.parse_args()
    if args.chain_only:
        with tempfile.TemporaryDirectory() as tmp:
            result = chain_vs_none(Path(tmp), rounds=args.rounds, breakdown=args.breakdown,
                                   batch=args.batch)
        print(json.dumps(result))
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "chain.json").write_text(json.dumps(result, indent=2))
        return
    results = []
    TRIALS_RUN[:] = args.trials
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.trials:
            results.append(measure(n, args.reports, Path(tmp)))
            print(json.dumps(results[-1]))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "scale.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
