"""The SSH runner against real sshd servers: host keys, hosts going down, secrets, GPUs."""

from __future__ import annotations

import os
import signal
import stat
import time
from pathlib import Path

import psutil
import pytest

from hpo.errors import SpecError
from hpo.runkit.gpus import TooManyGpus
from hpo.runkit.machines import RunnerUnavailable
from hpo.plugins.runners.ssh import SshRunner
from hpo.contracts.runner import Reported, RunnerNotice

from ._sshd import free_port
from .conftest import drain, exits, make_launch


def runner(tmp_path: Path, hosts: list[dict], **options) -> SshRunner:
    opts = {"hosts": hosts, "rundir": str(tmp_path / "remote-runs"), "poll_interval": 0.05, **options}
    return SshRunner(SshRunner.parse_config(opts, "runner"))


def notices(msgs) -> list[RunnerNotice]:
    return [m for m in msgs if isinstance(m, RunnerNotice)]


# -- configuration ---------------------------------------------------------------------------


def test_options_are_validated_with_the_spec_path():
    with pytest.raises(SpecError, match=r"runner.hosts.0.host"):
        SshRunner.parse_config({"hosts": [{"host": "-oProxyCommand=touch x"}]}, "runner")
    with pytest.raises(SpecError, match="unknown option 'hots'"):
        SshRunner.parse_config({"hosts": [{"host": "a"}], "hots": []}, "runner")
    with pytest.raises(SpecError, match="distinct `name`s"):
        SshRunner.parse_config({"hosts": [{"host": "a"}, {"host": "a"}]}, "runner")


def test_a_trial_needing_more_gpus_than_any_host_has_is_the_trials_own_failure(tmp_path):
    r = runner(tmp_path, [{"host": "192.0.2.254", "port": 1, "gpus": [0, 1]}])  # no call is made
    with pytest.raises(TooManyGpus, match="needs 3 GPU.s. but no SSH host has that many"):
        r.start(make_launch(tmp_path, "true", gpus=3))
    r.close(stop_running=True)


def test_building_the_runner_connects_nowhere(tmp_path):
    r = runner(tmp_path, [{"host": "192.0.2.254", "port": 1}])  # validating a spec must not hang
    assert r.capacity() == 1
    r.close(stop_running=True)


# -- host keys -------------------------------------------------------------------------------


def test_an_unknown_host_key_is_refused_by_default(tmp_path, sshd, closing):
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    r = runner(tmp_path, [sshd.host_options()], known_hosts=str(empty))
    closing(r)
    with pytest.raises(RunnerUnavailable, match="Host key verification failed"):
        r.start(make_launch(tmp_path, "true"))
    (notice,) = notices(r.poll())
    assert "is unavailable: No ED25519 host key is known" in notice.message
    assert "Host key verification failed" in notice.message  # ssh's own last words, quoted


def test_a_changed_host_key_is_refused(tmp_path, sshd, closing, ssh_keys):
    other = tmp_path / "other_key"
    os.system(f"ssh-keygen -q -t ed25519 -N '' -f {other}")
    kind, key = Path(f"{other}.pub").read_text().split()[:2]
    wrong = tmp_path / "wrong_known_hosts"
    wrong.write_text(f"[{sshd.address}]:{sshd.port} {kind} {key}\n")
    r = runner(tmp_path, [sshd.host_options()], known_hosts=str(wrong))
    closing(r)
    with pytest.raises(RunnerUnavailable, match="Host key verification failed"):
        r.start(make_launch(tmp_path, "true"))


def test_accept_new_records_the_key_and_false_skips_checking(tmp_path, sshd, closing, ssh_keys):
    fresh = tmp_path / "fresh_known_hosts"
    r = runner(tmp_path, [sshd.host_options()], known_hosts=str(fresh),
               strict_host_key_checking="accept-new")
    closing(r)
    r.start(make_launch(tmp_path, "true"))
    assert exits(drain(r))[0].status == "succeeded"
    assert Path(f"{ssh_keys.host_key}.pub").read_text().split()[1] in fresh.read_text()

    r2 = runner(tmp_path, [sshd.host_options()], strict_host_key_checking=False)
    closing(r2)
    r2.start(make_launch(tmp_path, "true", trial_id=2))
    assert exits(drain(r2))[0].status == "succeeded"


# -- placement and failures ------------------------------------------------------------------


def test_trials_spread_over_hosts_by_free_slots(tmp_path, sshd, second_host, known_hosts, closing):
    r = runner(tmp_path, [sshd.host_options(slots=2), second_host.host_options(slots=2)],
               known_hosts=str(known_hosts))
    closing(r)
    assert r.capacity() == 4
    handles = [r.start(make_launch(tmp_path, "sleep 0.3", trial_id=i)) for i in range(1, 5)]
    hosts = [h["host"] for h in handles]
    assert sorted(hosts) == sorted([hosts[0]] * 2 + [h for h in hosts if h != hosts[0]])
    assert len(set(hosts)) == 2 and hosts.count(hosts[0]) == 2
    extra = make_launch(tmp_path, "true", trial_id=5)
    assert not r.can_start(extra)  # every slot is busy: it waits
    drain(r, until=lambda m: len(exits(m)) == 4)
    assert r.can_start(extra)


