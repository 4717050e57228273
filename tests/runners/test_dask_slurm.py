"""The Dask runner's ``scheduler: slurm``: workers started as Slurm jobs through dask-jobqueue.

The option checks run anywhere; the rest runs against a real single-node Slurm the tests start
themselves (``tests/runners/_slurm.py``; CI requires it with ``HPO_TEST_REQUIRE=...,slurm``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from hpo.contracts.runner import Reported
from hpo.engine.composition import create_group
from hpo.engine.loop import Engine
from hpo.errors import SpecError
from hpo.eventlog.store import EventStore
from hpo.plugins.runners.dask_runner import DaskRunner
from hpo.runkit import procs
from hpo.runkit.machines import RunnerUnavailable
from hpo.spec import parse_spec

from ..lifecycle.conftest import hpo_cmd, kill9, run_hpo, state_of, wait_for, write_spec
from ._sshd import required
from .conftest import drain, exits, make_launch

if not required("slurm"):  # in CI (HPO_TEST_REQUIRE=...,slurm) a missing dask-jobqueue fails instead
    pytest.importorskip("distributed")
    pytest.importorskip("dask_jobqueue")

JOB = "hpo-dask"


def options(**slurm) -> dict:
    return {"scheduler": "slurm", "slurm": {"jobs": 2, "memory": "500MB", "walltime": "10:00", **slurm}}


def gone(pid: int, limit: float = 15.0) -> bool:
    deadline = time.monotonic() + limit
    while procs.alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def runner(opts: dict) -> DaskRunner:
    return DaskRunner(DaskRunner.parse_config(opts, "runner"))


@pytest.mark.parametrize("opts, where, says", [
    (options(walltime="1 hour"), "runner.slurm.walltime", "HH:MM:SS"),
    (options(memory="lots"), "runner.slurm.memory", "e.g. 4GB"),
    (options(partitoin="gpu"), "runner.slurm.partitoin", "unknown option 'partitoin'"),
    (options(jobs=0), "runner.slurm.jobs", "greater than or equal to 1"),
    (options(workers=4), "runner.slurm", "either `jobs: N`"),
    (options(jobs=None), "runner.slurm", "either `jobs: N`"),
    (options(cores=1, processes=2), "runner.slurm.processes", "at least as many cores"),
    (options(job_extra_directives=["#SBATCH --gres=gpu:1"]), "runner.slurm.job_extra_directives",
     "without #SBATCH"),
    ({"scheduler": "slurm"}, "runner.slurm", "needs a `slurm:` mapping"),
    ({**options(), "n_workers": 4}, "runner.n_workers", "with Slurm, say it in `slurm:`"),
    ({"scheduler": "tcp://10.0.0.1:8786", "slurm": {"jobs": 1}}, "runner.slurm", "only with `scheduler: slurm`"),
])
def test_a_bad_slurm_option_is_an_error_that_names_it(opts, where, says):
    with pytest.raises(SpecError) as err:
        DaskRunner.parse_config(opts, "runner")
    assert err.value.path == where and says in err.value.message


def test_partition_is_another_name_for_queue():
    config = DaskRunner.parse_config(options(partition="gpu"), "runner")
    assert config.slurm.queue == "gpu" and config.slurm.jobs == 2


def test_hpo_validate_names_the_file_and_the_option(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent("""
        matrix: {x: {values: [1, 2]}}
        run: {cmd: "echo @hpo score={{ x }}"}
        runner: {kind: dask, scheduler: slurm, slurm: {jobs: 2, walltime: "2 days"}}
    """))
    done = subprocess.run([sys.executable, "-m", "hpo", "validate", str(spec)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "HPO_DB": str(tmp_path / "h.db")})
    assert done.returncode == 2
    assert "spec.yaml" in done.stderr and "runner.slurm.walltime" in done.stderr, done.stderr


def test_without_dask_jobqueue_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask_jobqueue", None)
    with pytest.raises(RunnerUnavailable, match=r"pip install 'hpo-groups\[slurm\]'"):
        runner(options()).start(make_launch(tmp_path, "true"))


def test_without_sbatch_the_error_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a folder without sbatch
    with pytest.raises(RunnerUnavailable, match="needs Slurm's sbatch on PATH"):
        runner(options()).start(make_launch(tmp_path, "true"))


# -- against a real Slurm -------------------------------------------------------------------------


@pytest.mark.slow  # about 10-20 s: in CI's slow step
def test_trials_run_in_the_worker_jobs_and_no_job_outlives_the_runner(tmp_path, slurm):
    r = runner(options())
    try:
        for i in (1, 2):
            r.start(make_launch(tmp_path, "echo @hpo job=$SLURM_JOB_ID; sleep 3", trial_id=i))
        msgs = drain(r, until=lambda m: sum(isinstance(x, Reported) for x in m) == 2, limit=90)
        running = {j["id"] for j in slurm.jobs(JOB) if j["state"] == "RUNNING"}
        ran_in = {str(int(m.metrics["job"])) for m in msgs if isinstance(m, Reported)}
        assert len(running) == 2 and ran_in and ran_in <= running  # trials ran in the worker jobs
        assert all(e.status == "succeeded" for e in exits(drain(r, until=lambda m: len(exits(m)) == 2)))
        logs = sorted(p.name for p in (tmp_path / "slurm").iterdir())  # the group's folder
        assert set(logs) == {f"{JOB}-{i}.{ext}" for i in running for ext in ("err", "out")}
    finally:
        r.close(stop_running=True)
    assert slurm.jobs(JOB) == []


@pytest.mark.parametrize("slurm_options, says", [
    ({"queue": "no-such-partition"}, ["runner.slurm.queue: 'no-such-partition'", "invalid partition"]),
    ({"memory": "100000GB"}, ["runner.slurm.memory: '100000GB'", "node configuration is not available"]),
    ({"job_extra_directives": ["--gres=gpu:1"]},
     ["runner.slurm.job_extra_directives: ['--gres=gpu:1']", "Invalid generic resource"]),
])
def test_an_option_sbatch_refuses_is_an_error_that_names_it(tmp_path, slurm, slurm_options, says):
    r = runner(options(**slurm_options))
    refusals = []
    try:
        for _ in range(2):
            with pytest.raises(RunnerUnavailable) as err:
                r.start(make_launch(tmp_path, "true"))
            refusals.append(err.value)
        assert all(s in str(refusals[0]) for s in says), str(refusals[0])
        assert refusals[1] is refusals[0]  # not checked again: the spec must change first
    finally:
        r.close(stop_running=True)
    assert slurm.jobs() == []


@pytest.mark.slow  # about 10-20 s: in CI's slow step
def test_a_cancelled_worker_job_loses_its_trial_and_is_replaced(tmp_path, slurm):
    """What preemption or a walltime does: the job ends under a running trial."""
    r = runner(options(jobs=1))
    try:
        r.start(make_launch(tmp_path, "echo @hpo job=$SLURM_JOB_ID; echo $$ > trial.pid; sleep 60"))
        (report,) = [m for m in drain(r, until=lambda m: any(isinstance(x, Reported) for x in m), limit=90)
                     if isinstance(m, Reported)]
        job = str(int(report.metrics["job"]))
        assert slurm.run("scancel", job).returncode == 0
        (ex,) = exits(drain(r, limit=60))
        assert ex.lost and ex.status == "failed", ex  # the engine runs it again (run.max_retries)
        assert gone(int((tmp_path / "trial.pid").read_text())), "the trial outlived its job"
        # dask-jobqueue forgets the job after distributed.deploy.lost-worker-timeout (15 s);
        # the runner's next scale (it scales while it polls) submits another in its place
        deadline = time.monotonic() + 60
        while not any(j["id"] != job for j in slurm.jobs(JOB)) and time.monotonic() < deadline:
            r.poll()
            time.sleep(0.5)
        assert any(j["id"] != job for j in slurm.jobs(JOB)), "no worker job replaced the cancelled one"
    finally:
        r.close(stop_running=True)
    assert slurm.jobs(JOB) == []


def peak_running(store, gid) -> int:
    running = peak = 0
    for s in store.read(gid):
        running += {"TrialLaunched": 1, "TrialFinished": -1}.get(s.type, 0)
        peak = max(peak, running)
    return peak


def run_group(tmp_path, cmd: str, runner_options: dict, values=(1, 2, 3, 4)):
    spec = {"settings": {"concurrency": 2, "matrix": {"x": {"values": list(values)}}},
            "run": {"cmd": cmd}, "runner": {"kind": "dask", **runner_options}}
    text = json.dumps(spec)
    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    try:
        gid = create_group(store, parse_spec(text, source=str(tmp_path / "spec.yaml")), seed=0,
                           source=text, source_path=str(tmp_path / "spec.yaml"))
        state = Engine(store, gid, poll_interval=0.05).run()
        return state, [s.event for s in store.read(gid)], peak_running(store, gid)
    finally:
        store.close()


@pytest.mark.slow
def test_a_grid_of_4_at_concurrency_2_on_slurm_workers(tmp_path, slurm):
    state, _, peak = run_group(tmp_path, "echo @hpo score={{ x }} job=$SLURM_JOB_ID; sleep 1", options())
    assert state.status == "succeeded", state.reason
    trials = [state.trials[i] for i in sorted(state.trials)]
    assert [t.status for t in trials] == ["succeeded"] * 4
    assert [t.metrics["score"] for t in trials] == [1.0, 2.0, 3.0, 4.0]
    assert all(t.metrics["job"] > 0 for t in trials)  # each ran inside a Slurm job
    assert len({t.metrics["job"] for t in trials}) <= 2  # one of the two worker jobs
    assert peak == 2
    assert slurm.jobs(JOB) == []  # the group ended: its worker jobs are cancelled and gone


@pytest.mark.slow
def test_a_preempted_job_is_retried_and_the_group_succeeds(tmp_path, slurm):
    """Trial 1's first attempt cancels its own worker job, as preemption would."""
    cmd = ('if [ "$HPO_ATTEMPT" = 1 ] && [ {{ x }} = 1 ]; then scancel "$SLURM_JOB_ID"; sleep 60; fi; '
           "echo @hpo score={{ x }}")
    state, events, peak = run_group(tmp_path, cmd, options(), values=(1, 2))
    assert state.status == "succeeded", state.reason
    assert [state.trials[i].status for i in (1, 2)] == ["succeeded", "succeeded"]
    # trial 1 lost its job; trial 2 too when Dask had placed it in the same job
    assert state.trials[1].attempts == 2 and state.trials[2].attempts in (1, 2)
    retried = [e for e in events if e.type == "TrialRetried"]
    assert retried[0].trial_id == 1 or 1 in {e.trial_id for e in retried}
    assert {e.trial_id for e in retried} == {t for t in (1, 2) if state.trials[t].attempts == 2}
    assert all("was lost" in e.reason or "cancelled" in e.reason for e in retried), retried
    assert peak <= 2
    assert slurm.jobs(JOB) == []


