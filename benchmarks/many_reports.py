"""A trial reporting 10,000 steps does not slow the engine.

    python benchmarks/many_reports.py [--steps 10000] [--others 40]

One trial prints STEPS report lines as fast as it can while OTHERS no-op trials run beside it
(concurrency 2). Measures how long the engine took to record every report, the time from the
chatty trial's exit to its TrialFinished, and the no-op trials' throughput compared with a
group of the same no-op trials alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from hpo.engine.loop import Engine
from hpo.engine.composition import create_group
from hpo.spec import parse_spec
from hpo.eventlog.store import EventStore, parse_ts

RESULTS = Path(__file__).parent / "results"


def run(folder: Path, steps: int, others: int, chatty: bool) -> dict:
    script = folder / "chatty.py"
    script.write_text(
        "import sys\n"
        f"w = sys.stdout.write\nfor i in range(1, {steps} + 1):\n    w(f'@hpo step={{i}} loss={{1/i}}\\n')\n"
    )
    values = (["chatty"] if chatty else []) + [f"quiet{i}" for i in range(others)]
    spec = parse_spec({
        "settings": {"concurrency": 2, "matrix": {"kind": {"values": values}}},
        "run": {"cmd": f'if [ {{{{ kind }}}} = chatty ]; then {sys.executable} chatty.py; else true; fi'},
    })
    store = EventStore(folder / f"{chatty}.db")
    gid = create_group(store, spec, seed=0, source_path=str(folder / "spec.yaml"))
    start = time.perf_counter()
    state = Engine(store, gid).run()
    wall = time.perf_counter() - start
    out = {"wall_s": wall, "trials": len(state.trials)}
    if chatty:
        events = store.read(gid)
        reports = [s for s in events if s.type == "MetricReported" and s.event.trial_id == 1]
        finished = next(s for s in events if s.type == "TrialFinished" and s.event.trial_id == 1)
        launched = next(s for s in events if s.type == "TrialLaunched" and s.event.trial_id == 1)
        out.update(reports=len(reports),
                   chatty_recorded_s=parse_ts(finished.ts) - parse_ts(launched.ts),
                   report_batches=len({s.ts for s in reports}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--others", type=int, default=40)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        alone = run(Path(tmp), args.steps, args.others, chatty=False)
        beside = run(Path(tmp), args.steps, args.others, chatty=True)
    result = {"steps": args.steps, "others": args.others, "quiet_alone_s": alone["wall_s"],
              "with_chatty_s": beside["wall_s"], **{k: v for k, v in beside.items() if k != "wall_s"}}
    assert result["reports"] == args.steps
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "many_reports.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
