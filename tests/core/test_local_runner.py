"""The local runner, for real: subprocesses, process groups, files, signals."""

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from hpo.runkit import procs
from hpo.plugins.runners.local import LocalConfig, LocalRunner
from hpo.contracts.runner import Exited, Launch, Reported
from hpo.runkit.machines import BackendUnreachable


def launch(tmp_path: Path, cmd: str, trial_id=1, attempt=1, timeout=None, env=None) -> Launch:
    d = tmp_path / f"t{trial_id}" / f"attempt-{attempt}"
    d.mkdir(parents=True, exist_ok=True)
    return Launch("g", trial_id, attempt, cmd, env or {}, d, tmp_path, timeout)


def drain(runner, until=lambda msgs: any(isinstance(m, Exited) for m in msgs), limit=20.0):
    msgs, deadline = [], time.monotonic() + limit
    while time.monotonic() < deadline:
        msgs += runner.poll()
        if until(msgs):
            return msgs
        time.sleep(0.02)
    raise AssertionError(f"timed out; got {msgs}")


def test_reports_and_success(tmp_path):
    r = LocalRunner(LocalConfig())
    r.start(launch(tmp_path, "echo '@hpo step=1 loss=0.5'; echo hello; echo '@hpo loss=0.25'"))
    msgs = drain(r)
    reports = [m for m in msgs if isinstance(m, Reported)]
    assert [(m.step, m.metrics) for m in reports] == [(1, {"loss": 0.5}), (None, {"loss": 0.25})]
    (exit_,) = [m for m in msgs if isinstance(m, Exited)]
    assert exit_.status == "succeeded" and exit_.exit_code == 0
    assert "hello" in (tmp_path / "t1" / "attempt-1" / "stdout.log").read_text()
    assert (tmp_path / "t1" / "attempt-1" / "exit_code").read_text().strip() == "0"


def test_python_api_reports(tmp_path):
    r = LocalRunner(LocalConfig())
    code = "import hpo; p = hpo.params(); hpo.report(step=2, score=p['x'] * 2)"
    r.start(launch(tmp_path, f"{sys.executable} -c \"{code}\"", env={"HPO_PARAMS": '{"x": 1.5}'}))
    msgs = drain(r)
    assert [m.metrics for m in msgs if isinstance(m, Reported)] == [{"score": 3.0}]


def test_failure_keeps_exit_code_and_output(tmp_path):
    r = LocalRunner(LocalConfig())
    r.start(launch(tmp_path, "echo oops >&2; exit 3"))
    (exit_,) = [m for m in drain(r) if isinstance(m, Exited)]
    assert exit_.status == "failed" and exit_.exit_code == 3
    assert "exited with code 3" in exit_.reason and "oops" in exit_.output_tail


def test_timeout_kills_the_whole_process_group(tmp_path):
    r = LocalRunner(LocalConfig(grace_period=0.5))
    r.start(launch(tmp_path, "sleep 30 & echo $! > child; wait", timeout=0.5))
    (exit_,) = [m for m in drain(r) if isinstance(m, Exited)]
    assert exit_.status == "failed" and "timed out" in exit_.reason
    child = int((tmp_path / "child").read_text())
    time.sleep(0.1)
    assert not procs.alive(child)


def test_stop_is_recorded_as_stopped(tmp_path):
    r = LocalRunner(LocalConfig())
    r.start(launch(tmp_path, "echo '@hpo loss=1'; sleep 30"))
    drain(r, until=lambda m: any(isinstance(x, Reported) for x in m))
    r.stop(1, 1, "median rule")
    (exit_,) = [m for m in drain(r) if isinstance(m, Exited)]
    assert exit_.status == "stopped" and exit_.reason == "median rule"
    assert exit_.signal == signal.SIGTERM


def test_trap_ignoring_sigterm_is_killed_after_grace(tmp_path):
    r = LocalRunner(LocalConfig(grace_period=0.3))
    r.start(launch(tmp_path, "trap '' TERM; sleep 30"))
    time.sleep(0.2)
    r.stop(1, 1, "user")
    start = time.monotonic()
    (exit_,) = [m for m in drain(r) if isinstance(m, Exited)]
    assert exit_.status == "stopped" and time.monotonic() - start < 5


def test_reattach_to_a_process_started_by_another_runner(tmp_path):
    first = LocalRunner(LocalConfig())
    la = launch(tmp_path, "echo '@hpo step=1 loss=1'; sleep 0.6; echo '@hpo step=2 loss=0.5'")
    handle = first.start(la)
    msgs = drain(first, until=lambda m: any(isinstance(x, Reported) for x in m))
    offset = msgs[0].offset
    first.attempts.clear()  # the engine died: forget the child without waiting for it
    second = LocalRunner(LocalConfig())
    assert second.reattach(la, handle, offset)
    got = drain(second)
    assert [m.step for m in got if isinstance(m, Reported)] == [2]
    (exit_,) = [m for m in got if isinstance(m, Exited)]
    assert exit_.status == "succeeded" and exit_.exit_code == 0


