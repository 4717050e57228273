"""Nothing a trial starts outlives its attempt: processes that left the attempt's process group,
by ``setsid`` or by a double fork, are found by the attempt's marker (``HPO_ATTEMPT_TOKEN`` in
their environment) and killed when the attempt ends, however it ends, with the local runner and
the python runner's processes; and when a runner that did not start the attempt (an engine came
back after a crash) finds it ended or gone. Real processes throughout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import psutil
import pytest

from hpo.api.objective import bind, unbind
from hpo.contracts.runner import Launch
from hpo.runkit import procs
from hpo.runkit.markers import ATTEMPT_TOKEN_ENV, Sweeps, attempt_token, kill_marked, marked, parse_token

from .conftest import drain, exits, make_launch

# A daemon's double fork: the middle process starts a session and exits, the grandchild (its
# parent gone, in no group of the trial's) records its pid and sleeps.
DOUBLE_FORK = textwrap.dedent("""
    import os, sys, time
    path = sys.argv[1]
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            with open(path + ".tmp", "w") as f:
                f.write(str(os.getpid()))
            os.rename(path + ".tmp", path)
            time.sleep(300)
        os._exit(0)
    os.wait()
    while not os.path.exists(path):
        time.sleep(0.01)
""")
# both escape routes, each recording its pid in the attempt folder before the trial goes on
ESCAPE = (
    "setsid sh -c 'echo $$ > \"$HPO_TRIAL_DIR/setsid.tmp\"; mv \"$HPO_TRIAL_DIR/setsid.tmp\" "
    "\"$HPO_TRIAL_DIR/setsid.pid\"; exec sleep 300' & "
    f"{sys.executable} -c '{DOUBLE_FORK}' \"$HPO_TRIAL_DIR/forked.pid\"; "
    "while [ ! -s \"$HPO_TRIAL_DIR/setsid.pid\" ]; do sleep 0.01; done; "
)
ESCAPEES = ("setsid.pid", "forked.pid")


def marked_launch(tmp_path: Path, cmd: str, trial_id: int = 1, timeout: float | None = None,
                  group: str = "", **kw) -> Launch:
    """A launch with the marker the engine gives every attempt (a group id of its own, so
    nothing of another test, or of another checkout's tests, carries it)."""
    group = group or uuid.uuid4().hex[:12]
    env = {ATTEMPT_TOKEN_ENV: attempt_token(group, trial_id, 1), **kw}
    launch = make_launch(tmp_path, cmd, trial_id=trial_id, timeout=timeout, env=env, group=group)
    env["HPO_TRIAL_DIR"] = str(launch.trial_dir)
    return launch


def escapees(launch: Launch, timeout: float = 30.0) -> list[int]:
    """The pids the two escaped processes recorded, once both have."""
    paths = [launch.trial_dir / name for name in ESCAPEES]
    deadline = time.monotonic() + timeout
    while not all(p.exists() and p.read_text().strip() for p in paths):
        assert time.monotonic() < deadline, "the trial's escaped processes never started"
        time.sleep(0.02)
    return [int(p.read_text()) for p in paths]


def assert_all_gone(launch: Launch, pids: list[int]) -> None:
    """Each escaped process is gone (or a zombie nobody reaped), and nothing carries the marker."""
    deadline = time.monotonic() + 5
    while any(procs.alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)  # SIGKILL is delivered at once, the exit takes a moment
    assert [pid for pid in pids if procs.alive(pid)] == [], "an escaped process outlived its attempt"
    assert marked([launch.env[ATTEMPT_TOKEN_ENV]]) == []


def assert_alive(pids: list[int]) -> None:
    assert all(procs.alive(pid) for pid in pids), "a process of a running attempt was killed"


@pytest.fixture
def local_runner():
    from hpo.plugins.runners.local import LocalRunner

    made = []

    def make(grace_period: float = 5.0):
        made.append(LocalRunner(LocalRunner.parse_config({"grace_period": grace_period}, "runner")))
        return made[-1]

    yield make
    for runner in made:
        runner.close(stop_running=True)


@pytest.fixture
def no_strays():
    """Kill what a failing test left carrying its markers."""
    tokens: list[str] = []
    yield tokens
    kill_marked(tokens)


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


# -- the local runner: every way an attempt ends ---------------------------------------------------

ENDINGS = {
    "success": (ESCAPE + 'echo "@hpo loss=1"', None, "succeeded"),
    "failure": (ESCAPE + "exit 3", None, "failed"),
    "timeout": (ESCAPE + "sleep 300", 0.5, "failed"),
}


@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_escaped_processes_die_with_the_attempt(ending, tmp_path, local_runner, no_strays):
    cmd, timeout, status = ENDINGS[ending]
    launch = marked_launch(tmp_path, cmd, timeout=timeout)
    no_strays.append(launch.env[ATTEMPT_TOKEN_ENV])
    runner = local_runner(grace_period=0.2)
    runner.start(launch)
    pids = escapees(launch)
    (done,) = exits(drain(runner))
    assert done.status == status, done
    assert_all_gone(launch, pids)


def test_escaped_processes_die_when_the_attempt_is_stopped(tmp_path, local_runner, no_strays):
    launch = marked_launch(tmp_path, ESCAPE + "sleep 300")
    no_strays.append(launch.env[ATTEMPT_TOKEN_ENV])
    runner = local_runner(grace_period=0.2)
    runner.start(launch)
    pids = escapees(launch)
    assert_alive(pids)  # they run beside the attempt while it runs
    runner.stop(1, 1, "stopped by a test")
    (done,) = exits(drain(runner))
    assert done.status == "stopped"
    assert_all_gone(launch, pids)


def test_the_runner_closing_kills_them_too(tmp_path, local_runner, no_strays):
    launch = marked_launch(tmp_path, ESCAPE + "sleep 300")
    no_strays.append(launch.env[ATTEMPT_TOKEN_ENV])
    runner = local_runner()
    runner.start(launch)
    pids = escapees(launch)
    runner.close(stop_running=True)
    assert_all_gone(launch, pids)


# -- the python runner's processes -------------------------------------------------------------

def escaping_objective(trial):
    """Starts both escape routes as subprocesses (they inherit the attempt's environment)."""
    subprocess.run(["sh", "-c", ESCAPE], check=True)
    trial.report(step=1, loss=1.0)
    if os.path.exists(os.path.join(os.environ["HPO_TRIAL_DIR"], "hold")):
        time.sleep(300)


@pytest.mark.parametrize("stop", [False, True], ids=["success", "stop"])
def test_python_runner_processes(stop, tmp_path, no_strays):
    from hpo.plugins.runners.python_runner import PythonRunner

    group = f"esc-{uuid.uuid4().hex[:12]}"
    launch = marked_launch(tmp_path, "", group=group, HPO_PARAMS="{}")
    no_strays.append(launch.env[ATTEMPT_TOKEN_ENV])
    if stop:
        (launch.trial_dir / "hold").write_text("")
    runner = PythonRunner(PythonRunner.parse_config({"backend": "process", "grace_period": 0.2}, "runner"))
    bind(group, escaping_objective)
    try:
        runner.start(launch)
        pids = escapees(launch)
        if stop:
            assert_alive(pids)
            runner.stop(1, 1, "stopped by a test")
        (done,) = exits(drain(runner))
        assert done.status == ("stopped" if stop else "succeeded"), done
        assert_all_gone(launch, pids)
    finally:
        unbind(group)
        runner.close(stop_running=True)


# -- an engine that came back: what it finds ended or gone -------------------------------------------

def test_reattached_attempt_keeps_its_processes_while_it_runs(tmp_path, local_runner, no_strays):
    """A crashed engine's attempt is followed again: nothing of it is killed while it runs, and
    everything when it ends."""
    launch = marked_launch(tmp_path, ESCAPE + 'while [ ! -e "$HPO_TRIAL_DIR/go" ]; do sleep 0.05; done')
    no_strays.append(launch.env[ATTEMPT_TOKEN_ENV])
    first = local_runner()
    handle = first.start(launch)
    pids = escapees(launch)
    first.close(stop_running=False)  # the engine died: its trials live on
    second = local_runner()
    assert second.reattach(launch, handle, 0)
    assert_alive(pids)
    (launch.trial_dir / "go").write_text("")
    (done,) = exits(drain(second))
    assert done.exit_code == 0
    assert_all_gone(launch, pids)


def test_an_attempt_that_ended_while_no_engine_watched(tmp_path, local_runner, no_strays):
    launch = marked_launch(tmp_path, ESCAPE + 'while [ ! -e "$HPO_TRIAL_DIR/go" ]; do sleep 0.05; done')
    no_strays.append(launch.env[ATTEMPT_TOKEN_ENV])
    first = local_runner()
    handle = first.start(launch)
    pids = escapees(launch)
    first.close(stop_running=False)
    (launch.trial_dir / "go").write_text("")
    wait_for(lambda: (launch.trial_dir / "exit_code").exists())
    assert_alive(pids)  # no engine: they outlive the trial, until one comes back
    second = local_runner()
    assert second.reattach(launch, handle, 0)
    (done,) = exits(drain(second))
    assert done.exit_code == 0
    assert_all_gone(launch, pids)


def test_an_attempt_found_gone_leaves_nothing(tmp_path, local_runner, no_strays):
    """Its wrapper was killed while no engine watched (no exit status): the attempt is lost, and
    what it left outside its group is killed when the next engine looks for it."""
    launch = marked_launch(tmp_path, ESCAPE + "sleep 300")
    no_strays.append(launch.env[ATTEMPT_TOKEN_ENV])
    first = local_runner()
    handle = first.start(launch)
    pids = escapees(launch)
    first.close(stop_running=False)
    os.killpg(handle["pid"], signal.SIGKILL)
    wait_for(lambda: procs.ProcessRecord.from_handle(handle).state() != procs.RUNNING)
    assert_alive(pids)
    assert not local_runner().reattach(launch, handle, 0)
    assert_all_gone(launch, pids)


def test_a_discarded_unrecorded_attempt_leaves_nothing(tmp_path, local_runner, no_strays):
    launch = marked_launch(tmp_path, ESCAPE + "sleep 300")
    no_strays.append(launch.env[ATTEMPT_TOKEN_ENV])
    first = local_runner()
    first.start(launch)
    pids = escapees(launch)
    first.close(stop_running=False)
    local_runner().discard(launch)
    assert_all_gone(launch, pids)


# -- only what is ours -------------------------------------------------------------------------

def _marked_sleeper(token: str, **kw) -> subprocess.Popen:
    return subprocess.Popen(["sleep", "300"], env={**os.environ, ATTEMPT_TOKEN_ENV: token},
                            start_new_session=True, **kw)


def test_only_processes_carrying_the_token_are_killed():
    group = uuid.uuid4().hex[:12]
    mine, other = attempt_token(group, 1, 1), attempt_token(group, 1, 2)
    a, b = _marked_sleeper(mine), _marked_sleeper(other)
    try:
        wait_for(lambda: {p.pid for p in marked([mine, other])} == {a.pid, b.pid})
        assert kill_marked([mine]) == 1
        assert a.wait(timeout=10) == -signal.SIGKILL
        assert b.poll() is None  # another attempt's marker: left alone
        assert kill_marked([None, ""]) == 0  # no marker: nothing is looked for
    finally:
        for proc in (a, b):
            proc.kill()
            proc.wait()


@pytest.mark.skipif(os.getuid() != 0, reason="starting another user's process needs root")
def test_another_users_process_is_never_killed():
    token = attempt_token(uuid.uuid4().hex[:12], 1, 1)
    theirs = _marked_sleeper(token, user=65534, group=65534)
    try:
        wait_for(lambda: psutil.Process(theirs.pid).uids().real == 65534)
        assert kill_marked([token]) == 0
        assert theirs.poll() is None
    finally:
        theirs.kill()
        theirs.wait()


def test_sweeps_pass_over_the_processes_at_most_once_per_interval():
    """A runner's sweeps kill an ended attempt's leftovers at once, unless a pass ran less than
    the interval ago: then at the first due() after it, or when the runner closes (flush); and
    a pass that took long keeps the next one away for longer (a bounded share of the time)."""
    group = uuid.uuid4().hex[:12]
    tokens = [attempt_token(group, trial, 1) for trial in (1, 2, 3)]
    first, second, third = (_marked_sleeper(token) for token in tokens)
    try:
        wait_for(lambda: len(marked(tokens)) == 3)
        sweeps = Sweeps(interval=60)
        sweeps.ended(tokens[0])
        assert first.wait(timeout=10) == -signal.SIGKILL  # at once: no pass ran before
        sweeps.ended(tokens[1])
        sweeps.due()
        assert second.poll() is None  # a pass ran a moment ago: it waits for the next
        sweeps.next_at -= 60
        sweeps.due()
        assert second.wait(timeout=10) == -signal.SIGKILL
        sweeps.ended(tokens[2])
        assert third.poll() is None
        sweeps.flush()
        assert third.wait(timeout=10) == -signal.SIGKILL
    finally:
        for proc in (first, second, third):
            proc.kill()
            proc.wait()


def test_a_token_names_one_attempt_of_one_group():
    assert parse_token(attempt_token("0123456789ab", 12, 3)) == ("0123456789ab", 12, 3)
    assert [parse_token(t) for t in ("", "g", "g:1", "g:x:1", ":1:1", "g:1:-1")] == [None] * 6


def test_a_long_pass_keeps_the_next_one_away_for_longer(monkeypatch):
    import hpo.runkit.markers as markers

    clock = [100.0]
    monkeypatch.setattr(markers.time, "monotonic", lambda: clock[0])

    def slow_pass(tokens):
        clock[0] += 0.5  # a pass over a big process table
        return 0

    monkeypatch.setattr(markers, "kill_marked", slow_pass)
    sweeps = Sweeps(interval=1.0, share=0.05)
    sweeps.ended("g:1:1")
    assert sweeps.pending == set() and sweeps.next_at == pytest.approx(100.5 + 0.5 * 19)  # 5% of the time
    clock[0] += 5
    sweeps.ended("g:2:1")
    assert sweeps.pending == {"g:2:1"}  # not due before 110
    clock[0] += 5
    sweeps.due()
    assert sweeps.pending == set()
    once = Sweeps(interval=0, share=1)
    once.ended("g:3:1")
    once.ended("g:4:1")
    assert once.pending == set()  # each at once
