"""Resume after kill -9, leases, hpo stop from another process: real processes, real SQLite."""

import socket
import time

import pytest

from hpo.eventlog import events as ev
from hpo.engine.loop import Engine
from hpo.errors import LeaseHeld
from hpo.eventlog.store import EventStore

from .conftest import kill9, run_hpo, spawn, state_of, wait_for, write_spec


def launched(tmp_path, group="slow"):
    try:
        return sum(1 for t in state_of(tmp_path, group).trials.values() if t.attempts)
    except Exception:
        return 0


def test_resume_after_kill_9_loses_nothing_and_reruns_nothing(tmp_path, slow_grid):
    engine = spawn(tmp_path, "run", str(slow_grid), "--seed", "0")
    wait_for(lambda: launched(tmp_path) >= 3)
    kill9(engine)
    before = state_of(tmp_path, "slow")
    done_before = {t.trial_id: dict(t.metrics) for t in before.trials.values() if t.status == "succeeded"}
    proc = run_hpo(tmp_path, "resume", "slow")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = state_of(tmp_path, "slow")
    assert after.status == "succeeded"
    assert sorted(after.trials) == [1, 2, 3, 4, 5, 6]
    assert [after.trials[i].params["x"] for i in range(1, 7)] == [1, 2, 3, 4, 5, 6]
    for tid, metrics in done_before.items():  # finished trials kept, never re-run
        assert after.trials[tid].metrics == metrics and after.trials[tid].attempts == 1
    assert all(t.status == "succeeded" and t.metrics["score"] == t.params["x"] for t in after.trials.values())
    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    types = [s.type for s in store.read(store.resolve("slow"))]
    assert types.count("Suggested") == 6
    assert types.count("EngineStarted") == 2
    # the trials that were running when the engine died were reattached (their processes lived on)
    assert "TrialReattached" in types
    assert store.integrity_check() == "ok"


def test_a_second_engine_refuses_while_the_first_is_alive(tmp_path):
    spec = write_spec(tmp_path, """
        name: long
        settings:
          matrix:
            x: {values: [1, 2]}
        run:
          cmd: sleep 60
        """)
    engine = spawn(tmp_path, "run", str(spec))
    wait_for(lambda: launched(tmp_path, "long") >= 1)
    proc = run_hpo(tmp_path, "resume", "long")
    assert proc.returncode == 1
    assert "lease is alive" in proc.stderr and "Traceback" not in proc.stderr
    assert run_hpo(tmp_path, "stop", "long").returncode == 0
    assert engine.wait(timeout=60) == 3
    assert state_of(tmp_path, "long").status == "stopped"


def test_an_expired_lease_is_taken_over_and_recorded(tmp_path, slow_grid):
    from hpo.spec import load_spec
    from hpo.engine.composition import create_group

    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    gid = create_group(store, load_spec(slow_grid), seed=0, source_path=str(slow_grid))
    # an engine on another machine that stopped renewing its lease
    store.append(gid, [ev.EngineStarted(engine_id="ghost", host="elsewhere", pid=1, lease_seconds=0.2)], 1)
    time.sleep(0.3)
    state = Engine(store, gid, poll_interval=0.01).run("resume")
    assert state.status == "succeeded"
    started = [s.event for s in store.read(gid) if s.type == "EngineStarted"]
    assert started[-1].took_over_from == "ghost"


def test_a_live_remote_lease_refuses(tmp_path, slow_grid):
    from hpo.spec import load_spec
    from hpo.engine.composition import create_group

    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    gid = create_group(store, load_spec(slow_grid), seed=0, source_path=str(slow_grid))
    store.append(gid, [ev.EngineStarted(engine_id="other", host="elsewhere", pid=1, lease_seconds=60)], 1)
    try:
        Engine(store, gid).run("resume")
    except LeaseHeld as exc:
        assert "other" in str(exc) and "elsewhere" in str(exc)
    else:
        raise AssertionError("a second engine started while a lease was alive")
    assert socket.gethostname() != "elsewhere"


