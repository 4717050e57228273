import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore


def hpo_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "hpo", *args]


def spawn(tmp_path: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "HPO_DB": str(tmp_path / ".hpo" / "hpo.db")}
    return subprocess.Popen(hpo_cmd(*args), cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def run_hpo(tmp_path: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "HPO_DB": str(tmp_path / ".hpo" / "hpo.db")}
    return subprocess.run(hpo_cmd(*args), cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=timeout)


def kill9(proc: subprocess.Popen) -> None:
    """kill -9 the engine only: its trials live in their own sessions and survive it."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def state_of(tmp_path: Path, group: str) -> GroupState:
    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    try:
        return GroupState.fold(store.read(store.resolve(group)))
    finally:
        store.close()


def resume_to_the_end(tmp_path: Path, group: str, tries: int = 4) -> None:
    """`hpo resume` until the group has ended (succeeded or failed)."""
    for _ in range(tries):
        if state_of(tmp_path, group).status in ("succeeded", "failed"):
            return
        proc = run_hpo(tmp_path, "resume", group, "--plain")
        assert proc.returncode in (0, 1), proc.stderr
    assert state_of(tmp_path, group).status in ("succeeded", "failed"), (
        f"the group did not finish after {tries} resumes")


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def write_spec(tmp_path: Path, body: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


SLOW_GRID = """
        name: slow
        settings:
          concurrency: 2
          metric: {name: score, optimization: maximize}
          matrix:
            x: {range: [1, 7, 1]}
        run:
          cmd: echo "@hpo step=1 score={{ x }}"; sleep SLEEP; echo "@hpo step=2 score={{ x }}"
        """


@pytest.fixture
def slow_grid(tmp_path: Path) -> Path:
    """Six shell trials of ~1 s each, two at a time."""
    return write_spec(tmp_path, SLOW_GRID.replace("SLEEP", "1"))


@pytest.fixture
def slower_grid(tmp_path: Path) -> Path:
    """The same with ~4 s trials: an `hpo stop` (a new Python process, slow to start on a loaded
    machine) still finds them running."""
    return write_spec(tmp_path, SLOW_GRID.replace("SLEEP", "4"))
