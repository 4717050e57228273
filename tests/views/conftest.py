"""Small real groups, run once per test session: a real engine, real trial processes, a real
SQLite file. The views are then driven against their logs."""

import sys
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

from hpo.engine.loop import Engine
from hpo.engine.composition import create_group
from hpo.spec import parse_spec
from hpo.eventlog.store import EventStore

SCRIPT = textwrap.dedent(
    """
    import sys
    import hpo
    p = hpo.params()
    lr = float(p.get("lr", 0.1))
    steps = int(p.get("num_steps", p.get("steps", 3)))
    for step in range(1, steps + 1):
        hpo.report(step=step, loss=round(abs(lr - 0.3) + 1.0 / step, 6), acc=round(1 - lr / 2, 6))
    print("trial done")
    if p.get("fail") == 1 or lr == 0.9:
        print("boom: bad learning rate", file=sys.stderr)
        sys.exit(3)
    """
)

GRID = """
name: {name}
settings:
  concurrency: 2
  metric: {{name: loss, optimization: minimize}}
  grid_search: {{}}
  matrix:
    lr: {{values: [0.1, 0.3, 0.5, 0.9]}}
    opt: {{values: [sgd]}}
run:
  cmd: {python} train.py
"""

HYPERBAND = """
name: hb
settings:
  concurrency: 3
  hyperband:
    max_iter: 3
    eta: 3
    resource: {{name: num_steps, type: int}}
    metric: {{name: loss, optimization: minimize}}
  matrix:
    lr: {{uniform: [0.0, 0.8]}}
run:
  cmd: {python} train.py
"""


def make_group(store: EventStore, workdir: Path, yaml_text: str, seed: int = 0) -> str:
    spec = parse_spec(yaml_text, source=str(workdir / "spec.yaml"))
    return create_group(store, spec, seed=seed, source=yaml_text, source_path=str(workdir / "spec.yaml"))


def run_group(store: EventStore, workdir: Path, yaml_text: str, listeners=None) -> str:
    gid = make_group(store, workdir, yaml_text)
    Engine(store, gid, poll_interval=0.01, listeners=listeners).run()
    return gid


@pytest.fixture(scope="session")
def logged(tmp_path_factory):
    """One database holding a finished grid group (one failing trial) and a hyperband group."""
    workdir = tmp_path_factory.mktemp("views")
    (workdir / "train.py").write_text(SCRIPT)
    db = workdir / ".hpo" / "hpo.db"
    with EventStore(db) as store:
        grid = run_group(store, workdir, GRID.format(name="grid", python=sys.executable))
        hb = run_group(store, workdir, HYPERBAND.format(python=sys.executable))
    return {"db": db, "workdir": workdir, "grid": grid, "hb": hb}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text(SCRIPT)
    return tmp_path


def recorder(width: int = 100, terminal: bool = False) -> Console:
    return Console(record=True, width=width, force_terminal=terminal, color_system=None,
                   highlight=False, legacy_windows=False)
