"""The engine records the searcher's plan in the log; read-only commands read it from there
instead of loading every installed plugin (which made `hpo status` slow on a busy machine)."""

import json
import os
import subprocess
import sys

from hpo.eventlog import events as ev
from hpo.engine.composition import build_searcher
from hpo.contracts.registry import default_registry
from hpo.engine.plans import Plan, plan_from, plan_of
from hpo.spec import GroupSpec
from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore

from .conftest import GRID, make_group


def test_the_engine_records_the_plan_its_searcher_makes(logged):
    with EventStore(logged["db"]) as store:
        for gid in (logged["grid"], logged["hb"]):
            started = [s.event for s in store.read(gid) if s.type == "EngineStarted"]
            state = GroupState.fold(store.read(gid))
            searcher = build_searcher(GroupSpec.from_json(state.spec), state.seed, default_registry())
            assert started and started[0].plan == plan_from(searcher).to_json()
            assert plan_of(state) == plan_from(searcher)
    hb = plan_of(state)
    assert hb.brackets and hb.resource and hb.planned == sum(r["n"] for b in hb.brackets for r in b["rungs"])


def test_a_recorded_plan_needs_no_plugin(workdir):
    """A group whose searcher is not installed here still shows the plan its engine recorded."""
    with EventStore(workdir / "hpo.db") as store:
        gid = make_group(store, workdir, GRID.format(name="elsewhere", python=sys.executable))
        state = GroupState.fold(store.read(gid))
    state.spec = {**state.spec, "search": {**state.spec["search"], "algorithm": "not-installed-here"}}
    assert plan_of(state) == Plan()  # nothing recorded, and the searcher cannot be built
    state.apply(store_event(state, ev.EngineStarted(
        engine_id="e", host="h", pid=1, lease_seconds=15,
        plan={"planned": 7, "brackets": [], "resource": None})))
    assert plan_of(state) == Plan(planned=7)


def test_a_schema_1_engine_started_upcasts_to_no_plan():
    payload = json.dumps({"engine_id": "e", "host": "h", "pid": 1, "lease_seconds": 15.0,
                          "mode": "run", "took_over_from": None, "concurrency": 2})
    for trusted in (True, False):
        event = ev.decode("EngineStarted", 1, payload, trusted=trusted)
        assert event.plan is None and event.concurrency == 2


def test_status_imports_neither_numpy_nor_the_plugins(logged):
    """What keeps `hpo status` fast: a guard against an import creeping back in."""
    code = (
        "import sys\n"
        "from hpo.cli import cli\n"
        "try:\n"
        "    cli.main(['status', sys.argv[1], '--json'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'scipy', 'sklearn', 'yaml')\n"
        "               or m.startswith('hpo.plugins') or m == 'hpo.contracts.registry')\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, logged["grid"]], capture_output=True, text=True,
                         env={**os.environ, "HPO_DB": str(logged["db"])}, check=True).stdout
    assert '"planned": 4' in out
    assert out.strip().splitlines()[-1] == "HEAVY []"


def store_event(state: GroupState, event: ev.Event):
    from hpo.eventlog.store import Stored

    return Stored(state.last_seq + 1, state.group_id, state.version + 1, "2026-01-01T00:00:00+00:00",
                  "test", event)
