import sys
import textwrap
from pathlib import Path

import pytest

from hpo.eventlog.store import EventStore

SCRIPT = textwrap.dedent(
    """
    import sys, time
    import hpo
    p = hpo.params()
    score = p.get("learning_rate", 0.1) * 10 + p.get("dropout", 0) + (p.get("activation") == "relu")
    for step in range(1, int(p.get("steps", 2)) + 1):
        hpo.report(step=step, score=score * step / 2)
    time.sleep(float(p.get("sleep", 0)))
    if p.get("fail") == 1:
        sys.exit(3)
    """
)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text(SCRIPT)
    return tmp_path


@pytest.fixture
def store(tmp_path: Path):
    s = EventStore(tmp_path / ".hpo" / "hpo.db")
    yield s
    s.close()


def python_cmd(args: str = "") -> str:
    return f"{sys.executable} train.py {args}".strip()


@pytest.fixture(autouse=True)
def python_ctrl_c():
    """Python's own Ctrl-C handler while a test runs: an imported library may have replaced it
    (dask_jobqueue's runner module installs one that exits), and the engine leaves a caller's
    own handler alone."""
    import signal

    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)