def test_a_host_that_is_down_at_start_is_skipped(tmp_path, sshd, known_hosts, closing):
    dead = {"host": "127.0.0.1", "port": free_port(), "name": "dead", "slots": 4}
    r = runner(tmp_path, [dead, sshd.host_options(slots=1)], known_hosts=str(known_hosts),
               connect_timeout=2)
    closing(r)
    handle = r.start(make_launch(tmp_path, "echo '@hpo x=1'"))
    assert handle["host"] != "dead"
    msgs = drain(r)
    (notice,) = notices(msgs)
    assert "SSH host dead is unavailable" in notice.message and "refused" in notice.message
    assert exits(msgs)[0].status == "succeeded"
    r.start(make_launch(tmp_path, "true", trial_id=2))  # the dead host is not tried again yet
    assert not notices(drain(r))


def test_a_missing_workdir_fails_the_trial_not_the_host(tmp_path, sshd, known_hosts, closing):
    r = runner(tmp_path, [sshd.host_options(workdir="/no/such/dir")], known_hosts=str(known_hosts))
    closing(r)
    with pytest.raises(RunnerUnavailable, match="cannot change to the workdir /no/such/dir"):
        r.start(make_launch(tmp_path, "true"))
    assert r.can_start(make_launch(tmp_path, "true", trial_id=2))
    assert not notices(r.poll())


def test_a_host_that_dies_fails_its_trials_and_comes_back_clean(tmp_path, sshd, second_host, known_hosts,
                                                             closing):
    r = runner(tmp_path, [second_host.host_options(name="h2")], known_hosts=str(known_hosts),
               retry_down_after=0.3, connect_timeout=2)
    closing(r)
    r.start(make_launch(tmp_path, "echo $$ > trial.pid; echo '@hpo x=1'; sleep 60"))
    drain(r, until=lambda m: any(isinstance(x, Reported) for x in m))
    pid = int((tmp_path / "trial.pid").read_text())
    second_host.stop()  # sshd and its sessions die; the trial itself lives on (a partition)
    msgs = drain(r)
    (ex,) = exits(msgs)
    assert ex.status == "failed" and "SSH host h2 became unavailable" in ex.reason, msgs
    assert "@hpo x=1" in ex.output_tail
    assert any("SSH host h2 is unavailable" in n.message for n in notices(msgs))
    assert r.running() == []
    assert r.can_start(make_launch(tmp_path, "true", trial_id=2))  # no host at all: fail, not wait
    with pytest.raises(RunnerUnavailable, match="h2 is down"):
        r.start(make_launch(tmp_path, "true", trial_id=2))
    second_host.start()
    back = drain(r, until=lambda m: any("reachable again" in n.message for n in notices(m)))
    (again,) = [n for n in notices(back) if "reachable again" in n.message]
    assert "killed what was left of 1 trial" in again.message
    assert wait_gone(pid), "the trial lost with the host was not killed when it came back"


