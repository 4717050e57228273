"""The Dask runner against a real LocalCluster: lost workers, orphaned trials, setup errors."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from hpo.runkit import procs
from hpo.runkit.machines import RunnerUnavailable
from hpo.plugins.runners.dask_runner import DaskRunner
from hpo.contracts.runner import Reported

from ._sshd import free_port, required
from .conftest import drain, exits, make_launch

if not required("dask"):  # in CI (HPO_TEST_REQUIRE=...,dask) a missing Dask fails instead
    pytest.importorskip("distributed")


def runner(**options) -> DaskRunner:
    return DaskRunner(DaskRunner.parse_config(options, "runner"))


@pytest.fixture
def closing():
    made = []
    yield made.append
    for r in made:
        r.close(stop_running=True)


def wait_gone(pid: int, limit: float = 10.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not procs.alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_building_the_runner_connects_nowhere():
    r = runner(scheduler="tcp://192.0.2.254:8786")
    assert r.capacity() is None and r.poll() == []
    assert runner(slots=3).capacity() == 3


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path):
    r = runner(scheduler=f"tcp://127.0.0.1:{free_port()}", connect_timeout=1)
    with pytest.raises(RunnerUnavailable, match="cannot reach the Dask scheduler"):
        r.start(make_launch(tmp_path, "true"))


def test_without_dask_installed_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(RunnerUnavailable, match=r"pip install 'hpo-groups\[dask\]'"):
        runner().start(make_launch(tmp_path, "true"))


def test_a_lost_worker_fails_the_trial_and_takes_its_process_along(tmp_path, dask_cluster, closing):
    r = runner(scheduler=dask_cluster.scheduler_address)
    closing(r)
    r.start(make_launch(tmp_path, "echo $PPID > worker.pid; echo $$ > trial.pid; echo '@hpo x=1'; sleep 60"))
    drain(r, until=lambda m: any(isinstance(x, Reported) for x in m))
    worker, trial = int((tmp_path / "worker.pid").read_text()), int((tmp_path / "trial.pid").read_text())
    os.kill(worker, signal.SIGKILL)  # the nanny restarts it; Dask reschedules the task
    (ex,) = exits(drain(r))
    assert ex.status == "failed" and "the Dask worker running it" in ex.reason and "was lost" in ex.reason
    assert wait_gone(trial), "the trial outlived its worker"


def test_a_trial_no_engine_follows_is_killed(tmp_path, dask_cluster, closing):
    first = runner(scheduler=dask_cluster.scheduler_address, orphan_timeout=1)
    la = make_launch(tmp_path, "echo $$ > trial.pid; echo '@hpo x=1'; sleep 60")
    handle = first.start(la)
    drain(first, until=lambda m: any(isinstance(x, Reported) for x in m))
    first.close(stop_running=False)  # the engine died and nobody resumed it
    trial = int((tmp_path / "trial.pid").read_text())
    assert wait_gone(trial), "an orphaned trial kept running"
    second = runner(scheduler=dask_cluster.scheduler_address)
    closing(second)
    time.sleep(0.3)
    assert not second.reattach(la, handle, 0)  # it was killed: the engine runs it again


def test_a_trial_of_a_dead_engines_own_scheduler_is_not_waited_for(tmp_path, closing):
    """With `local` (and `slurm`) the scheduler lives in the engine: after a crash the resumed
    engine's new scheduler cannot know the trial, and reattach says so at once instead of
    waiting 5 s a trial for its variables (all the while renewing no lease)."""
    r = runner(scheduler="local", n_workers=1)
    closing(r)
    r.client()
    began = time.monotonic()
    dead = {"key": "g-1-1", "scheduler": f"tcp://127.0.0.1:{free_port()}"}  # the dead engine's
    assert not r.reattach(make_launch(tmp_path, "true"), dead, 0)
    assert time.monotonic() - began < 2


def test_trials_spread_over_both_workers(tmp_path, dask_cluster, closing):
    r = runner(scheduler=dask_cluster.scheduler_address)
    closing(r)
    for i in (1, 2):
        r.start(make_launch(tmp_path, f"echo $PPID > worker-{i}; sleep 0.5", trial_id=i))
    drain(r, until=lambda m: len(exits(m)) == 2)
    pids = {Path(tmp_path / f"worker-{i}").read_text() for i in (1, 2)}
    assert len(pids) == 2  # two worker processes ran them at the same time
