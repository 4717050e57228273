"""The SSH runner when hosts misbehave, against real sshd servers: pid files that name another
process, hosts that drop during a launch, ssh's own errors, slow and noisy login shells, and the
remote run folders a group leaves behind."""

from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from hpo.contracts.runner import Reported
from hpo.plugins.runners._ssh import SshUnavailable
from hpo.runkit.machines import RunnerUnavailable

from ._sshd import SshServer, free_port
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
        (refused,) = [m for m in said if "nothing was signalled" in m]
        assert refused.startswith("SSH host h2, cleaning up a trial lost while it was down: ")
        assert "pid file no longer holds the pid and start time recorded at launch" in refused
        assert handle["rundir"] in refused and "kept" in refused
        time.sleep(0.2)
        assert sleeper.poll() is None, "a process the pid file merely named was killed"
        assert psutil.pid_exists(handle["pid"])  # the trial itself: not ours to guess about
    finally:
        os.killpg(handle["pid"], signal.SIGKILL)
        wait_gone(handle["pid"])


# -- case: ssh's own errors, time limits, slow and noisy login shells -------------------------


@pytest.fixture
def rc_host(ssh_keys, tmp_path, known_hosts):
    """An sshd on 127.0.0.1 whose sessions' bash reads an rc file (``BASH_ENV``) that, while the
    file ``slow`` exists, sleeps 60 s before the command runs, and while ``noisy`` exists prints
    to stdout and stderr, as a login shell with a `pyenv init` in its rc file does."""
    rc = tmp_path / "rc"
    rc.mkdir()
    (rc / "bashrc").write_text(
        f"[ -f {rc}/noisy ] && {{ echo 'pyenv: shims ready'; echo 'pyenv: warning' >&2; }}\n"
        f"[ -f {rc}/slow ] && sleep 60\n"
        "true\n"
    )
    server = SshServer(ssh_keys, tmp_path / "sshd-rc", env={"BASH_ENV": str(rc / "bashrc")}).start()
    server.known_hosts(known_hosts)
    server.rc = rc
    yield server
    server.stop()


def test_reasons_quote_ssh_s_own_error(tmp_path, sshd, known_hosts, closing, ssh_keys):
    hosts = {
        "refused": ({"host": "127.0.0.1", "port": free_port()}, "Connection refused"),
        "unresolved": ({"host": "no-such-host.invalid"}, "Could not resolve hostname no-such-host.invalid"),
        "key": (sshd.host_options(identity_file=str(ssh_keys.host_key)), "Permission denied (publickey)"),
    }
    for name, (host, said) in hosts.items():
        r = runner(tmp_path, [{**host, "name": name}], known_hosts=str(known_hosts), connect_timeout=3)
        closing(r)
        with pytest.raises(RunnerUnavailable) as failed:
            r.start(make_launch(tmp_path, "true"))
        assert said in str(failed.value) and "exited with 255" not in str(failed.value), failed.value
        (notice,) = notices(r.poll())
        assert f"SSH host {name} is unavailable: " in notice.message and said in notice.message


def test_a_connection_that_drops_mid_call_says_so(tmp_path, second_host, known_hosts, closing):
    r = runner(tmp_path, [second_host.host_options(name="h2")], known_hosts=str(known_hosts),
               connect_timeout=2)
    closing(r)
    client = r.hosts[0].client
    client.run("true")  # the master connection is up
    dropped = threading.Timer(0.5, second_host.stop)
    dropped.start()
    with pytest.raises(SshUnavailable, match="the connection to h2 dropped while the command ran"):
        client.run("sleep 10")
    dropped.join()


