"""Tables that fit: at 60, 80 and 160 columns, and piped, the trial id, the status and the group
metric's value are never cut; params shorten first, then drop with a ``+N params`` marker."""

import os
import re
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner
from rich.console import Console

from hpo.cli import cli
from hpo.engine.plans import plan_of
from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore
from hpo.views.dashboard import dashboard
from hpo.views.overview import overview

from .conftest import run_group

SCRIPT = textwrap.dedent("""
    import sys, hpo
    p = hpo.params()
    for s in (1, 2, 3):
        hpo.report(step=s, val_accuracy=0.9 + p["learning_rate"] * s, val_loss=1 / (s + p["batch_size"]),
                   train_throughput_samples=1234.5)
    if p["optimizer"] == "adamw" and p["batch_size"] == 64:
        sys.exit(2)
""")

SPEC = """
name: a-group-with-a-rather-long-name
settings:
  concurrency: 3
  metric: {{name: val_accuracy, optimization: maximize}}
  grid_search: {{n_experiments: 6}}
  matrix:
    optimizer: {{values: [sgd, adamw]}}
    batch_size: {{values: [32, 64]}}
    learning_rate: {{values: [0.001, 0.0031622776601683794, 0.01]}}
    weight_decay: {{values: [0.0001]}}
    dropout_probability: {{values: [0.5]}}
run:
  cmd: {python} wide.py
"""
PARAMS = ("optimizer", "batch_size", "learning_rate", "weight_decay", "dropout_probability")


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("wide")
    (workdir / "wide.py").write_text(SCRIPT)
    db = workdir / "hpo.db"
    with EventStore(db) as store:
        gid = run_group(store, workdir, SPEC.format(python=sys.executable))
        state = GroupState.fold(store.read(gid))
    return {"db": db, "gid": gid, "state": state}


def _rows(out: str, state: GroupState) -> dict[int, str]:
    """The table row of each trial, by its id (the second cell)."""
    rows = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\d+|-)\s+(\d+)\s", line)
        if m and int(m.group(2)) in state.trials:
            rows[int(m.group(2))] = line
    return rows


def _check_trials(out: str, width: int, state: GroupState) -> None:
    assert max(len(line) for line in out.splitlines()) <= width
    header = out.splitlines()[0]
    assert "val_accuracy ▼" in header and "status" in header and "trial" in header
    rows = _rows(out, state)
    assert sorted(rows) == sorted(state.trials)
    for trial_id, line in rows.items():
        t = state.trials[trial_id]
        value = f"{t.metrics['val_accuracy']:.4g}"
        assert re.search(rf"\s{t.status}\s", line) and re.search(rf"\s{re.escape(value)}(\s|$)", line), line


@pytest.mark.parametrize("width", [60, 80, 160])
def test_trials_fit_the_terminal(wide, width):
    result = CliRunner().invoke(cli, ["trials", wide["gid"], "--db", str(wide["db"])],
                                env={"COLUMNS": str(width)})
    assert result.exit_code == 0
    out = result.stdout
    _check_trials(out, width, wide["state"])
    header = out.splitlines()[0]
    shown = [p for p in PARAMS if p in header]
    if width == 160:  # every param has a column, the longest name perhaps shortened
        assert len(shown) + header.count("…") == len(PARAMS) and "params" not in out
        assert "train_throughput_samples" in header
    else:
        marker = re.search(r"\+(\d+) params", out)
        assert marker, out
        # every param is either shown (perhaps shortened with an ellipsis) or counted
        shortened = header.count("…")
        assert len(shown) + shortened + int(marker.group(1)) == len(PARAMS)
    if width == 80:
        assert "…" in header  # params shortened before any was dropped


def test_trials_fit_a_pipe(wide):
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    for command, check in ((["trials"], _check_trials), (["list"], None)):
        proc = subprocess.run(
            [sys.executable, "-c", "from hpo.cli import main; main()", *command,
             *([wide["gid"]] if command == ["trials"] else []), "--db", str(wide["db"])],
            capture_output=True, text=True, env=env, timeout=60)
        assert proc.returncode == 0, proc.stderr
        if check:
            check(proc.stdout, 80, wide["state"])
        else:
            assert "val_accuracy ↑ 0.93" in proc.stdout and "succeeded" in proc.stdout
            assert max(len(line) for line in proc.stdout.splitlines()) <= 80


@pytest.mark.parametrize("width", [60, 80, 160])
def test_list_keeps_the_status_and_best_value(wide, width):
    result = CliRunner().invoke(cli, ["list", "--db", str(wide["db"])], env={"COLUMNS": str(width)})
    out = result.stdout
    assert max(len(line) for line in out.splitlines()) <= width
    row = next(line for line in out.splitlines() if line.startswith(wide["gid"]))
    assert "succeeded" in row and "val_accuracy ↑ 0.93" in row
    if width == 160:
        assert "a-group-with-a-rather-long-name" in row and "grid" in row


@pytest.mark.parametrize("width", [60, 80, 160])
def test_the_live_view_keeps_trial_ids_and_metric_values(wide, width):
    state = GroupState.fold(EventStore(wide["db"]).read(wide["gid"]))
    state.status = "running"
    for t in state.trials.values():
        t.status = "running"
    console = Console(record=True, width=width, force_terminal=True, color_system=None)
    console.print(dashboard(overview(state, plan_of(state), now=state.last_ts)))
    out = console.export_text()
    assert max(len(line) for line in out.splitlines()) <= width
    assert "val_accuracy ↑ · running" in out.splitlines()[0]
    for t in state.trials.values():
        value = re.escape(f"{t.metrics['val_accuracy']:.4g}")
        assert re.search(rf"│\s+{t.trial_id}\s.*\s{value}\s", out), out
