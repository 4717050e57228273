"""Write ``float-noise.jsonl``: a group whose logged suggestions differ from what hpo re-derives
today by float noise only, as a log written with other numerical libraries is.

Usage: python tests/lifecycle/logs/make_float_noise_log.py

It runs a small random search for real, then rewrites the log the way another machine would have
written it: every float param of every other suggestion is moved by 3 ulps (``math.nextafter``),
the size of the differences a numpy or BLAS upgrade makes, and ``EngineStarted.environment``
names the versions of that machine (numpy 2.5.5, scipy 1.18.1, Python 3.13.1). The events are
appended to a fresh log, so the file carries a valid hash chain. Committed once; never
regenerated (its test would then compare today's suggestions with themselves).
"""

from __future__ import annotations

import json
import math
import tempfile
import textwrap
from pathlib import Path

from hpo.engine.composition import create_group
from hpo.engine.loop import Engine
from hpo.eventlog.store import EventStore
from hpo.spec import parse_spec

HERE = Path(__file__).parent
SPEC = """
name: noisy
settings:
  random_search: {n_experiments: 8}
  concurrency: 2
  metric: {name: loss, optimization: minimize}
  matrix:
    x: {uniform: [0, 1]}
    lr: {loguniform: [-7, -2]}
    layers: {values: [1, 2, 3]}
run:
  cmd: echo "@hpo loss={{ x }}"
"""
THEIRS = {"python": "3.13.1", "numpy": "2.5.5", "scipy": "1.18.1", "scikit-learn": "1.9.1"}


def ulps(value: float, n: int) -> float:
    for _ in range(n):
        value = math.nextafter(value, math.inf)
    return value


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = EventStore(Path(tmp) / "run.db")
        gid = create_group(store, parse_spec(textwrap.dedent(SPEC)), name="noisy", seed=7)
        Engine(store, gid, poll_interval=0.01).run()
        theirs = EventStore(Path(tmp) / "theirs.db")
        for s in store.read(gid):
            e = s.event
            if s.type == "EngineStarted":
                e = e.model_copy(update={"environment": {**(e.environment or {}), **THEIRS},
                                         "host": "elsewhere", "pid": 1})
            elif s.type == "Suggested" and e.trial_id % 2 == 0:
                params = {k: ulps(v, 3) if isinstance(v, float) else v for k, v in e.params.items()}
                e = e.model_copy(update={"params": params})
            theirs.append(gid, [e], s.version - 1)
        rows = theirs.conn.execute(
            "SELECT seq, group_id, version, type, schema, payload, ts, writer, hash FROM events ORDER BY seq"
        ).fetchall()
    lines = [json.dumps({"seq": r[0], "group_id": r[1], "version": r[2], "type": r[3], "schema": r[4],
                         "payload": r[5], "ts": r[6], "writer": "elsewhere", "hash": r[8].hex()})
             for r in rows]
    (HERE / "float-noise.jsonl").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
