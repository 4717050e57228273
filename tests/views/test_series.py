"""The data behind the plots."""

import pytest

from hpo.eventlog.state import GroupState
from hpo.views import series
from hpo.views.source import ReadOnlyStore


@pytest.fixture(scope="module")
def grid(logged) -> GroupState:
    with ReadOnlyStore(logged["db"]) as store:
        return GroupState.fold(store.read(logged["grid"]))


def test_history_keeps_the_best_so_far_in_the_metric_direction(grid):
    points = series.history(grid)
    assert [p.trial for p in points] == [1, 2, 3]  # the failed trial 4 is not a result
    assert [round(p.best, 4) for p in points] == [0.5333, 0.3333, 0.3333]
    grid.spec = {**grid.spec, "metric": {"name": "acc", "optimization": "maximize"}}
    try:
        assert [p.best for p in series.history(grid)] == [0.95, 0.95, 0.95]
    finally:
        grid.spec = {**grid.spec, "metric": {"name": "loss", "optimization": "minimize"}}


def test_axes_scale_onto_the_unit_interval():
    log = series.make_axis("alpha", [1e-5, 1e-3, 1e-1], "logspace")
    assert log.kind == "log" and log.scale(1e-3) == pytest.approx(0.5) and log.label(1) == "0.1"
    lin = series.make_axis("x", [2, 4, 10])
    assert lin.kind == "linear" and lin.scale(6) == pytest.approx(0.5) and lin.scale("a") is None
    cat = series.make_axis("act", ["relu", "tanh", "relu", "gelu"])
    assert cat.categories == ["relu", "tanh", "gelu"] and cat.scale("gelu") == 1.0
    declared = series.make_axis("batch", [256, 32], "values", [32, 64, 256])
    assert declared.kind == "category" and declared.scale(64) == 0.5
    assert series.make_axis("one", [3, 3]).scale(3) == 0.5


def test_parallel_lines_have_one_point_per_axis(grid):
    data = series.parallel(grid)
    assert [a.name for a in data.axes] == ["lr", "opt", "loss"]
    assert len(data.lines) == 3 and all(len(line.points) == 3 for line in data.lines)
    best = min(data.lines, key=lambda line: line.value)
    assert best.trial == 2 and best.points[-1] == 0.0  # the lowest loss sits at the bottom


def test_curves_top_keeps_the_best_by_last_value(grid):
    everything = series.curves(grid)
    assert sorted(everything) == [1, 2, 3, 4] and [s for s, _ in everything[1]] == [1, 2, 3]
    assert sorted(series.curves(grid, top=2)) == [1, 2] or sorted(series.curves(grid, top=2)) == [2, 3]
    assert series.curves(grid, "acc", top=1).keys() == {4}  # another metric: lowest first
    assert series.curves(grid, "nope") == {}


def test_brackets_place_every_hyperband_trial(logged):
    with ReadOnlyStore(logged["db"]) as store:
        hb = GroupState.fold(store.read(logged["hb"]))
    points = series.brackets(hb)
    assert len(points) == 6
    promoted = [p for p in points if p.parent is not None]
    assert len(promoted) == 1 and promoted[0].rung == 1 and promoted[0].resource == 3.0
    assert series.brackets(GroupState()) == []
