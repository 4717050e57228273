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
