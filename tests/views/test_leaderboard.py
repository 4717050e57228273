"""hpo trials' ranking: the group's direction, filters, top, other keys."""

import pytest

from hpo.eventlog.state import GroupState
from hpo.views.leaderboard import SortError, rank, ranking_records
from hpo.views.source import ReadOnlyStore


@pytest.fixture(scope="module")
def grid(logged) -> GroupState:
    with ReadOnlyStore(logged["db"]) as store:
        return GroupState.fold(store.read(logged["grid"]))


def test_default_sort_is_the_group_metric_in_its_direction(grid):
    r = rank(grid)
    assert r.key == "loss" and not r.descending  # minimize: lowest first
    assert [t.trial_id for t in r.trials][0] == 2  # lr=0.3 has the lowest loss
    values = [t.metrics["loss"] for t in r.trials]
    assert values == sorted(values)


def test_another_metric_sorts_ascending_unless_told(grid):
    assert [t.params["lr"] for t in rank(grid, "acc").trials] == [0.9, 0.5, 0.3, 0.1]
    assert [t.params["lr"] for t in rank(grid, "acc", order="desc").trials] == [0.1, 0.3, 0.5, 0.9]


def test_status_filter_top_and_params(grid):
    assert [t.trial_id for t in rank(grid, statuses=("failed",)).trials] == [4]
    assert len(rank(grid, top=2).trials) == 2
    by_lr = rank(grid, "param.lr", order="desc")
    assert by_lr.kind == "param" and [t.params["lr"] for t in by_lr.trials] == [0.9, 0.5, 0.3, 0.1]
    assert [t.trial_id for t in rank(grid, "trial").trials] == [1, 2, 3, 4]


def test_unknown_sort_key_names_the_choices(grid):
    with pytest.raises(SortError, match="no such metric or param.*loss, acc, lr, opt"):
        rank(grid, "accuracy")


def test_records_carry_rank_params_and_metrics(grid):
    recs = ranking_records(rank(grid))
    assert [r["rank"] for r in recs] == [1, 2, 3, None]  # the failed trial is not ranked
    assert recs[0]["params"] == {"lr": 0.3, "opt": "sgd"} and recs[0]["metrics"]["loss"] == pytest.approx(1 / 3, abs=1e-5)
    assert recs[-1]["status"] == "failed"


def test_a_maximized_metric_sorts_highest_first(logged):
    with ReadOnlyStore(logged["db"]) as store:
        state = GroupState.fold(store.read(logged["grid"]))
    state.spec = {**state.spec, "metric": {"name": "acc", "optimization": "maximize"}}
    r = rank(state)
    assert r.descending and [t.params["lr"] for t in r.trials] == [0.1, 0.3, 0.5, 0.9]
