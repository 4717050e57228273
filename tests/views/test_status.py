"""hpo status: the lease holder now and at a past moment, and stop reasons with evidence."""

import socket
import subprocess
import sys

from hpo.eventlog import events as ev
from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore
from hpo.engine.plans import Plan
from hpo.views.overview import overview
from hpo.views.status import status_view

from .conftest import GRID, make_group, recorder


def render(state, now=None) -> str:
    console = recorder(120)
    console.print(status_view(overview(state, Plan(), now)))
    return console.export_text()


def test_a_dead_engine_is_gone_now_but_was_alive_back_then(workdir):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with EventStore(workdir / "hpo.db") as store:
        gid = make_group(store, workdir, GRID.format(name="crashed", python=sys.executable))
        store.append(gid, [ev.EngineStarted(engine_id="e1", host=socket.gethostname(), pid=dead.pid,
                                            lease_seconds=60)], 1)
        state = GroupState.fold(store.read(gid))
    now = render(state)
    assert "(no engine: `hpo resume` continues it)" in now
    assert f"engine e1 pid {dead.pid}" in now and "expired: `hpo resume` takes over" in now
    then = render(state, now=state.last_ts + 1)
    assert "alive" in then and "no engine" not in then


def test_group_and_trial_stops_show_their_evidence(workdir):
    with EventStore(workdir / "hpo.db") as store:
        gid = make_group(store, workdir, GRID.format(name="stopped", python=sys.executable))
        store.append(gid, [
            ev.EngineStarted(engine_id="e1", host="h", pid=1, lease_seconds=15),
            ev.Suggested(trial_id=1, params={"lr": 0.1}, searcher="grid", searcher_version="1", seed=1,
                         seen_version=2),
            ev.TrialLaunched(trial_id=1, attempt=1, runner="local", trial_dir="/nowhere"),
            ev.MetricReported(trial_id=1, attempt=1, step=3, metrics={"loss": 0.9}),
            ev.Stopped(scope="trial", trial_id=1, reason="median: loss 0.9 worse than the median 0.5",
                       policy="median", evidence={"policy": "median", "config": {"min_trials": 3},
                                                  "step": 3, "value": 0.9, "threshold": 0.5,
                                                  "compared_trials": [2, 3, 4]}),
            ev.TrialFinished(trial_id=1, attempt=1, status="stopped", reason="stopped by median"),
            ev.Stopped(scope="group", reason="early_stopping[0]: loss <= 0.1 reached by trial 2",
                       policy="early_stopping", evidence={"policy": "early_stopping", "trial_id": 2,
                                                         "value": 0.05, "threshold": 0.1, "config": {"x": 1}}),
            ev.GroupFinished(status="succeeded", reason="early_stopping[0]: loss <= 0.1 reached by trial 2"),
        ], 1)
        state = GroupState.fold(store.read(gid))
    text = render(state)
    assert "stopped by early_stopping: early_stopping[0]: loss <= 0.1 reached by trial 2" in text
    assert "evidence: trial_id=2 value=0.05 threshold=0.1" in text and "config: {'x': 1}" in text
    assert "trials stopped early: 1 by median" in text
    assert "trial 1: median: loss 0.9 worse than the median 0.5" in text
    assert "evidence: step=3 value=0.9 threshold=0.5 compared_trials=[2, 3, 4]" in text


def test_status_shows_the_runner_s_latest_notice(workdir):
    """A host that went down is in the log (RunnerNoticed), so `hpo status` can say so."""
    import json as _json

    from hpo.views.records import group_summary

    with EventStore(workdir / "hpo.db") as store:
        gid = make_group(store, workdir, GRID.format(name="notices", python=sys.executable))
        store.append(gid, [ev.RunnerNoticed(runner="ssh", message=f"SSH host h{i}: unreachable",
                                            details={"host": f"h{i}"}) for i in range(25)], 1)
        state = GroupState.fold(store.read(gid))
    assert len(state.notices) == 20 and state.notices[-1]["message"] == "SSH host h24: unreachable"
    rec = _json.loads(_json.dumps(group_summary(state)))
    assert rec["notices"][-1]["details"] == {"host": "h24"} and rec["notices"][0]["message"].endswith("h5: unreachable")
    assert "ssh: SSH host h24: unreachable" in render(state)


def test_status_says_the_search_is_exhausted_while_trials_are_left(workdir):
    with EventStore(workdir / "hpo.db") as store:
        gid = make_group(store, workdir, GRID.format(name="exhausted", python=sys.executable))
        store.append(gid, [ev.EngineStarted(engine_id="e1", host="h", pid=1, lease_seconds=15),
                           ev.SearchExhausted(reason="visited all 2 grid combinations")], 1)
        state = GroupState.fold(store.read(gid))
        assert "search  exhausted: visited all 2 grid combinations" in render(state)
        store.append(gid, [ev.GroupFinished(status="succeeded", reason="visited all 2 grid combinations")],
                     state.version)
        state = GroupState.fold(store.read(gid))
    text = render(state)
    assert "search  exhausted" not in text and "reason  visited all 2 grid combinations" in text
