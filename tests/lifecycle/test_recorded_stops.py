"""A stop the log records is carried out, and recorded as a stop, by the engine after a crash.

A stopping rule's decision is written (``Stopped``) before the runner is told; an engine killed
between the two, or after the trial died of the stop's SIGTERM but before its exit was written,
leaves the next engine a running trial with a recorded decision. The same for a group stop,
which outlives the crash, and for a pause, which resume undoes without losing the trials it had
stopped. Real `hpo` processes and trials, the kills placed by ``HPO_FAULT``
(tests/lifecycle/test_chaos_faults.py runs every such point on a larger group).
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import resume_to_the_end, run_hpo, state_of, wait_for, write_spec
from .invariants import check_invariants

# trial 1 (x=0.3) reports first; trial 2 (x=0.9) reports 0.6 s later, 0.36 behind: the threshold
# rule stops it at its first report, with 20 slow steps still to go
TRAIN = """
import time
import hpo
p = hpo.params()
time.sleep(p["x"])
for step in range(1, 21):
    hpo.report(step=step, loss=(p["x"] - 0.3) ** 2)
    time.sleep(p.get("step_pause", 0.25 if p["x"] > 0.5 else 0.01))
"""

SPEC = """
    name: g
    settings:
      concurrency: 2
      metric: {name: loss, optimization: minimize}
      matrix:
        x: {values: [0.3, 0.9]}
    stopping:
      - {kind: threshold, margin: 0.05}
    run:
      cmd: PYTHON train.py
    """


# one GPU slot for two trials: trial 2 waits, pending; trial 1's first report (loss 0) meets the
# early-stopping entry, which ends the search, stops trial 1 and closes trial 2
GROUP_STOP_SPEC = """
    name: g
    settings:
      concurrency: 2
      metric: {name: loss, optimization: minimize}
      matrix:
        x: {values: [0.3, 0.9]}
    declarations: {step_pause: 0.25}
    early_stopping:
      - {metric: loss, value: 0.01, optimization: minimize}
    runner: {kind: local, gpus: [0]}
    run:
      cmd: PYTHON train.py
      gpus: 1
    """


def _killed(tmp_path, fault: str, spec: str = SPEC) -> None:
    (tmp_path / "train.py").write_text(TRAIN)
    spec_path = write_spec(tmp_path, spec.replace("PYTHON", sys.executable))
    env = {**os.environ, "HPO_DB": str(tmp_path / ".hpo" / "hpo.db"), "HPO_FAULT": fault}
    proc = subprocess.run([sys.executable, "-m", "hpo", "run", str(spec_path), "--plain"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def _run_until_killed(tmp_path, fault: str) -> None:
    _killed(tmp_path, fault)
    tr = state_of(tmp_path, "g").trials[2]
    assert tr.status == "running" and tr.stop_decision["policy"] == "threshold"


def _ends_stopped_as_decided(tmp_path) -> None:
    resume_to_the_end(tmp_path, "g")
    state = state_of(tmp_path, "g")
    assert state.status == "succeeded", state.reason
    t1, t2 = state.trials[1], state.trials[2]
    assert t1.status == "succeeded" and t1.last_step == 20
    assert t2.status == "stopped", (t2.status, t2.reason)
    assert t2.reason.startswith(t2.stop_decision["reason"]) and not t2.resumable
    assert t2.attempts == 1 and t2.last_step < 20  # not run on, not run again
    check_invariants(tmp_path / ".hpo" / "hpo.db", "g", 2)


def test_a_stop_recorded_but_not_sent_is_carried_out_on_resume(tmp_path):
    _run_until_killed(tmp_path, "after:Stopped:1")  # the runner was never told
    _ends_stopped_as_decided(tmp_path)


def test_an_attempt_that_died_of_the_stop_is_recorded_stopped_on_resume(tmp_path):
    _run_until_killed(tmp_path, "before:TrialFinished:2")  # trial 1 ended; trial 2 died of the SIGTERM
    exit_file = Path(state_of(tmp_path, "g").trials[2].trial_dir) / "exit_code"
    assert exit_file.read_text() == f"{128 + signal.SIGTERM}\n"  # the wrapper's record of its end
    _ends_stopped_as_decided(tmp_path)


def test_an_attempt_lost_while_being_stopped_is_not_run_again(tmp_path):
    _run_until_killed(tmp_path, "after:Stopped:1")
    pid = state_of(tmp_path, "g").trials[2].handle["pid"]
    os.killpg(pid, signal.SIGKILL)  # its process and the wrapper that would record its exit
    wait_for(lambda: not _alive(pid), timeout=10)
    _ends_stopped_as_decided(tmp_path)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_a_group_stop_outlives_the_crash(tmp_path):
    _killed(tmp_path, "after:Stopped:1", GROUP_STOP_SPEC)  # recorded; nothing stopped or closed
    state = state_of(tmp_path, "g")
    assert state.group_stop.policy == "early_stopping"
    assert [state.trials[1].status, state.trials[2].status] == ["running", "pending"]
    resume_to_the_end(tmp_path, "g")
    state = state_of(tmp_path, "g")
    assert state.status == "succeeded" and state.reason == state.group_stop.reason
    t1, t2 = state.trials[1], state.trials[2]
    assert t1.status == "stopped" and t1.last_step < 20, (t1.status, t1.last_step)
    assert t1.reason == f"the group stopped: {state.group_stop.reason}"
    assert t2.status == "stopped" and t2.attempts == 0 and t2.reason.startswith("never started")
    check_invariants(tmp_path / ".hpo" / "hpo.db", "g", 2)  # the stop decided once, nothing launched after it


PAUSE_SPEC = """
    name: g
    settings:
      concurrency: 2
      metric: {name: loss, optimization: minimize}
      matrix:
        x: {values: [0.3, 0.9]}
    declarations: {step_pause: 0.25}
    run:
      cmd: PYTHON train.py
    """


@pytest.mark.slow  # about 10-20 s: in CI's slow step
@pytest.mark.parametrize("fault", ["before:Stopped:1", "after:Stopped:1", "before:TrialFinished:1"])
def test_a_pause_cut_short_by_a_crash_loses_no_trial(tmp_path, fault):
    """`hpo stop` pauses the group; the engine dies before (after) recording the pause, or after
    its SIGTERM ended the trials but before their ends were written: resume runs them to the end."""
    (tmp_path / "train.py").write_text(TRAIN)
    spec_path = write_spec(tmp_path, PAUSE_SPEC.replace("PYTHON", sys.executable))
    env = {**os.environ, "HPO_DB": str(tmp_path / ".hpo" / "hpo.db"), "HPO_FAULT": fault}
    engine = subprocess.Popen([sys.executable, "-m", "hpo", "run", str(spec_path), "--plain"], cwd=tmp_path,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    wait_for(lambda: _both_reported(tmp_path), timeout=60)
    assert run_hpo(tmp_path, "stop", "g").returncode == 0
    assert engine.wait(timeout=60) == -signal.SIGKILL, engine.stderr.read()
    resume_to_the_end(tmp_path, "g")
    state = state_of(tmp_path, "g")
    assert state.status == "succeeded", state.reason
    for t in state.trials.values():
        assert t.status == "succeeded" and t.last_step == 20, (t.trial_id, t.status, t.reason)
    check_invariants(tmp_path / ".hpo" / "hpo.db", "g", 2)


def _both_reported(tmp_path) -> bool:
    try:
        trials = state_of(tmp_path, "g").trials
    except Exception:  # the group is not created yet
        return False
    return len(trials) == 2 and all(t.reports for t in trials.values())


# trial 2 takes its time over the threshold rule's SIGTERM: it is still ending when `hpo stop`
# pauses the group
LINGER = TRAIN.replace("import time\n", """import signal, sys, time
import hpo as _hpo
signal.signal(signal.SIGTERM, lambda *_: (open(f"got-term-{_hpo.params()['x']}", "w").close(),
                                          time.sleep(3), sys.exit(143)))