def test_a_slow_login_shell_on_one_host_does_not_hold_up_another(tmp_path, sshd, rc_host, known_hosts,
                                                                  closing):
    """The rc file of one host starts taking a minute: its poll gives up after connect_timeout +
    command_timeout (3 s here), says why in a notice naming the login shell, and meanwhile no
    poll blocks and the other host's trial is recorded as soon as it ends."""
    r = runner(tmp_path, [rc_host.host_options(name="slow"), sshd.host_options(name="fast")],
               known_hosts=str(known_hosts), connect_timeout=1, command_timeout=2)
    closing(r)
    assert r.start(make_launch(tmp_path, "sleep 60", trial_id=1))["host"] == "slow"
    (rc_host.rc / "slow").touch()
    r.hosts[0].client.close()  # a fresh login for the next call, which then reads the rc file
    time.sleep(0.3)  # the slow host's next poll is in flight, stuck in its login shell
    started = time.monotonic()
    assert r.start(make_launch(tmp_path, "sleep 0.5; echo '@hpo x=1'", trial_id=2))["host"] == "fast"
    msgs, longest, fast_done = [], 0.0, None
    while time.monotonic() - started < 15 and not any("slow is unavailable" in n.message
                                                       for n in notices(msgs)):
        t0 = time.monotonic()
        msgs += r.poll()
        longest = max(longest, time.monotonic() - t0)
        if fast_done is None and 2 in [e.trial_id for e in exits(msgs)]:
            fast_done = time.monotonic() - started
        time.sleep(0.02)
    gave_up = time.monotonic() - started
    assert longest < 0.5, f"a poll blocked the engine for {longest:.1f}s"
    assert fast_done is not None and fast_done < 2.0, f"the fast host's trial was recorded late: {fast_done}"
    (down,) = [n for n in notices(msgs) if "slow is unavailable" in n.message]
    assert "the login shell on slow did not run the command within 3s" in down.message
    assert "check its rc files" in down.message
    assert gave_up < 6, f"the poll gave up only after {gave_up:.1f}s"
    (lost,) = [e for e in exits(msgs) if e.trial_id == 1]
    assert lost.status == "failed" and "the login shell on slow" in lost.reason


def test_a_launch_stuck_in_the_login_shell_goes_to_another_host(tmp_path, sshd, rc_host, known_hosts,
                                                               closing):
    (rc_host.rc / "slow").touch()
    r = runner(tmp_path, [rc_host.host_options(name="slow", slots=4), sshd.host_options(name="fast")],
               known_hosts=str(known_hosts), connect_timeout=1, command_timeout=1)
    closing(r)
    t0 = time.monotonic()
    handle = r.start(make_launch(tmp_path, "echo '@hpo x=1'"))
    assert handle["host"] == "fast" and time.monotonic() - t0 < 4
    msgs = drain(r)
    assert exits(msgs)[0].status == "succeeded"
    (down,) = notices(msgs)
    assert "the login shell on slow did not run the command within 2s" in down.message


def test_a_noisy_login_shell_is_named_once_and_skipped(tmp_path, rc_host, known_hosts, closing):
    (rc_host.rc / "noisy").touch()
    r = runner(tmp_path, [rc_host.host_options(name="noisy")], known_hosts=str(known_hosts))
    closing(r)
    r.start(make_launch(tmp_path, "echo '@hpo x=1'; sleep 0.3; echo '@hpo x=2'"))
    msgs = drain(r)
    assert [m.metrics["x"] for m in msgs if isinstance(m, Reported)] == [1.0, 2.0]
    assert exits(msgs)[0].status == "succeeded"
    (said,) = notices(msgs)
    assert "the login shell on noisy printed" in said.message and "pyenv: shims ready" in said.message
    assert "check its rc files" in said.message
    assert "pyenv" not in (tmp_path / "trials/t1/attempt-1/stdout.log").read_text()


# -- case: a launch that raced a host drop ----------------------------------------------------


