"""SIGTERM (a batch system's preemption) and SIGHUP (a closed terminal) pause the group exactly as
Ctrl-C does, with the signal recorded as the reason; `hpo resume` then finishes it."""

import signal

import pytest

from .conftest import run_hpo, spawn, state_of, wait_for
from .test_resume import launched


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_pausing_signal_stops_the_group_with_its_reason(tmp_path, slow_grid, sig):
    engine = spawn(tmp_path, "run", str(slow_grid), "--seed", "0")
    wait_for(lambda: launched(tmp_path) >= 2)
    engine.send_signal(sig)
    assert engine.wait(timeout=60) == 3  # stopped, as after Ctrl-C
    state = state_of(tmp_path, "slow")
    assert state.status == "stopped"
    assert sig.name in state.reason and state.reason.startswith("interrupted")
    assert state.group_stop.evidence == {"requested_by": sig.name}
    assert not state.running()  # its trials were stopped, to run again on resume
    proc = run_hpo(tmp_path, "resume", "slow")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = state_of(tmp_path, "slow")
    assert after.status == "succeeded" and len(after.trials) == 6


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_during_a_ctrl_c_pause_does_not_cut_it_short(tmp_path, sig):
    """Ctrl-C, then the terminal closed (SIGHUP) or the job preempted (SIGTERM) while the trials
    have their grace period: the pause goes on to its end, as after a second SIGTERM."""
    import os

    from .test_ctrl_c import start, state, wait_for_reports

    proc = start(tmp_path, "trap '' TERM;", 30)  # trials that ignore SIGTERM: the pause waits 5 s
    wait_for_reports(tmp_path, 2)
    os.killpg(proc.pid, signal.SIGINT)
    wait_for(lambda: state(tmp_path).group_stop is not None)  # the pause is under way
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 3, out  # the engine finished the pause, not killed by the signal
    st = state(tmp_path)
    assert st.status == "stopped" and st.reason == "interrupted by the user (Ctrl-C)"
    running = [t for t in st.trials.values() if t.attempts]
    assert len(running) == 2
    for t in running:  # SIGKILLed at the end of the grace period: nothing is left running
        assert t.status == "stopped" and t.resumable and t.signal == signal.SIGKILL


def test_a_signal_during_an_hpo_stop_pause_does_not_start_it_over(tmp_path):
    """`hpo stop`, then SIGTERM while the trials have their grace period: the pause goes on to its
    end with one group stop, its own reason, not a second one with the signal's."""
    import os
    import subprocess
    import sys

    from .test_ctrl_c import start, state, wait_for_reports

    proc = start(tmp_path, "trap '' TERM;", 30)  # trials that ignore SIGTERM: the pause waits 5 s
    wait_for_reports(tmp_path, 2)
    env = {**os.environ, "HPO_DB": str(tmp_path / "hpo.db")}
    stop = subprocess.run([sys.executable, "-c", "from hpo.cli import main; main()", "stop", "cc"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert stop.returncode == 0, stop.stderr
    wait_for(lambda: state(tmp_path).group_stop is not None)  # the pause is under way
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 3, out
    st = state(tmp_path)
    assert st.status == "stopped" and st.reason.startswith("stopped by "), st.reason
    from hpo.eventlog.store import EventStore

    with EventStore(tmp_path / "hpo.db") as store:
        stops = [s.event for s in store.read(store.resolve("cc")) if s.type == "Stopped"]
    assert [e.scope for e in stops] == ["group"], stops  # one pause, not started over
