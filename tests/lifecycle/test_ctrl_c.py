"""Ctrl-C does what docs/lifecycle.md says: a terminal's SIGINT to `hpo run`'s process group
pauses the group, the running trials get SIGTERM (never the Ctrl-C), are recorded stopped and run
again as new attempts on resume; a second Ctrl-C leaves at once and resume reattaches."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore

SPEC = """
name: cc
settings:
  concurrency: 2
  metric: {{name: loss, optimization: minimize}}
  matrix:
    x: {{values: [1, 2, 3]}}
run:
  cmd: "{traps} echo '@hpo step=1 loss={{{{ x }}}}'; sleep {sleep}; echo '@hpo step=2 loss={{{{ x }}}}'"
"""
REPORTS = "trap 'echo got INT >&2' INT;"


def start(tmp_path: Path, traps: str, sleep: float) -> subprocess.Popen:
    (tmp_path / "s.yaml").write_text(SPEC.format(traps=traps, sleep=sleep))
    env = {**os.environ, "HPO_DB": str(tmp_path / "hpo.db")}
    # its own process group, like a shell's foreground job: os.killpg is the terminal's Ctrl-C.
    # A foreground job also has Ctrl-C at its default, even when these tests run in a background
    # job (`cmd &` in a script ignores SIGINT, the ignoring is inherited, and an engine leaves
    # an ignored Ctrl-C ignored, as it should)
    return subprocess.Popen([sys.executable, "-c", "from hpo.cli import main; main()", "run",
                             str(tmp_path / "s.yaml"), "--plain"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for_reports(tmp_path: Path, n: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (tmp_path / "hpo.db").exists():
            with EventStore(tmp_path / "hpo.db") as store:
                groups = store.groups()
                if groups and sum(s.type == "MetricReported" for s in store.read(groups[0].group_id)) >= n:
                    return
        time.sleep(0.05)
    raise AssertionError("the trials never reported")


def state(tmp_path: Path) -> GroupState:
    with EventStore(tmp_path / "hpo.db") as store:
        return GroupState.fold(store.read(store.resolve("cc")))


def resume(tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HPO_DB": str(tmp_path / "hpo.db")}
    return subprocess.run([sys.executable, "-c", "from hpo.cli import main; main()", "resume", "cc",
                           "--plain"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_ctrl_c_pauses_the_group_and_stops_its_trials_with_sigterm(tmp_path):
    proc = start(tmp_path, REPORTS, 2)
    wait_for_reports(tmp_path, 2)
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 3, out
    assert "search stopped by user: interrupted by the user (Ctrl-C)" in out
    st = state(tmp_path)
    assert st.status == "stopped"
    running = [t for t in st.trials.values() if t.attempts]
    assert len(running) == 2
    for t in running:
        assert t.status == "stopped" and t.resumable and t.signal == signal.SIGTERM
        stderr = (Path(t.trial_dir) / "stderr.log").read_text()
        assert "got INT" not in stderr  # the trial never saw the Ctrl-C
    done = resume(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    st = state(tmp_path)
    assert st.status == "succeeded"
    assert sorted(t.attempts for t in st.trials.values()) == [1, 2, 2]  # run again from the start


@pytest.mark.slow  # about 10-20 s: in CI's slow step
def test_a_second_ctrl_c_leaves_at_once_and_resume_reattaches(tmp_path):
    proc = start(tmp_path, "trap '' TERM;", 4)  # trials that ignore SIGTERM keep the pause waiting
    wait_for_reports(tmp_path, 2)
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1, out
    st = state(tmp_path)
    assert st.status == "running" and all(t.status != "stopped" for t in st.trials.values())
    done = resume(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("still running: reattached") == 2
    st = state(tmp_path)
    assert st.status == "succeeded" and all(t.attempts == 1 for t in st.trials.values())
