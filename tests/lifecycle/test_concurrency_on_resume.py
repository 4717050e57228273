"""Never more trials running than `concurrency`, across stop and resume: the log is the witness.

Counted from the events themselves (a `TrialLaunched` starts an attempt, its `TrialFinished`
ends it), in log order, over the whole life of the group.
"""

from hpo.eventlog.store import EventStore

from .conftest import run_hpo, spawn, wait_for
from .test_resume import launched


def max_running(tmp_path, group: str) -> int:
    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    running: set[tuple[int, int]] = set()
    most = 0
    for s in store.read(store.resolve(group)):
        e = s.event
        if s.type == "TrialLaunched":
            running.add((e.trial_id, e.attempt))
        elif s.type == "TrialFinished":
            running.discard((e.trial_id, e.attempt))
        most = max(most, len(running))
    store.close()
    return most


def test_stop_then_resume_never_runs_more_than_concurrency(tmp_path, slow_grid):
    engine = spawn(tmp_path, "run", str(slow_grid), "--seed", "0")
    wait_for(lambda: launched(tmp_path) >= 2)
    assert run_hpo(tmp_path, "stop", "slow").returncode == 0
    assert engine.wait(timeout=60) == 3
    proc = run_hpo(tmp_path, "resume", "slow")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert max_running(tmp_path, "slow") == 2  # the interrupted two, then one new trial per free slot


def test_resume_with_a_lower_concurrency_keeps_to_it(tmp_path, slow_grid):
    engine = spawn(tmp_path, "run", str(slow_grid), "--seed", "0")
    wait_for(lambda: launched(tmp_path) >= 2)
    assert run_hpo(tmp_path, "stop", "slow").returncode == 0
    assert engine.wait(timeout=60) == 3
    proc = run_hpo(tmp_path, "resume", "slow", "--concurrency", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    events = list(store.read(store.resolve("slow")))
    resumed_at = max(i for i, s in enumerate(events) if s.type == "EngineStarted")
    running, most = set(), 0
    for s in events[resumed_at:]:
        if s.type == "TrialLaunched":
            running.add((s.event.trial_id, s.event.attempt))
        elif s.type == "TrialFinished":
            running.discard((s.event.trial_id, s.event.attempt))
        most = max(most, len(running))
    assert most == 1