def dropping_ssh(folder: Path) -> Path:
    """An ``ssh`` for the runner that, once ``folder/armed`` exists, sends the next launch with a
    tail that, after the trial has started, signals ``folder/started`` and holds the session;
    the test then kills the host's sshd (ssh exits 255), restarts it or not, and touches
    ``folder/go`` to let this ssh return its failure to the runner."""
    folder.mkdir(parents=True, exist_ok=True)
    tool = folder / "ssh"
    tool.write_text(f"""#!/bin/sh
case "$*" in *"sh -s") ;; *) exec ssh "$@" ;; esac
script=$(cat)
case $script in
  *@@hpo-started*)
    if [ -f {folder}/armed ]; then
      rm {folder}/armed
      printf '%s\\ntouch {folder}/started; sleep 30\\n' "$script" | ssh "$@"
      rc=$?
      while [ ! -f {folder}/go ]; do sleep 0.05; done
      exit $rc
    fi ;;
esac
printf '%s\\n' "$script" | exec ssh "$@"
""")
    tool.chmod(0o755)
    return tool


@contextmanager
def drop_during_launch(server, fault: Path, restart: bool):
    """Arm :func:`dropping_ssh` and drop ``server`` once the launch has started the trial."""
    done = threading.Event()

    def drop():
        deadline = time.monotonic() + 20
        while not (fault / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        server.drop()  # sshd dies, the trial lives on: the launch's ssh exits 255
        if restart:
            server.start()
        (fault / "go").touch()
        done.wait(60)  # a server started here dies with this thread (PR_SET_PDEATHSIG)

    (fault / "armed").touch()
    thread = threading.Thread(target=drop)
    thread.start()
    try:
        yield
        assert (fault / "go").exists(), "the host was never dropped"
    finally:
        done.set()
        thread.join()


def test_a_launch_that_raced_a_host_drop_is_followed_when_the_trial_started(
        tmp_path, second_host, known_hosts, closing):
    fault = tmp_path / "fault"
    r = runner(tmp_path, [second_host.host_options(name="h2")], known_hosts=str(known_hosts),
               connect_timeout=2, ssh=str(dropping_ssh(fault)))
    closing(r)
    with drop_during_launch(second_host, fault, restart=True):
        handle = r.start(make_launch(tmp_path, "echo '@hpo x=1'; sleep 0.5; echo '@hpo x=2'"))
        assert handle["host"] == "h2" and handle["pid"] > 0 and handle["start"] is not None
        msgs = drain(r)
    (ex,) = exits(msgs)
    assert ex.status == "succeeded" and ex.exit_code == 0
    assert [m.metrics["x"] for m in msgs if isinstance(m, Reported)] == [1.0, 2.0]
    (said,) = notices(msgs)
    assert "the connection dropped during the launch of trial 1" in said.message
    assert "the trial had started" in said.message


def test_a_launch_that_raced_a_host_drop_is_killed_when_the_host_returns(
        tmp_path, second_host, known_hosts, closing):
    """The host stays down after the drop: whether the trial started cannot be checked, so the
    launch fails and the attempt goes on the host's lost list; when the host answers again, the
    process it started is killed, after its start time is checked."""
    fault = tmp_path / "fault"
    r = runner(tmp_path, [second_host.host_options(name="h2")], known_hosts=str(known_hosts),
               connect_timeout=2, retry_down_after=0.3, ssh=str(dropping_ssh(fault)))
    closing(r)
    with drop_during_launch(second_host, fault, restart=False):
        with pytest.raises(RunnerUnavailable) as failed:
            r.start(make_launch(tmp_path, "sleep 60"))
    assert "the connection to h2 dropped while the command ran" in str(failed.value)
    assert "whether it started there could not be checked" in str(failed.value)
    hidden = int((tmp_path / "remote-runs" / "g" / "1-1" / "pid").read_text().split()[0])
    assert psutil.pid_exists(hidden)  # the launch did start it: a hidden job, until the host returns
    (down,) = notices(r.poll())
    assert "h2 is unavailable" in down.message and "killed when the host answers again" in down.message
    second_host.start()
    back = drain(r, until=lambda m: any("reachable again" in n.message for n in notices(m)))
    (again,) = [n for n in notices(back) if "reachable again" in n.message]
    assert "killed what was left of 1 trial(s)" in again.message
    assert wait_gone(hidden), "the trial started during the drop was left running"
    assert not (tmp_path / "remote-runs" / "g" / "1-1").exists()
