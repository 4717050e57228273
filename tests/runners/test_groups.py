"""Whole groups through the engine on each runner: a grid of 8 at concurrency 4."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from hpo.engine.loop import Engine
from hpo.engine.composition import create_group
from hpo.spec import parse_spec
from hpo.eventlog.store import EventStore

from .conftest import skip_or_fail
from .kits import dask_kit, docker_kit, local_kit, ssh_kit

KITS = ["local", "ssh", "dask", "docker"]


@pytest.fixture
def store(tmp_path):
    s = EventStore(tmp_path / ".hpo" / "hpo.db")
    yield s
    s.close()


def run_group(store, tmp_path, runner: dict, cmd: str, n: int = 8, concurrency: int = 4, listeners=()):
    spec = {
        "settings": {"concurrency": concurrency, "matrix": {"x": {"values": list(range(1, n + 1))}}},
        "run": {"cmd": cmd},
        "runner": runner,
    }
    text = json.dumps(spec)
    parsed = parse_spec(text, source=str(tmp_path / "spec.yaml"))
    gid = create_group(store, parsed, seed=0, source=text, source_path=str(tmp_path / "spec.yaml"))
    state = Engine(store, gid, poll_interval=0.02, listeners=list(listeners)).run()
    return gid, state


def peak_running(store, gid) -> int:
    running = peak = 0
    for s in store.read(gid):
        running += {"TrialLaunched": 1, "TrialFinished": -1}.get(s.type, 0)
        peak = max(peak, running)
    return peak


@pytest.fixture(params=KITS)
def kit(request, tmp_path):
    if request.param == "local":
        return local_kit(tmp_path)
    if request.param == "ssh":
        servers = [request.getfixturevalue("sshd"), request.getfixturevalue("second_host")]
        return ssh_kit(tmp_path, servers, request.getfixturevalue("known_hosts"), slots=2)
    if request.param == "dask":
        pytest.importorskip("distributed")
        return dask_kit(tmp_path, "local")  # the runner's own LocalCluster, 2 worker processes
    if request.param == "docker":
        return docker_kit(tmp_path, request.getfixturevalue("dockerd"))
    raise AssertionError(request.param)


@pytest.mark.slow
def test_a_grid_of_8_at_concurrency_4(kit, store, tmp_path):
    gid, state = run_group(store, tmp_path, kit.spec_section(),
                           "echo @hpo step=1 score={{ x }}; sleep 1; echo @hpo step=2 score=$(( {{ x }} * 2 ))")
    assert state.status == "succeeded", state.reason
    trials = [state.trials[i] for i in sorted(state.trials)]
    assert len(trials) == 8 and all(t.status == "succeeded" for t in trials)
    assert [t.metrics["score"] for t in trials] == [2.0 * x for x in range(1, 9)]
    assert peak_running(store, gid) == 4
    if kit.name == "ssh":
        hosts = {t.handle["host"] for t in trials}
        assert len(hosts) == 2  # both hosts took trials
        assert not (tmp_path / "remote-runs").exists() or not any((tmp_path / "remote-runs").iterdir())
        for t in trials:  # the remote run folders are gone; what was copied back stays
            assert "@hpo step=2" in (Path(t.trial_dir) / "stdout.log").read_text()


@pytest.mark.slow
def test_a_host_killed_mid_group(store, tmp_path, sshd, second_host, known_hosts, monkeypatch, caplog):
    """Two hosts with 2 slots each; the second one dies while two trials run on it."""
    secret = "tok-9f8e7d6c5b"
    monkeypatch.setenv("HPO_TEST_TOKEN", secret)
    kit = ssh_kit(tmp_path, [sshd, second_host], known_hosts, slots=2)
    runner = kit.spec_section(grace_period=1.0, connect_timeout=2, retry_down_after=3600,
                              env_passthrough=["HPO_TEST_TOKEN"])
    runner["hosts"][1]["name"] = "h2"
    killed = []

    def kill_when_busy(stored, state):
        on_h2 = [t for t in state.running() if t.handle.get("host") == "h2"]
        if not killed and len(on_h2) == 2:
            killed.extend(t.trial_id for t in on_h2)
            second_host.kill_host()

    cmd = 'echo "token $HPO_TEST_TOKEN"; echo "@hpo score={{ x }}"; sleep 1'
    with caplog.at_level(logging.WARNING, logger="hpo.engine.collect"):
        gid, state = run_group(store, tmp_path, runner, cmd, listeners=[kill_when_busy])
    assert killed, "the second host never ran two trials at once"
    assert state.status == "succeeded"
    assert len(state.trials) == 8
    # the trials lost with h2 ran again on h1 (retries, not failures): every planned trial succeeded
    assert all(t.status == "succeeded" and t.handle["host"] != "h2" for t in state.trials.values())
    retried = [s.event for s in store.read(gid) if s.type == "TrialRetried"]
    assert sorted(e.trial_id for e in retried) == sorted(killed)
    assert all("SSH host h2 became unavailable" in e.reason for e in retried)
    assert all(state.trials[t].attempts == 2 for t in killed)
    assert peak_running(store, gid) <= 4
    assert any("SSH host h2 is unavailable" in r.message for r in caplog.records)
    db = (tmp_path / ".hpo" / "hpo.db").read_bytes() + b"".join(
        p.read_bytes() for p in (tmp_path / ".hpo").glob("hpo.db-*"))
    assert secret.encode() not in db and b"token ***" in db


@pytest.mark.slow
def test_a_dask_worker_killed_mid_group_is_retried_elsewhere(store, tmp_path, dask_cluster):
    """A worker dies under a running trial: the trial runs again as a new attempt (a retry with
    its reason), every planned trial succeeds, none counts as failed, and never more run at
    once than the concurrency."""
    import os
    import signal

    killed = []

    def kill_a_worker(stored, state):
        # at a trial's first report: it is under way (its second comes 3 s later)
        if killed or stored.type != "MetricReported" or stored.event.step != 1:
            return
        pid_file = tmp_path / f"worker-{stored.event.trial_id}.pid"
        os.kill(int(pid_file.read_text()), signal.SIGKILL)  # the nanny starts a new one
        killed.append(stored.event.trial_id)

    runner = dask_kit(tmp_path, dask_cluster.scheduler_address).spec_section(grace_period=1.0)
    cmd = (f"echo $PPID > {tmp_path}/worker-{{{{ x }}}}.pid; echo @hpo step=1 score=0; sleep 3; "
           "echo @hpo step=2 score={{ x }}")
    gid, state = run_group(store, tmp_path, runner, cmd, n=4, concurrency=2, listeners=[kill_a_worker])
    assert killed, "no worker was killed"
    assert state.status == "succeeded", state.reason
    assert all(t.status == "succeeded" for t in state.trials.values())
    assert [t.metrics["score"] for t in sorted(state.trials.values(), key=lambda t: t.trial_id)] == [1, 2, 3, 4]
    retried = [s.event for s in store.read(gid) if s.type == "TrialRetried"]
    assert [e.trial_id for e in retried] == killed
    assert "was lost" in retried[0].reason or "cancelled" in retried[0].reason  # Dask's word for it
    assert state.trials[killed[0]].attempts == 2
    assert peak_running(store, gid) <= 2


@pytest.mark.slow
def test_a_host_partitioned_mid_group_and_back(store, tmp_path, sshd, second_host, known_hosts):
    """The second host's link goes down while two trials run there (they keep running: a
    partition), and comes back up later. Those trials are lost and run again on the first host,
    every planned trial succeeds, none counts as failed, never more than the concurrency run at
    once, and once the host answers again what the lost attempts left running there is killed."""
    import threading
    import time

    from hpo.runkit import procs

    if not second_host.netns:
        skip_or_fail("netns", "the second host has no network namespace (not root): no link to take down")
    kit = ssh_kit(tmp_path, [sshd, second_host], known_hosts, slots=2)
    runner = kit.spec_section(grace_period=1.0, connect_timeout=1, command_timeout=2, retry_down_after=1)
    runner["hosts"][1]["name"] = "h2"
    runner["hosts"][1]["env"] = {"ON_H2": "1"}
    parted, pids = [], {}

    def partition(stored, state):
        if parted:
            return
        on_h2 = [t for t in state.running() if t.handle.get("host") == "h2"]
        if len(on_h2) == 2 and all((tmp_path / f"pid-{t.trial_id}-1").exists() for t in on_h2):
            parted.extend(t.trial_id for t in on_h2)
            pids.update({t.trial_id: int((tmp_path / f"pid-{t.trial_id}-1").read_text()) for t in on_h2})
            second_host.link(up=False)
            threading.Timer(6.0, back).start()

    def back():
        (tmp_path / "back").touch()
        second_host.link(up=True)

    # on h2 before its return a trial sleeps 60 s (it would outlive the partition); otherwise 2 s,
    # so the group lasts past the host's return
    cmd = (f'echo $$ > {tmp_path}/pid-{{{{ x }}}}-$HPO_ATTEMPT; echo "@hpo step=1 score=0"; '
           f'if [ -n "$ON_H2" ] && [ ! -e {tmp_path}/back ]; then sleep 60; else sleep 2; fi; '
           'echo "@hpo step=2 score={{ x }}"')
    gid, state = run_group(store, tmp_path, runner, cmd, n=10, listeners=[partition])
    assert parted, "the second host never ran two trials at once"
    assert state.status == "succeeded", state.reason
    assert all(t.status == "succeeded" for t in state.trials.values())
    retried = [s.event for s in store.read(gid) if s.type == "TrialRetried"]
    assert sorted(e.trial_id for e in retried) == sorted(parted)
    assert peak_running(store, gid) <= 4
    notices = [s.event.message for s in store.read(gid) if s.type == "RunnerNoticed"]
    assert any("h2 is reachable again" in n and "killed what was left of 2 trial(s)" in n for n in notices), notices
    deadline = time.monotonic() + 15
    while any(procs.alive(p) for p in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(procs.alive(p) for p in pids.values()), "a lost attempt outlived the partition"
