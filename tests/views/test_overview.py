"""The snapshot's numbers: what is done, the time left, and when a relaunched attempt started."""

import sys
import time

import pytest

from hpo.eventlog import events as ev
from hpo.eventlog.state import GroupState, TrialState
from hpo.eventlog.store import EventStore
from hpo.engine.plans import Plan
from hpo.views.overview import overview
from hpo.views.source import ReadOnlyStore, load_group

from .conftest import GRID, make_group


def trial(tid, status, start, end=None, resumable=False):
    return TrialState(tid, {"x": tid}, {}, status=status, started_at=start, finished_at=end,
                      resumable=resumable)


def test_time_left_uses_the_mean_trial_time_and_the_concurrency():
    state = GroupState(group_id="g", name="g", status="running", created_at=0.0,
                       spec={"concurrency": 2}, engine={"concurrency": 2, "seen_at": 99.0,
                                                        "lease_seconds": 15, "pid": 1, "host": "x"})
    state.trials = {1: trial(1, "succeeded", 0.0, 10.0), 2: trial(2, "succeeded", 0.0, 10.0),
                    3: trial(3, "running", 96.0), 4: trial(4, "running", 96.0)}
    snap = overview(state, Plan(planned=6), now=100.0)
    # the running two need 6 s more each, two more wait for 10 s each, over two slots
    assert snap.done == 2 and snap.remaining == pytest.approx((6 + 6 + 2 * 10) / 2)
    # a long pause in the group's past (elapsed 100 s for 2 trials) does not inflate it


def test_no_time_left_is_shown_for_a_group_whose_engine_is_gone():
    t0 = time.time() - 100  # the engine last renewed its 15 s lease 90 s ago
    state = GroupState(group_id="g", name="g", status="running", created_at=t0,
                       spec={"concurrency": 2}, engine={"concurrency": 2, "seen_at": t0 + 10,
                                                        "lease_seconds": 15, "pid": 1, "host": "x"})
    state.trials = {1: trial(1, "succeeded", t0, t0 + 10), 2: trial(2, "running", t0 + 5)}
    snap = overview(state, Plan(planned=6))  # seen now
    assert snap.engine_gone and snap.remaining is None


def test_trials_a_pause_interrupted_are_not_done():
    state = GroupState(status="stopped", created_at=0.0, finished_at=5.0)
    state.trials = {1: trial(1, "succeeded", 0.0, 2.0), 2: trial(2, "stopped", 0.0, 5.0, resumable=True),
                    3: trial(3, "stopped", 0.0, 4.0)}
    snap = overview(state, Plan(planned=5))
    assert snap.done == 2 and snap.counts["stopped"] == 2 and snap.remaining == 0.0


def test_a_relaunched_attempt_runs_since_its_own_launch(workdir):
    with EventStore(workdir / "hpo.db") as store:
        gid = make_group(store, workdir, GRID.format(name="again", python=sys.executable))
        store.append(gid, [
            ev.EngineStarted(engine_id="e1", host="h", pid=1, lease_seconds=15),
            ev.Suggested(trial_id=1, params={"lr": 0.1}, searcher="grid", searcher_version="1", seed=1,
                         seen_version=2),
            ev.TrialLaunched(trial_id=1, attempt=1, runner="local", trial_dir="/a1"),
        ], 1)
        time.sleep(1.1)
        store.append(gid, [
            ev.TrialFinished(trial_id=1, attempt=1, status="stopped", resumable=True, reason="paused"),
            ev.EngineStarted(engine_id="e2", host="h", pid=1, lease_seconds=15, mode="resume"),
            ev.TrialLaunched(trial_id=1, attempt=2, runner="local", trial_dir="/a2"),
        ], 4)
    with ReadOnlyStore(workdir / "hpo.db") as store:
        loaded = load_group(store, "again")
        relaunch = store.read(gid)[-1]
    t = loaded.state.trials[1]
    snap = overview(loaded.state, Plan(), now=relaunch.time)
    assert t.started_at < relaunch.time - 1  # the state keeps the first attempt's start
    assert snap.running_since(t) == relaunch.time


def test_a_relaunched_trial_s_duration_counts_from_its_relaunch():
    from hpo.views.records import trial_record

    t = TrialState(1, {"x": 1}, {}, status="succeeded", started_at=0.0, attempt_started_at=100.0,
                   finished_at=110.0, attempts=2)
    rec = trial_record(t)
    assert rec["duration"] == 10.0 and rec["started_at"].startswith("1970-01-01T00:00:00")
    once = TrialState(2, {"x": 2}, {}, status="succeeded", started_at=5.0, finished_at=7.5)
    assert trial_record(once)["duration"] == 2.5
