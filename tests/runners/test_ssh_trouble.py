"""The SSH runner when hosts misbehave, against real sshd servers: pid files that name another
process, hosts that drop during a launch, ssh's own errors, slow and noisy login shells, and the
remote run folders a group leaves behind."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil

from hpo.contracts.runner import Reported

from .conftest import drain, exits, make_launch
from .test_ssh import notices, runner, wait_gone


def remote_facts(pid: int) -> tuple[str, str]:
    """(start, boot) of ``pid`` as the remote wrapper records them (the hosts are this machine)."""
    start = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    return start, Path("/proc/sys/kernel/random/boot_id").read_text().strip()


def reported(msgs) -> bool:
    return any(isinstance(m, Reported) for m in msgs)


# -- case: remote kills trust the launch record, not the pid file ------------------------------


def test_a_stop_never_kills_what_a_rewritten_pid_file_names(tmp_path, sshd, known_hosts, closing, sleeper):
    """The trial's pid file is rewritten to describe an unrelated live process exactly (its pid,
    its real start time, this boot): the stop and the clean-up after it leave that process alone,
    because it is not the process the launch recorded."""
    r = runner(tmp_path, [sshd.host_options()], known_hosts=str(known_hosts), grace_period=0.2)
    closing(r)
    handle = r.start(make_launch(tmp_path, "echo '@hpo x=1'; sleep 60"))
    drain(r, until=reported)
    start, boot = remote_facts(sleeper.pid)
    (Path(handle["rundir"]) / "pid").write_text(f"{sleeper.pid} {start} {boot}\n")
    try:
        r.stop(1, 1, "enough")
        (ex,) = exits(drain(r))
        assert ex.status == "stopped"
        time.sleep(0.5)  # the poll's SIGTERM, the SIGKILL after the grace period, the clean-up
        assert sleeper.poll() is None, "a process the pid file merely named was killed"
    finally:
        os.killpg(handle["pid"], signal.SIGKILL)


def test_a_lost_trial_whose_pid_file_names_another_process_is_left_alone_and_said(
        tmp_path, sshd, second_host, known_hosts, closing, sleeper):
    r = runner(tmp_path, [second_host.host_options(name="h2")], known_hosts=str(known_hosts),
               retry_down_after=0.3, connect_timeout=2)
    closing(r)
    handle = r.start(make_launch(tmp_path, "echo '@hpo x=1'; sleep 60"))
    drain(r, until=reported)
    second_host.stop()  # the trial lives on, lost with its host
    drain(r)
    start, boot = remote_facts(sleeper.pid)
    (Path(handle["rundir"]) / "pid").write_text(f"{sleeper.pid} {start} {boot}\n")
    try:
        second_host.start()
        back = drain(r, until=lambda m: any("reachable again" in n.message for n in notices(m)))
        said = [n.message for n in notices(back)]
        assert any("killed what was left of 0 trial(s)" in m for m in said), said
        (refused,) = [m for m in said if "did nothing" in m]
        assert "pid file no longer holds the pid and start time recorded at launch" in refused
        assert handle["rundir"] in refused and "kept" in refused
        time.sleep(0.2)
        assert sleeper.poll() is None, "a process the pid file merely named was killed"
        assert psutil.pid_exists(handle["pid"])  # the trial itself: not ours to guess about
    finally:
        os.killpg(handle["pid"], signal.SIGKILL)
        wait_gone(handle["pid"])
