"""Never more trials running than `concurrency`, across stop and resume: the log is the witness
(`invariants.most_running` counts the attempts running at once from the log's own events)."""

import pytest

from hpo.eventlog.store import EventStore

from .conftest import kill9, run_hpo, spawn, wait_for
from .invariants import most_running
from .test_resume import launched


def _events(tmp_path, group: str) -> list:
    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    try:
        return list(store.read(store.resolve(group)))
    finally:
        store.close()


def _stop_then_resume(tmp_path, slow_grid, *resume_args: str) -> list:
    engine = spawn(tmp_path, "run", str(slow_grid), "--seed", "0")
    wait_for(lambda: launched(tmp_path) >= 2)
    assert run_hpo(tmp_path, "stop", "slow").returncode == 0
    assert engine.wait(timeout=60) == 3
    proc = run_hpo(tmp_path, "resume", "slow", *resume_args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return _events(tmp_path, "slow")


def test_stop_then_resume_never_runs_more_than_concurrency(tmp_path, slow_grid):
    events = _stop_then_resume(tmp_path, slow_grid)
    assert most_running(events) == 2  # the interrupted two, then one new trial per free slot


def test_resume_with_a_lower_concurrency_keeps_to_it(tmp_path, slow_grid):
    events = _stop_then_resume(tmp_path, slow_grid, "--concurrency", "1")
    resumed_at = max(i for i, s in enumerate(events) if s.type == "EngineStarted")
    assert most_running(events[resumed_at:]) == 1


def _resume_with_one_then(tmp_path, slow_grid, interrupt) -> list:
    """`hpo resume --concurrency 1`, ``interrupt`` its engine, then a plain `hpo resume`."""
    engine = spawn(tmp_path, "run", str(slow_grid), "--seed", "0")
    wait_for(lambda: launched(tmp_path) >= 2)
    assert run_hpo(tmp_path, "stop", "slow").returncode == 0
    assert engine.wait(timeout=60) == 3
    engine = spawn(tmp_path, "resume", "slow", "--concurrency", "1", "--plain")
    wait_for(lambda: launched(tmp_path) >= 3)
    interrupt(engine)
    proc = run_hpo(tmp_path, "resume", "slow", "--plain")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    events = _events(tmp_path, "slow")
    return events[max(i for i, s in enumerate(events) if s.type == "EngineStarted"):]


@pytest.mark.slow  # about 10-20 s: in CI's slow step
def test_a_concurrency_set_on_resume_holds_from_then_on(tmp_path, slow_grid):
    """`hpo resume --concurrency 1`, a crash, then a plain `hpo resume`: still one at a time (the
    engine keeps the last recorded concurrency; the spec's 2 came back before)."""
    last = _resume_with_one_then(tmp_path, slow_grid, kill9)
    assert last[0].event.concurrency == 1 and most_running(last) == 1


@pytest.mark.slow  # about 10-20 s: in CI's slow step
def test_a_concurrency_set_on_resume_holds_after_a_pause_too(tmp_path, slow_grid):
    """`hpo resume --concurrency 1`, `hpo stop`, then a plain `hpo resume`: still one at a time
    (a pause ends the engine's record in the state, not the concurrency it ran with)."""
    def pause(engine):
        assert run_hpo(tmp_path, "stop", "slow").returncode == 0
        assert engine.wait(timeout=60) == 3

    last = _resume_with_one_then(tmp_path, slow_grid, pause)
    assert last[0].event.concurrency == 1 and most_running(last) == 1