def events_of(tmp_path, group: str) -> list:
    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    try:
        return [s.event for s in store.read(store.resolve(group))]
    finally:
        store.close()


def session_alive(sid: int) -> bool:
    """Whether a process of session ``sid`` (a trial: the wrapper runs it in its own) still runs."""
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getsid(proc.pid) == sid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except OSError:
            pass
    return False


@pytest.mark.slow  # about 10-20 s: in CI's slow step
def test_a_killed_engine_leaves_no_worker_job_and_resume_finishes_the_group(tmp_path, slurm):
    """The scheduler lives in the engine: after a `kill -9` of it mid-group the workers lose it,
    close, and their jobs end by themselves (measured: out of squeue 3 to 5 s after the kill,
    the walltime is 10 minutes), the trials on them killed; `hpo resume` then runs the lost
    trials again as new attempts, none counted failed, and the group succeeds. About 15 s."""
    hold = tmp_path / "hold"  # while it exists, trials run until the engine is killed
    hold.touch()
    cmd = (f'echo $$ > "{tmp_path}/sid-{{{{ trial_id }}}}-$HPO_ATTEMPT"; '  # the trial's session
           f'if [ -e "{hold}" ]; then sleep 120; fi; echo "@hpo score={{{{ x }}}}"')
    spec = write_spec(tmp_path, json.dumps({
        "name": "killed", "settings": {"concurrency": 2, "matrix": {"x": {"values": [1, 2, 3, 4]}}},
        "run": {"cmd": cmd}, "runner": {"kind": "dask", **options(walltime="10:00")}}))
    with open(tmp_path / "engine.log", "wb") as log:
        engine = subprocess.Popen(hpo_cmd("run", str(spec), "--seed", "0"), cwd=tmp_path,
                                  env={**os.environ, "HPO_DB": str(tmp_path / ".hpo" / "hpo.db")},
                                  stdout=log, stderr=log, start_new_session=True)
    try:
        started = wait_for(lambda: len(list(tmp_path.glob("sid-*-1"))) == 2, timeout=90, interval=0.2)
        lost = sorted(int(p.name.split("-")[1]) for p in tmp_path.glob("sid-*-1"))
        sessions = [int((tmp_path / f"sid-{t}-1").read_text()) for t in lost]
        jobs = slurm.jobs(JOB)
        assert len(jobs) == 2 and all(j["state"] == "RUNNING" for j in jobs), jobs
        assert all(session_alive(s) for s in sessions)  # both trials run in the worker jobs
        kill9(engine)
        killed = time.monotonic()
        # the workers see their scheduler's connection close and exit: their jobs end
        left = slurm.wait_jobs(lambda js: not js, timeout=30, name=JOB)
        assert left == [], (f"worker jobs still in squeue {time.monotonic() - killed:.0f}s after the "
                            f"engine died (walltime 10:00): {left}")
        # and nothing of the trials that ran on them is left
        deadline = time.monotonic() + 10
        while any(session_alive(s) for s in sessions) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(session_alive(s) for s in sessions), "a trial outlived its worker job"
    finally:
        if engine.poll() is None:
            kill9(engine)
    assert started
    hold.unlink()
    resumed = run_hpo(tmp_path, "resume", "killed", "--plain", timeout=150)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    state = state_of(tmp_path, "killed")
    assert state.status == "succeeded", state.reason
    trials = [state.trials[i] for i in sorted(state.trials)]
    assert [t.status for t in trials] == ["succeeded"] * 4
    assert [t.metrics["score"] for t in trials] == [1.0, 2.0, 3.0, 4.0]
    assert [t.trial_id for t in trials if t.attempts == 2] == lost  # run again, once
    assert all(t.attempts == 1 for t in trials if t.trial_id not in lost)
    ended = [(e.trial_id, e.attempt, e.status, e.resumable) for e in events_of(tmp_path, "killed")
             if e.type == "TrialFinished" and e.status != "succeeded"]
    assert ended == [(t, 1, "stopped", True) for t in lost], ended  # interrupted, none failed
    assert slurm.jobs(JOB) == []  # the resumed group's worker jobs are cancelled and gone
