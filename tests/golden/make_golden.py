"""Write a golden log: run small real groups and save their events as JSON lines.

Usage: python tests/golden/make_golden.py VERSION   (e.g. 0.1.0)

Each run adds ``log-VERSION.jsonl`` and ``expected-VERSION.json``; committed files are never
regenerated or edited — they are the promise that logs written by that version replay forever.
``schemas.json`` is refreshed from the current event models.
"""

from __future__ import annotations

import json
import sys
import tempfile
import textwrap
from pathlib import Path

from hpo.eventlog import events as ev
from hpo.engine.loop import Engine
from hpo.engine.composition import create_group
from hpo.engine.lifecycle import fork
from hpo.spec import parse_spec
from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore
from hpo.contracts.stopper import Stopper
from hpo.testing import plugin_of, registered

HERE = Path(__file__).parent

GRID = """
settings:
  concurrency: 2
  metric: {name: loss, optimization: minimize}
  matrix:
    x: {values: [1, 2, 3]}
    mode: {values: [ok, fail]}
run:
  cmd: echo "@hpo step=1 loss={{ x }}"; echo "@hpo loss=nan"; echo "@hpo loss=1_000"; test {{ mode }} = ok
  max_retries: 1
  retry_on: [exit]
"""
HYPERBAND = """
settings:
  hyperband:
    max_iter: 9
    eta: 3
    resource: {name: epochs, type: int}
    metric: {name: loss, optimization: minimize}
  concurrency: 2
  matrix:
    x: {uniform: [0, 1]}
run:
  cmd: echo "@hpo step={{ epochs }} loss={{ x }}"
"""
STOPPING = """
settings:
  random_search: {n_experiments: 4}
  metric: {name: score, optimization: maximize}
  matrix:
    x: {quniform: [0, 10, 1]}
early_stopping:
  - {metric: score, value: 5, optimization: maximize}
run:
  cmd: echo "@hpo score={{ x }}"
"""


FAILING = """
settings:
  grid_search: {}
  metric: {name: loss, optimization: minimize}
  matrix:
    x: {values: [1, 2]}
stopping:
  - {kind: golden_explodes}
run:
  cmd: echo "@hpo step=1 loss={{ x }}"; sleep 0.2; echo "@hpo step=2 loss={{ x }}"
"""


class Explodes(Stopper):
    """A stopping rule that raises on the first report: a group that ends with PluginFailed."""

    name = "golden_explodes"

    def decide(self, view):
        if any(t.curves for t in view.trials):
            raise RuntimeError("the rule broke on its first report")
        return []


def snapshot(state: GroupState) -> dict:
    return {
        "name": state.name,
        "status": state.status,
        "reason": state.reason,
        "seed": state.seed,
        "origin": state.origin,
        "trials": {
            str(t.trial_id): {"status": t.status, "params": t.params, "metrics": t.metrics,
                              "attempts": t.attempts, "meta": t.meta}
            for t in sorted(state.trials.values(), key=lambda t: t.trial_id)
        },
    }


def schemas() -> dict:
    import hashlib

    out = {}
    for name, cls in sorted(ev.EVENT_TYPES.items()):
        schema = json.dumps(cls.model_json_schema(), sort_keys=True)
        out[name] = {"schema": cls.SCHEMA, "fingerprint": hashlib.sha256(schema.encode()).hexdigest()}
    return out


def main(version: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = EventStore(Path(tmp) / "hpo.db")
        groups = []
        for name, text in (("grid", GRID), ("hyperband", HYPERBAND), ("stopping", STOPPING)):
            gid = create_group(store, parse_spec(textwrap.dedent(text)), name=name, seed=11,
                               source=text, source_path=str(Path(tmp) / f"{name}.yaml"))
            Engine(store, gid, poll_interval=0.01).run()
            groups.append(gid)
        with registered(plugin_of(Explodes)):  # PluginFailed, with its traceback (0.2.1)
            gid = create_group(store, parse_spec(textwrap.dedent(FAILING)), name="failing", seed=11,
                               source=FAILING, source_path=str(Path(tmp) / "failing.yaml"))
            Engine(store, gid, poll_interval=0.01).run()
            groups.append(gid)
        at = [s for s in store.read(groups[0]) if s.type == "TrialFinished"][2].seq
        forked = fork(store, groups[0], at, sets=["concurrency=1"])
        Engine(store, forked, poll_interval=0.01).run("resume")
        groups.append(forked)
        lines, expected = [], {}
        # the stored rows as they are, with their chain hashes (since 0.2.2): the payload, parsed
        # here, is written back by the loader in the same compact form, byte for byte
        for seq, group_id, group_version, type_, schema, payload, ts, digest in store.conn.execute(
            "SELECT seq, group_id, version, type, schema, payload, ts, hash FROM events ORDER BY seq"
        ):
            lines.append(json.dumps({"seq": seq, "group_id": group_id, "version": group_version,
                                     "type": type_, "schema": schema, "payload": json.loads(payload),
                                     "ts": ts, "writer": "golden", "hash": digest.hex()}))
        for gid in groups:
            expected[gid] = snapshot(GroupState.fold(store.read(gid)))
    (HERE / f"log-{version}.jsonl").write_text("\n".join(lines) + "\n")
    (HERE / f"expected-{version}.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    (HERE / "schemas.json").write_text(json.dumps(schemas(), indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
