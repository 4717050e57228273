"""A runner that cannot reach its backend holds the trials pending instead of failing them one by
one (one ``RunnerNoticed``), and pauses the group after ``run.backend_wait`` seconds. Real
engine, real processes, a real SQLite file; the Dask case against a scheduler address where
nothing listens."""

import sys
import textwrap
import time

import pytest

from hpo.engine.loop import Engine
from hpo.plugins.runners.local import LocalRunner
from hpo.runkit.machines import BackendUnreachable

from .test_engine import make

REPORT = f"{sys.executable} -c \"import hpo; hpo.report(loss={{{{ x }}}})\""


def spec(backend_wait: float = 300, runner: str = "") -> str:
    return textwrap.dedent(f"""
    settings:
      concurrency: 2
      metric: {{name: loss, optimization: minimize}}
      matrix:
        x: {{values: [1, 2, 3]}}
    run:
      cmd: {REPORT}
      backend_wait: {backend_wait}
    """) + runner


class DownFor(LocalRunner):
    """A local runner whose backend is unreachable for its first ``seconds``."""

    def __init__(self, seconds: float):
        super().__init__(LocalRunner.parse_config({}, "runner"))
        self.until, self.starts_refused = time.monotonic() + seconds, 0

    def start(self, launch):
        if time.monotonic() < self.until:
            self.starts_refused += 1
            raise BackendUnreachable("no scheduler at tcp://10.0.0.1:8786")
        return super().start(launch)


def of_type(store, gid, type_):
    return [s.event for s in store.read(gid) if s.type == type_]


def test_trials_wait_while_the_backend_is_down_and_run_when_it_is_back(store, workdir):
    gid = make(store, workdir, spec())
    runner = DownFor(2.5)
    state = Engine(store, gid, poll_interval=0.01, runner=runner).run()
    assert state.status == "succeeded", state.reason
    assert all(t.status == "succeeded" and t.attempts == 1 for t in state.trials.values())
    assert of_type(store, gid, "TrialRetried") == []
    notices = [e.message for e in of_type(store, gid, "RunnerNoticed")]
    assert len(notices) == 2 and "cannot reach its backend: no scheduler" in notices[0]
    assert notices[1].startswith("reached its backend again after")
    assert 2 <= runner.starts_refused <= 5  # tried again after 1 s, 2 s..., not every tick


def test_the_group_pauses_after_backend_wait_and_resumes_when_it_is_back(store, workdir):
    gid = make(store, workdir, spec(backend_wait=1.5))
    started = time.monotonic()
    state = Engine(store, gid, poll_interval=0.01, runner=DownFor(3600)).run()
    assert time.monotonic() - started < 10
    assert state.status == "stopped"
    assert state.group_stop.policy == "engine" and "could not reach its backend for 1.5s" in state.reason
    assert of_type(store, gid, "TrialLaunched") == [] and of_type(store, gid, "TrialFinished") == []
    assert len(of_type(store, gid, "RunnerNoticed")) == 1
    after = Engine(store, gid, poll_interval=0.01).run("resume")
    assert after.status == "succeeded" and all(t.status == "succeeded" for t in after.trials.values())


def test_an_unreachable_dask_scheduler_holds_the_trials_then_pauses(store, workdir):
    pytest.importorskip("distributed")
    from ..runners._sshd import free_port

    runner = f"runner: {{kind: dask, scheduler: 'tcp://127.0.0.1:{free_port()}', connect_timeout: 0.5}}\n"
    gid = make(store, workdir, spec(backend_wait=2, runner=runner))
    state = Engine(store, gid, poll_interval=0.01).run()
    assert state.status == "stopped" and "cannot reach the Dask scheduler" in state.reason
    assert of_type(store, gid, "TrialFinished") == []  # none failed one by one
    (notice,) = of_type(store, gid, "RunnerNoticed")
    assert "cannot reach its backend" in notice.message


def test_a_gpu_driver_that_does_not_answer_holds_the_trials_then_pauses(store, workdir, monkeypatch):
    """nvidia-smi is there but the driver is not: the GPU trials wait instead of failing."""
    bin_dir = workdir / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed because it could not communicate with the "
                   "NVIDIA driver.' >&2\nexit 9\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    monkeypatch.delenv("HPO_GPUS", raising=False)
    text = spec(backend_wait=1.5).replace("  backend_wait: 1.5\n", "  backend_wait: 1.5\n  gpus: 1\n")
    gid = make(store, workdir, text)
    state = Engine(store, gid, poll_interval=0.01).run()
    assert state.status == "stopped", state.reason
    assert "GPU driver does not answer" in state.reason and "could not communicate" in state.reason
    assert of_type(store, gid, "TrialFinished") == []


def test_a_missing_working_folder_burns_no_trial_and_pauses_the_group(store, workdir):
    """A project folder moved (or a disk not mounted) before `hpo resume`: the trials wait, none
    fails through its retries, the group pauses naming the folder, and resumes once it is back."""
    gid = make(store, workdir, spec(backend_wait=1.5) + "  workdir: ./moved\n")
    state = Engine(store, gid, poll_interval=0.01).run()
    assert state.status == "stopped" and "moved does not exist" in state.reason, state.reason
    assert of_type(store, gid, "TrialLaunched") == [] and of_type(store, gid, "TrialFinished") == []
    (workdir / "moved").mkdir()
    after = Engine(store, gid, poll_interval=0.01).run("resume")
    assert after.status == "succeeded" and all(t.status == "succeeded" for t in after.trials.values())
