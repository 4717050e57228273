"""Fixtures for the runner tests: throwaway sshd, dockerd and Slurm, helpers to drive a runner by hand."""

from __future__ import annotations

import subprocess
import time
import warnings
from pathlib import Path

import psutil
import pytest

from hpo.contracts.runner import Exited, Launch

from ._dockerd import Dockerd, dockerd_missing
from ._slurm import Slurm, slurm_missing
from ._sshd import Keys, NetNamespace, SshServer, required, sshd_missing


def skip_or_fail(what: str, why: str):
    if required(what):
        pytest.fail(f"{what} is required here (HPO_TEST_REQUIRE) but unavailable: {why}")
    pytest.skip(why)


def make_launch(tmp_path: Path, cmd: str, trial_id=1, attempt=1, timeout=None, env=None, gpus=0,
                group="g") -> Launch:
    d = tmp_path / "trials" / f"t{trial_id}" / f"attempt-{attempt}"
    d.mkdir(parents=True, exist_ok=True)
    return Launch(group, trial_id, attempt, cmd, env or {}, d, tmp_path, timeout, gpus)


def drain(runner, until=lambda msgs: any(isinstance(m, Exited) for m in msgs), limit=30.0):
    msgs, deadline = [], time.monotonic() + limit
    while time.monotonic() < deadline:
        msgs += runner.poll()
        if until(msgs):
            return msgs
        time.sleep(0.02)
    raise AssertionError(f"timed out; got {msgs}")


def exits(msgs) -> list[Exited]:
    return [m for m in msgs if isinstance(m, Exited)]


@pytest.fixture
def closing():
    """Call it with a runner: closed (stopping what runs) after the test."""
    made = []
    yield made.append
    for r in made:
        r.close(stop_running=True)


@pytest.fixture
def sleeper():
    """A process that runs for 30 s in its own session (killed after the test)."""
    proc = subprocess.Popen(["sleep", "30"], start_new_session=True)
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def zombie() -> int:
    """The pid of a child that ended and is not reaped until the test is over."""
    proc = subprocess.Popen(["true"], start_new_session=True)
    deadline = time.monotonic() + 10
    while psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the child never became a zombie"
        time.sleep(0.01)
    yield proc.pid
    proc.wait()


@pytest.fixture(scope="session")
def ssh_keys(tmp_path_factory) -> Keys:
    why = sshd_missing()
    if why:
        skip_or_fail("sshd", why)
    return Keys(tmp_path_factory.mktemp("ssh-keys"))


@pytest.fixture(scope="session")
def sshd(ssh_keys, tmp_path_factory) -> SshServer:
    """One sshd on 127.0.0.1 for the whole session."""
    server = SshServer(ssh_keys, tmp_path_factory.mktemp("sshd-main"))
    try:
        server.start()
    except RuntimeError as exc:
        skip_or_fail("sshd", str(exc))
    yield server
    server.stop()


@pytest.fixture
def known_hosts(tmp_path, sshd) -> Path:
    return sshd.known_hosts(tmp_path / "known_hosts")


@pytest.fixture
def second_host(ssh_keys, tmp_path, known_hosts):
    """Another host: an sshd in its own network namespace (else one on 127.0.0.2)."""
    ns = None
    try:
        for tries_left in (2, 1, 0):  # another test run may hold the same addresses
            try:
                ns = NetNamespace().create()
                break
            except RuntimeError:
                if not tries_left:
                    raise
        server = SshServer(ssh_keys, tmp_path / "sshd-ns", address=ns.address, netns=ns.name).start()
    except (RuntimeError, OSError) as exc:
        if ns is not None:
            ns.delete()
        if required("netns"):
            pytest.fail(f"netns is required here (HPO_TEST_REQUIRE) but unavailable: {exc}")
        ns = None
        warnings.warn(f"no network namespace ({exc}); the second SSH host is an sshd on 127.0.0.2")
        server = SshServer(ssh_keys, tmp_path / "sshd-2", address="127.0.0.2").start()
    server.known_hosts(known_hosts)
    yield server
    server.kill_host()
    if ns is not None:
        ns.delete()


@pytest.fixture(scope="session")
def dask_cluster():
    """A LocalCluster with 2 worker processes, shared by the Dask runner tests."""
    try:
        import distributed
    except ImportError:
        skip_or_fail("dask", "Dask is not installed (pip install 'hpo-groups[dask]')")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=40)
    yield cluster
    cluster.close()


@pytest.fixture(scope="session")
def dockerd():
    """A private docker daemon (vfs, no bridge, no iptables) with a busybox image imported."""
    why = dockerd_missing()
    if why:
        skip_or_fail("docker", why)
    daemon = Dockerd()
    try:
        daemon.start()
        daemon.build_image()
    except RuntimeError as exc:
        daemon.stop()
        skip_or_fail("docker", f"dockerd cannot run containers here: {exc}")
    yield daemon
    daemon.stop()


@pytest.fixture(scope="session")
def slurm():
    """A single-node Slurm of this machine (its own slurmctld, slurmd and munged); ``sbatch``
    and ``squeue`` find it through ``SLURM_CONF``, set for the session."""
    why = slurm_missing()
    if why:
        skip_or_fail("slurm", why)
    cluster = Slurm()
    try:
        cluster.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        cluster.stop()
        skip_or_fail("slurm", f"the throwaway Slurm did not start: {exc}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLURM_CONF", str(cluster.conf))
        yield cluster
    cluster.stop()
