"""An engine whose database file is deleted, moved or replaced stops with a clear error and a
non-zero exit; it never reports success into a log that is gone. Real `hpo run` processes, real
files: the first trial does to the log what a user's `rm`, `mv` or `cp` would."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

SPEC = """
settings:
  grid_search: {{}}
  concurrency: 2
  metric: {{name: loss, optimization: minimize}}
  matrix:
    x: {{values: [1, 2]}}
run:
  cmd: if [ {{{{ x }}}} = 1 ]; then {action}; else echo $$ > {tmp}/slow.pid; sleep 20; fi; {python} -c "import hpo; hpo.report(loss={{{{ x }}}})"
"""


def _hpo(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HPO_DB": str(cwd / ".hpo" / "hpo.db")}  # never a log found further up
    return subprocess.run([sys.executable, "-m", "hpo", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def _run(tmp_path: Path, action: str) -> subprocess.CompletedProcess:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(action=action, tmp=tmp_path, python=sys.executable))
    started = time.monotonic()
    result = _hpo("run", str(spec), "--plain", "--name", "g", cwd=tmp_path)
    assert time.monotonic() - started < 20, "the engine noticed only when the slow trial ended"
    return result


def _alive(pid_file: Path) -> bool:
    for _ in range(50):  # the slow trial may still be starting
        if pid_file.exists() and pid_file.read_text().strip():
            break
        time.sleep(0.1)
    try:
        os.kill(int(pid_file.read_text()), 0)
    except ProcessLookupError:
        return False
    return True


def test_a_deleted_log_stops_the_group_and_its_trials(tmp_path):
    db = tmp_path / ".hpo" / "hpo.db"
    result = _run(tmp_path, f"sleep 0.5; rm -f {db} {db}-wal {db}-shm")
    assert result.returncode == 4, result.stdout + result.stderr
    assert f"the event log {db} was deleted while the group ran" in result.stderr
    assert "succeeded" not in result.stdout.splitlines()[-1]
    time.sleep(0.5)
    assert not _alive(tmp_path / "slow.pid")  # nothing could record it: it was stopped


@pytest.mark.slow  # about 10-20 s: in CI's slow step
def test_a_moved_log_stops_the_engine_and_resume_continues_from_the_new_place(tmp_path):
    result = _run(tmp_path, f"sleep 0.5; mv {tmp_path}/.hpo {tmp_path}/moved")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "was moved while the group ran" in result.stderr and "hpo resume" in result.stderr
    assert _alive(tmp_path / "slow.pid")  # left running for the resumed engine to reattach
    os.kill(int((tmp_path / "slow.pid").read_text()), 15)
    resumed = _hpo("resume", "g", "--plain", "--db", str(tmp_path / "moved" / "hpo.db"), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "succeeded" in resumed.stdout


def test_a_replaced_log_stops_the_engine(tmp_path):
    db = tmp_path / ".hpo" / "hpo.db"
    result = _run(tmp_path, f"sleep 0.5; cp {db} {db}.copy; mv {db}.copy {db}")
    assert result.returncode == 4, result.stdout + result.stderr
    assert "was replaced by another file" in result.stderr
    os.kill(int((tmp_path / "slow.pid").read_text()), 9)


@pytest.mark.parametrize("db", [":memory:"])
def test_nothing_to_watch_without_a_file(db):
    from hpo.engine.logfile import LogFileWatch

    LogFileWatch(Path(db)).check()  # no file: no error, no descriptor
