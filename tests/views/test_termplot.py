"""hpo plot: the four terminal plots, their data as JSON, and a clear message without plotext."""

import json
import re
import sys

import pytest
from click.testing import CliRunner

from hpo.cli import cli


def plot(logged, *args, ok=True):
    result = CliRunner().invoke(cli, ["plot", *args], env={"HPO_DB": str(logged["db"]), "COLUMNS": "90"},
                                catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result.output


def test_history(logged):
    out = plot(logged, "grid", "--kind", "history", "--height", "12")
    assert "optimization history of grid: 3 trials" in out
    assert "loss of each trial" in out and "best so far" in out
    assert "\x1b[" not in out  # not a terminal: no colour codes
    assert max(len(line) for line in out.splitlines()) <= 90


def test_parallel_names_every_axis_and_its_range(logged):
    out = plot(logged, "grid", "--kind", "parallel")
    assert "parallel coordinates of grid: 3 trials" in out
    # a `values` list is a category axis in its declared order (failed lr=0.9 included)
    assert "lr: 0.1 | 0.3 | 0.5 | 0.9" in out and "opt: sgd" in out and "loss: 0.3333 → 0.5333" in out
    hb = plot(logged, "hb", "--kind", "parallel")  # a uniform draw: a linear axis
    assert re.search(r"lr: 0\.\d+ → 0\.\d+\n", hb) and "num_steps: 1 → 3" in hb


def test_curves_top(logged):
    out = plot(logged, "grid", "--kind", "curves", "--top", "2")
    assert "loss by step: the best 2 of 4 trials" in out
    assert "trial 2" in out and "trial 4" not in out


def test_brackets(logged):
    out = plot(logged, "hb", "--kind", "brackets")
    assert "hyperband brackets of hb" in out and "bracket 1" in out and "bracket 0" in out
    err = plot(logged, "grid", "--kind", "brackets", ok=False)
    assert "only hyperband groups have brackets" in err


def test_json_data(logged):
    history = json.loads(plot(logged, "grid", "--json"))
    assert [p["trial"] for p in history] == [1, 2, 3]
    points = json.loads(plot(logged, "hb", "--kind", "brackets", "--json"))
    assert len(points) == 6 and {p["bracket"] for p in points} == {0, 1}


def test_without_plotext_the_message_says_what_to_install(logged, monkeypatch):
    monkeypatch.setitem(sys.modules, "plotext", None)
    result = CliRunner().invoke(cli, ["plot", "grid"], env={"HPO_DB": str(logged["db"])})
    assert result.exit_code == 1
    assert "pip install 'plotext>=5.2,<6'" in result.output and "hpo report" in result.output


@pytest.mark.parametrize("kind", ["history", "parallel", "curves"])
def test_a_group_without_results_says_so(workdir, kind):
    from hpo.eventlog.store import EventStore

    from .conftest import GRID, make_group

    db = workdir / "x.db"
    with EventStore(db) as store:
        make_group(store, workdir, GRID.format(name="empty", python=sys.executable))
    result = CliRunner().invoke(cli, ["plot", "empty", "--kind", kind], env={"HPO_DB": str(db)})
    assert result.exit_code == 1 and "yet" in result.output


def test_a_group_without_a_metric_points_at_curves_of_a_reported_one(workdir):
    from hpo.eventlog.store import EventStore

    from .conftest import run_group

    spec = f"name: nometric\nsettings:\n  matrix:\n    lr: {{values: [0.1]}}\nrun:\n  cmd: {sys.executable} train.py\n"
    db = workdir / "x.db"
    with EventStore(db) as store:
        run_group(store, workdir, spec)
    result = CliRunner().invoke(cli, ["plot", "nometric"], env={"HPO_DB": str(db)})
    assert result.exit_code == 1 and "has no metric" in result.output and "(loss, acc)" in result.output
    result = CliRunner().invoke(cli, ["plot", "nometric", "--kind", "curves", "--metric", "acc"],
                                env={"HPO_DB": str(db)})
    assert result.exit_code == 0 and "acc by step: 1 trial" in result.output