""")


def test_a_pause_does_not_run_again_a_trial_a_stopping_rule_was_stopping(tmp_path):
    """The pause stops every running trial to run it again on resume, but a trial whose own stop
    was decided before it stays stopped as decided: resume neither reruns it nor lets the decision
    fall on a new attempt that no stopper judges."""
    (tmp_path / "train.py").write_text(LINGER)
    spec_path = write_spec(tmp_path, SPEC.replace("PYTHON", sys.executable))
    env = {**os.environ, "HPO_DB": str(tmp_path / ".hpo" / "hpo.db")}
    engine = subprocess.Popen([sys.executable, "-m", "hpo", "run", str(spec_path), "--plain"], cwd=tmp_path,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    wait_for(lambda: _stopping(tmp_path), timeout=60)
    assert run_hpo(tmp_path, "stop", "g").returncode == 0
    engine.wait(timeout=60)
    state = state_of(tmp_path, "g")
    assert state.status == "stopped", state.reason
    assert _pause_came_first(tmp_path)  # trial 2 was still being stopped when the pause came
    t2 = state.trials[2]
    assert t2.status == "stopped" and not t2.resumable, (t2.status, t2.reason)
    assert t2.reason == t2.stop_decision["reason"]
    resume_to_the_end(tmp_path, "g")
    state = state_of(tmp_path, "g")
    t1, t2 = state.trials[1], state.trials[2]
    assert t1.status == "succeeded" and t1.last_step == 20  # the pause's own trial ran again
    assert t2.status == "stopped" and t2.attempts == 1 and t2.last_step < 20, (t2.attempts, t2.reason)
    check_invariants(tmp_path / ".hpo" / "hpo.db", "g", 2)


def _pause_came_first(tmp_path) -> bool:
    from hpo.eventlog.store import EventStore

    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    try:
        events = [s.event for s in store.read(store.resolve("g"))]
    finally:
        store.close()
    kinds = [(e.type, getattr(e, "scope", None), getattr(e, "trial_id", None)) for e in events]
    return kinds.index(("Stopped", "group", None)) < kinds.index(("TrialFinished", None, 2))


def _stopping(tmp_path) -> bool:
    """Trial 2's stop is recorded and its SIGTERM came, while it is still running."""
    try:
        t2 = state_of(tmp_path, "g").trials.get(2)
    except Exception:
        return False
    return (t2 is not None and t2.stop_decision is not None and t2.status == "running"
            and (tmp_path / "got-term-0.9").exists())