def wait_gone(pid: int, limit: float = 5.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def test_a_pid_that_names_another_process_now_is_never_signalled(tmp_path, sshd, known_hosts, closing):
    """The remote pid file records the trial's start time; once that pid names a process that
    started at another time (the trial ended, the pid was reused), no stop and no clean-up
    signals it. Simulated by recording another start time for the live trial's pid."""
    r = runner(tmp_path, [sshd.host_options()], known_hosts=str(known_hosts), grace_period=0.2)
    closing(r)
    handle = r.start(make_launch(tmp_path, "echo '@hpo x=1'; sleep 60"))
    drain(r, until=lambda m: any(isinstance(x, Reported) for x in m))
    pid_file = Path(handle["rundir"]) / "pid"
    pid, start, boot = pid_file.read_text().split()
    assert (int(pid), int(start), boot) == (handle["pid"], handle["start"], handle["boot"])
    pid_file.write_text(f"{pid} {int(start) - 1} {boot}\n")
    try:
        r.stop(1, 1, "enough")
        (ex,) = exits(drain(r))
        assert ex.status == "stopped" and ex.reason == "enough"
        time.sleep(0.5)  # the poll's SIGTERM, the SIGKILL after the grace period, the clean-up
        assert psutil.Process(int(pid)).status() != psutil.STATUS_ZOMBIE, "the pid's process was killed"
    finally:
        os.killpg(int(pid), signal.SIGKILL)


def test_reattach_to_a_host_that_is_down_gives_up(tmp_path, sshd, second_host, known_hosts, closing):
    first = runner(tmp_path, [second_host.host_options(name="h2")], known_hosts=str(known_hosts))
    la = make_launch(tmp_path, "sleep 60")
    handle = first.start(la)
    first.close(stop_running=False)
    second_host.kill_host()
    second = runner(tmp_path, [second_host.host_options(name="h2")], known_hosts=str(known_hosts),
                    connect_timeout=2)
    closing(second)
    assert not second.reattach(la, handle, 0)
    assert "unavailable" in notices(second.poll())[0].message


# -- secrets and environment -----------------------------------------------------------------


def test_passthrough_secrets_reach_the_trial_but_not_the_records(tmp_path, sshd, known_hosts, closing,
                                                               monkeypatch):
    secret = "s3cr3t-token-value"
    monkeypatch.setenv("HPO_TEST_TOKEN", secret)
    r = runner(tmp_path, [sshd.host_options()], known_hosts=str(known_hosts),
               env_passthrough=["HPO_TEST_TOKEN", "HPO_TEST_NOT_SET"])
    closing(r)
    r.start(make_launch(tmp_path, 'echo "$HPO_TEST_TOKEN" > got; echo "token=$HPO_TEST_TOKEN"; '
                                  'echo "err $HPO_TEST_TOKEN" >&2; sleep 0.5; exit 1'))
    time.sleep(0.2)
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            assert secret not in cmdline.read_text()  # never on a command line, here or there
        except OSError:
            pass
    (ex,) = exits(drain(r))
    assert (tmp_path / "got").read_text().strip() == secret
    assert secret not in ex.output_tail and "token=***" in ex.output_tail and "err ***" in ex.output_tail


def test_host_env_and_python_reach_the_trial(tmp_path, sshd, known_hosts, closing):
    r = runner(tmp_path, [sshd.host_options(env={"FOO": "a b'c"}, python="/opt/fake-venv/bin/python")],
               known_hosts=str(known_hosts))
    closing(r)
    r.start(make_launch(tmp_path, 'echo "$FOO|$HPO_PYTHON|${PATH%%:*}" > seen'))
    drain(r)
    assert (tmp_path / "seen").read_text().strip() == "a b'c|/opt/fake-venv/bin/python|/opt/fake-venv/bin"


def fake_nvidia_smi(folder: Path, indices: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tool = folder / "nvidia-smi"
    tool.write_text(f"#!/bin/sh\necho \"$@\" >> {folder}/calls\nprintf '{indices}'\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return folder


def test_gpus_are_detected_on_the_host_with_nvidia_smi(tmp_path, sshd, known_hosts, closing):
    fake = fake_nvidia_smi(tmp_path / "fakebin", "0\\n1\\n")
    host = sshd.host_options(slots=4, env={"PATH": f"{fake}:/usr/bin:/bin"})
    r = runner(tmp_path, [host], known_hosts=str(known_hosts))
    closing(r)
    cmd = 'echo "$CUDA_VISIBLE_DEVICES" > gpus-{}; sleep 0.5'
    r.start(make_launch(tmp_path, cmd.format(1), trial_id=1, gpus=1))
    r.start(make_launch(tmp_path, cmd.format(2), trial_id=2, gpus=1))
    assert not r.can_start(make_launch(tmp_path, "true", trial_id=3, gpus=1))
    drain(r, until=lambda m: len(exits(m)) == 2)
    assert {(tmp_path / f"gpus-{i}").read_text().strip() for i in (1, 2)} == {"0", "1"}
    assert (fake / "calls").read_text().split() == ["--query-gpu=index", "--format=csv,noheader"]


def test_hpo_gpus_on_the_host_wins_over_nvidia_smi(tmp_path, sshd, known_hosts, closing):
    fake = fake_nvidia_smi(tmp_path / "fakebin", "0\\n1\\n")
    host = sshd.host_options(env={"PATH": f"{fake}:/usr/bin:/bin", "HPO_GPUS": "3"})
    r = runner(tmp_path, [host], known_hosts=str(known_hosts))
    closing(r)
    r.start(make_launch(tmp_path, 'echo "$CUDA_VISIBLE_DEVICES" > gpus', gpus=1))
    drain(r)
    assert (tmp_path / "gpus").read_text().strip() == "3"
    assert not (fake / "calls").exists()


def test_the_master_connection_is_reused(tmp_path, sshd, known_hosts, closing):
    r = runner(tmp_path, [sshd.host_options(slots=8)], known_hosts=str(known_hosts))
    closing(r)
    r.start(make_launch(tmp_path, "true", trial_id=1))
    sockets = list(r._control_dir.iterdir())
    assert len(sockets) == 1 and stat.S_ISSOCK(sockets[0].stat().st_mode)
    t0 = time.monotonic()
    for i in range(2, 7):
        r.start(make_launch(tmp_path, "true", trial_id=i))
    assert (time.monotonic() - t0) / 5 < 0.5  # multiplexed starts cost one round trip each
    drain(r, until=lambda m: len(exits(m)) == 6)
    control = r._control_dir
    r.close(stop_running=True)
    assert not control.exists()
