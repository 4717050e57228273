"""The behaviour every runner shares, for real: local processes, SSH hosts, docker, Dask.

Each test runs against every runner kit (see kits.py); a kit whose backend is missing here is
skipped (or fails, when HPO_TEST_REQUIRE names it, as in CI).
"""

from __future__ import annotations

import json
import signal
import sys
import time

import pytest

from hpo.contracts.runner import Reported
from hpo.spec.template import render

from .conftest import drain, exits, make_launch
from .kits import dask_kit, docker_kit, local_kit, ssh_kit

KITS = ["local", "ssh", "dask", "docker"]


@pytest.fixture(params=KITS)
def kit(request, tmp_path):
    if request.param == "local":
        return local_kit(tmp_path)
    if request.param == "ssh":
        sshd = request.getfixturevalue("sshd")
        return ssh_kit(tmp_path, [sshd], request.getfixturevalue("known_hosts"))
    if request.param == "dask":
        return dask_kit(tmp_path, request.getfixturevalue("dask_cluster").scheduler_address)
    if request.param == "docker":
        return docker_kit(tmp_path, request.getfixturevalue("dockerd"))
    raise AssertionError(request.param)


@pytest.fixture
def runner_of(kit):
    made = []

    def make(**kw):
        r = kit.make(**kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close(stop_running=True)


def test_reports_offsets_and_success(kit, runner_of, tmp_path):
    r = runner_of()
    r.start(make_launch(tmp_path, "echo '@hpo step=1 loss=0.5'; echo hello; echo '@hpo loss=0.25'"))
    msgs = drain(r)
    reports = [m for m in msgs if isinstance(m, Reported)]
    assert [(m.step, m.metrics) for m in reports] == [(1, {"loss": 0.5}), (None, {"loss": 0.25})]
    assert [m.offset for m in reports] == [21, 21 + 6 + 15]  # byte offsets after each line
    (ex,) = exits(msgs)
    assert ex.status == "succeeded" and ex.exit_code == 0
    assert r.running() == []


def test_params_reach_the_trial_through_the_environment(kit, runner_of, tmp_path):
    r = runner_of()
    env = {"HPO_PARAMS": json.dumps({"x": 1.5})}
    r.start(make_launch(tmp_path, 'echo "@hpo {\\"got\\": $(echo $HPO_PARAMS | cut -c7-9)}"', env=env))
    msgs = drain(r)
    assert [m.metrics for m in msgs if isinstance(m, Reported)] == [{"got": 1.5}]


def test_failure_keeps_exit_code_and_output(kit, runner_of, tmp_path):
    r = runner_of()
    r.start(make_launch(tmp_path, "echo out-line; echo oops >&2; exit 3"))
    (ex,) = exits(drain(r))
    assert ex.status == "failed" and ex.exit_code == 3
    assert "exited with code 3" in ex.reason
    assert "oops" in ex.output_tail and "out-line" in ex.output_tail


def test_a_program_killed_by_a_signal_not_from_hpo_is_recorded_as_killed_by_it(kit, runner_of, tmp_path):
    """The OOM killer's SIGKILL, a segfault: the command's shell reports the program's death by
    signal N as status 128+N, and the attempt is recorded as killed by that signal."""
    r = runner_of()
    r.start(make_launch(tmp_path, "echo '@hpo loss=1'; sh -c 'kill -KILL $$'"))
    (ex,) = exits(drain(r))
    assert (ex.status, ex.signal, ex.reason) == ("failed", signal.SIGKILL, "killed by SIGKILL"), ex


def test_a_last_line_without_newline_is_read(kit, runner_of, tmp_path):
    r = runner_of()
    r.start(make_launch(tmp_path, "printf '@hpo loss=3'"))
    msgs = drain(r)
    assert [m.metrics for m in msgs if isinstance(m, Reported)] == [{"loss": 3.0}]


def test_stop_is_recorded_as_stopped_and_nothing_is_left(kit, runner_of, tmp_path):
    r = runner_of()
    r.start(make_launch(tmp_path, "sleep 30 & echo $! > child.pid; echo '@hpo loss=1'; wait"))
    drain(r, until=lambda m: any(isinstance(x, Reported) for x in m))
    r.stop(1, 1, "median rule")
    (ex,) = exits(drain(r))
    assert ex.status == "stopped" and ex.reason == "median rule"
    assert ex.signal == signal.SIGTERM
    time.sleep(0.2)
    assert kit.process_gone(tmp_path / "child.pid")


def test_a_trial_ignoring_sigterm_is_killed_after_the_grace_period(kit, runner_of, tmp_path):
    r = runner_of(grace_period=0.5)
    r.start(make_launch(tmp_path, "trap '' TERM; echo $$ > child.pid; echo '@hpo loss=1'; sleep 30"))
    drain(r, until=lambda m: any(isinstance(x, Reported) for x in m))
    r.stop(1, 1, "user")
    start = time.monotonic()
    (ex,) = exits(drain(r))
    assert ex.status == "stopped" and time.monotonic() - start < 10
    assert ex.signal == signal.SIGKILL
    assert kit.process_gone(tmp_path / "child.pid")


# a trial program (here a shell of its own, not the command's shell) that saves its work when
# SIGTERM comes: it takes a second over it, then exits with CODE
SAVES_ON_SIGTERM = (
    "sh -c 'trap \"sleep 1; echo saved > saved; exit CODE\" TERM; echo \"@hpo loss=1\"; "
    "while :; do sleep 0.05; done'"
)


@pytest.mark.parametrize("code, recorded", [(3, 3), (0, 143)])
def test_a_trial_handling_sigterm_has_its_grace_period(kit, runner_of, tmp_path, code, recorded):
    """The stop's SIGTERM reaches the trial's program, which finishes saving before SIGKILL (5 s
    later): the shell that runs the command does not end the attempt before it. The attempt is
    stopped with the program's exit status, 143 where it exited 0 (a stopped trial never passes
    for one that finished: its shell cannot tell an exit 0 from a builtin the signal cut)."""
    r = runner_of(grace_period=5)
    r.start(make_launch(tmp_path, SAVES_ON_SIGTERM.replace("CODE", str(code))))
    drain(r, until=lambda m: any(isinstance(x, Reported) for x in m))
    r.stop(1, 1, "median rule")
    start = time.monotonic()
    (ex,) = exits(drain(r))
    assert (tmp_path / "saved").read_text() == "saved\n"
    assert ex.status == "stopped" and ex.exit_code == recorded and ex.reason == "median rule", ex
    assert 0.9 < time.monotonic() - start < 5


def test_a_stopped_command_runs_nothing_after_the_program_the_stop_ended(kit, runner_of, tmp_path):
    r = runner_of(grace_period=5)
    r.start(make_launch(tmp_path, SAVES_ON_SIGTERM.replace("CODE", "143") + "; echo ran-on > after"))
    drain(r, until=lambda m: any(isinstance(x, Reported) for x in m))
    r.stop(1, 1, "user")
    (ex,) = exits(drain(r))
    assert ex.status == "stopped" and ex.exit_code == 143
    assert (tmp_path / "saved").exists() and not (tmp_path / "after").exists()


def test_timeout_fails_the_trial(kit, runner_of, tmp_path):
    r = runner_of(grace_period=0.5)
    r.start(make_launch(tmp_path, "sleep 30 & echo $! > child.pid; wait", timeout=0.5))
    (ex,) = exits(drain(r))
    assert ex.status == "failed" and "timed out after 0.5s" in ex.reason
    time.sleep(0.2)
    assert kit.process_gone(tmp_path / "child.pid")


def test_param_values_are_data_not_code(kit, runner_of, tmp_path):
    evil = "$(touch pwned); rm -rf ~; `touch pwned2` \"'"
    cmd = render("echo {{ x }} > out.txt; echo \"{{ x }}\" >> out.txt", {"x": evil})
    r = runner_of()
    r.start(make_launch(tmp_path, cmd))
    (ex,) = exits(drain(r))
    assert ex.status == "succeeded", ex
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()
    assert (tmp_path / "out.txt").read_text().splitlines() == [evil, evil]


def test_gpu_slots_are_exclusive_and_a_trial_waits_for_free_ones(kit, runner_of, tmp_path):
    r = runner_of(gpus=["0", "1", "2"])
    cmd = 'echo "$CUDA_VISIBLE_DEVICES" > gpus-$HPO_TRIAL_ID; sleep {}'
    first = make_launch(tmp_path, cmd.format(0.8), trial_id=1, gpus=2, env={"HPO_TRIAL_ID": "1"})
    second = make_launch(tmp_path, cmd.format(0), trial_id=2, gpus=2, env={"HPO_TRIAL_ID": "2"})
    assert r.can_start(first)
    r.start(first)
    assert not r.can_start(second)  # one GPU is free, it needs two: it waits
    too_big = make_launch(tmp_path, "true", trial_id=3, gpus=4)
    assert r.can_start(too_big)  # could never fit: start() fails it instead of waiting forever
    with pytest.raises(Exception, match="4 GPU"):
        r.start(too_big)
    drain(r)
    assert r.can_start(second)
    r.start(second)
    drain(r)
    assert (tmp_path / "gpus-1").read_text().strip() == "0,1"
    assert (tmp_path / "gpus-2").read_text().strip() == "0,1"


def test_trials_without_gpus_see_none_when_gpus_are_managed(kit, runner_of, tmp_path):
    r = runner_of(gpus=["0"])
    r.start(make_launch(tmp_path, 'echo "[$CUDA_VISIBLE_DEVICES]" > seen', gpus=0))
    drain(r)
    assert (tmp_path / "seen").read_text().strip() == "[]"


def test_reattach_continues_from_the_recorded_offset(kit, runner_of, tmp_path):
    if not kit.reattaches:
        pytest.skip(f"the {kit.name} runner does not reattach")
    first = runner_of()
    la = make_launch(tmp_path, "echo '@hpo step=1 loss=1'; sleep 1.5; echo '@hpo step=2 loss=0.5'")
    handle = json.loads(json.dumps(first.start(la)))  # the handle goes through the event log
    msgs = drain(first, until=lambda m: any(isinstance(x, Reported) for x in m))
    first.close(stop_running=False)  # the engine died; the trial lives on
    second = runner_of()
    assert second.reattach(la, handle, msgs[0].offset)
    got = drain(second)
    assert [m.step for m in got if isinstance(m, Reported)] == [2]
    (ex,) = exits(got)
    assert ex.status == "succeeded"


def test_reattach_after_the_trial_ended_reads_its_exit(kit, runner_of, tmp_path):
    if not kit.reattaches:
        pytest.skip(f"the {kit.name} runner does not reattach")
    first = runner_of()
    la = make_launch(tmp_path, "echo '@hpo loss=7'; exit 4")
    handle = json.loads(json.dumps(first.start(la)))
    first.close(stop_running=False)
    time.sleep(0.5)
    second = runner_of()
    assert second.reattach(la, handle, 0)
    got = drain(second)
    assert [m.metrics for m in got if isinstance(m, Reported)] == [{"loss": 7.0}]
    assert exits(got)[0].exit_code == 4


def test_python_trial_reports_through_the_api(kit, runner_of, tmp_path):
    if not kit.python:
        pytest.skip(f"the {kit.name} test environment has no Python")
    r = runner_of()
    code = "import hpo; p = hpo.params(); hpo.report(step=2, score=p['x'] * 2)"
    r.start(make_launch(tmp_path, f"{sys.executable} -c \"{code}\"", env={"HPO_PARAMS": '{"x": 1.5}'}))
    msgs = drain(r)
    assert [m.metrics for m in msgs if isinstance(m, Reported)] == [{"score": 3.0}]