@pytest.mark.slow  # about 10-20 s: in CI's slow step
def test_hpo_stop_from_another_terminal_then_resume(tmp_path, slower_grid):
    engine = spawn(tmp_path, "run", str(slower_grid))
    wait_for(lambda: launched(tmp_path) >= 3)
    stop = run_hpo(tmp_path, "stop", "slow", "--reason", "lunch break")
    assert stop.returncode == 0, stop.stderr
    assert engine.wait(timeout=60) == 3  # stopped: resumable
    paused = state_of(tmp_path, "slow")
    assert paused.status == "stopped" and "lunch break" in paused.reason
    assert paused.group_stop.evidence["requested_by"]
    interrupted = [t for t in paused.trials.values() if t.status == "stopped"]
    assert interrupted and all(t.resumable for t in interrupted)
    proc = run_hpo(tmp_path, "resume", "slow")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    done = state_of(tmp_path, "slow")
    assert done.status == "succeeded" and len(done.trials) == 6
    assert all(t.status == "succeeded" for t in done.trials.values())
    for t in interrupted:
        assert done.trials[t.trial_id].attempts == t.attempts + 1


@pytest.mark.slow  # about 10-20 s: in CI's slow step
def test_hpo_stop_one_trial(tmp_path, slower_grid):
    engine = spawn(tmp_path, "run", str(slower_grid))
    wait_for(lambda: launched(tmp_path) >= 1)
    assert run_hpo(tmp_path, "stop", "slow", "--trial", "1").returncode == 0
    assert engine.wait(timeout=120) == 0
    state = state_of(tmp_path, "slow")
    assert state.trials[1].status == "stopped" and state.trials[1].stop_decision["policy"] == "user"
    assert sum(t.status == "succeeded" for t in state.trials.values()) == 5


def test_stop_without_a_live_engine_is_refused(tmp_path, slow_grid):
    run_hpo(tmp_path, "run", str(slow_grid))
    proc = run_hpo(tmp_path, "stop", "slow")
    assert proc.returncode == 1 and "no live engine" in proc.stderr


def test_stop_of_a_finished_group_does_not_point_to_resume(tmp_path, slow_grid):
    """`hpo resume` refuses a finished group, so `hpo stop`'s refusal must not offer it."""
    assert run_hpo(tmp_path, "run", str(slow_grid)).returncode == 0
    proc = run_hpo(tmp_path, "stop", "slow")
    assert proc.returncode == 1 and "no live engine" in proc.stderr
    assert "hpo resume" not in proc.stderr and "hpo restart" in proc.stderr
    assert run_hpo(tmp_path, "resume", "slow").returncode == 1  # as the message no longer offers


def test_stop_of_a_trial_that_is_not_there_or_has_ended_is_refused(tmp_path):
    """`hpo stop --trial N` of an unknown or finished trial says so and writes nothing (it said
    "asked the engine" and left a request that would stop a trial of that id suggested later)."""
    spec = write_spec(tmp_path, """
        name: long
        settings:
          concurrency: 1
          matrix:
            x: {values: [1, 2, 3]}
        run:
          cmd: if [ {{ x }} = 2 ]; then sleep 60; fi
        """)
    engine = spawn(tmp_path, "run", str(spec))
    wait_for(lambda: launched(tmp_path, "long") >= 2)
    for trial, says in (("9", "no trial 9"), ("1", "trial 1 already succeeded")):
        proc = run_hpo(tmp_path, "stop", "long", "--trial", trial)
        assert proc.returncode == 1 and says in proc.stderr, proc.stdout + proc.stderr
    assert not state_of(tmp_path, "long").stop_trial_requests
    assert run_hpo(tmp_path, "stop", "long", "--trial", "2").returncode == 0
    assert engine.wait(timeout=60) == 0
    assert state_of(tmp_path, "long").trials[2].status == "stopped"