def test_reattach_after_exit_reads_the_exit_file(tmp_path):
    first = LocalRunner(LocalConfig())
    la = launch(tmp_path, "echo '@hpo loss=7'; exit 0")
    handle = first.start(la)
    os.waitpid(handle["pid"], 0)
    second = LocalRunner(LocalConfig())
    assert second.reattach(la, handle, 0)
    got = drain(second)
    assert [m.metrics for m in got if isinstance(m, Reported)] == [{"loss": 7.0}]


def test_reattach_refuses_a_vanished_process(tmp_path):
    la = launch(tmp_path, "true")
    r = LocalRunner(LocalConfig())
    assert not r.reattach(la, {"pid": 2**22 + 12345, "ticks": 1, "boot": procs.boot_id()}, 0)


def test_template_values_are_data_not_code(tmp_path):
    from hpo.spec.template import render

    cmd = render("echo {{ x }} > out.txt", {"x": "$(touch pwned); rm -rf ~"})
    r = LocalRunner(LocalConfig())
    r.start(launch(tmp_path, cmd))
    drain(r)
    assert not (tmp_path / "pwned").exists()
    assert (tmp_path / "out.txt").read_text().strip() == "$(touch pwned); rm -rf ~"


def test_discard_finds_an_unrecorded_attempt_by_its_folder_and_kills_it(tmp_path):
    """An engine crashed between starting an attempt and recording it: no handle to go by."""
    first = LocalRunner(LocalConfig())
    la = launch(tmp_path, "sleep 30 & echo $! > child; wait")
    handle = first.start(la)
    deadline = time.monotonic() + 10
    while not (tmp_path / "child").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    child = int((tmp_path / "child").read_text())
    first.attempts.clear()  # the engine died before recording the launch
    other = launch(tmp_path, "sleep 30", trial_id=2)  # another trial's attempt is left alone
    first.start(other)
    LocalRunner(LocalConfig()).discard(la)
    os.waitpid(handle["pid"], 0)
    time.sleep(0.1)
    assert not procs.alive(child)
    assert not (la.trial_dir / "stdout.log").exists()
    assert procs.alive(first.attempts[other.key].record.pid)
    first.close(stop_running=True)


def test_the_wrapper_opens_its_logs_and_writes_a_whole_exit_status(tmp_path):
    from hpo.runkit.exits import read_exit_file

    r = LocalRunner(LocalConfig())
    la = launch(tmp_path, "echo out; echo err >&2; pwd; exit 7")
    r.start(la)
    (exit_,) = [m for m in drain(r) if isinstance(m, Exited)]
    assert exit_.exit_code == 7
    assert (la.trial_dir / "stdout.log").read_text() == f"out\n{tmp_path}\n"
    assert (la.trial_dir / "stderr.log").read_text() == "err\n"
    assert (la.trial_dir / "exit_code").read_text() == "7\n"
    assert not (la.trial_dir / "pid").exists()
    (la.trial_dir / "exit_code").write_text("1")  # being written: no newline yet
    assert read_exit_file(la.trial_dir / "exit_code") is None


def test_a_missing_workdir_is_a_backend_the_trials_wait_for(tmp_path):
    r = LocalRunner(LocalConfig())
    la = launch(tmp_path, "true")
    bad = Launch(la.group_id, la.trial_id, la.attempt, la.command, {}, la.trial_dir, tmp_path / "nope")
    with pytest.raises(BackendUnreachable, match="working folder .*nope does not exist"):
        r.start(bad)


def test_a_stop_after_the_attempt_ended_on_its_own_keeps_its_success(tmp_path):
    """`hpo stop` or Ctrl-C racing a normal exit: the attempt exited 0 before the stop, so it is
    recorded succeeded with its reports (a pause would otherwise run it again)."""
    r = LocalRunner(LocalConfig())
    la = launch(tmp_path, "echo '@hpo loss=0.5'")
    r.start(la)
    deadline = time.monotonic() + 10
    while not (la.trial_dir / "exit_code").exists() and time.monotonic() < deadline:
        time.sleep(0.01)  # ended, and not yet polled
    time.sleep(0.1)
    r.stop(1, 1, "stopped by the user")
    msgs = drain(r)
    (exit_,) = [m for m in msgs if isinstance(m, Exited)]
    assert exit_.status == "succeeded" and exit_.exit_code == 0, exit_
    assert [m.metrics for m in msgs if isinstance(m, Reported)] == [{"loss": 0.5}]
