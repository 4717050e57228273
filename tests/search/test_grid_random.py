"""Grid and random search against ARCHITECTURE §7: every combination once, ``n_experiments``
(fractions included), unique random suggestions up to the budget or the space's size."""

from __future__ import annotations

import itertools

import pytest
import yaml

from hpo.contracts.searcher import Exhausted, SearchHistory, Suggestion, TrialRecord, params_key
from hpo.plugins.search.grid import GridSearcher
from hpo.plugins.search.random import RandomSearcher
from hpo.spec import parse_spec

MATRIX = {"a": {"values": [1, 2, 3]}, "b": {"linspace": "0:1:2"}, "c": {"values": ["x", "y"]}}


def make(cls, key, matrix=MATRIX, seed=0, **options):
    data = {"run": {"cmd": "true"}, "settings": {key: options, "matrix": matrix}}
    return cls(parse_spec(yaml.safe_dump(data, sort_keys=False)), seed=seed)


def run(searcher):
    """Suggest until the searcher stops; returns (params in order, the final decision)."""
    trials: list[TrialRecord] = []
    while True:
        decision = searcher.suggest(SearchHistory(tuple(trials)))
        if not isinstance(decision, Suggestion):
            return [t.params for t in trials], decision
        trials.append(TrialRecord(len(trials) + 1, decision.params, "succeeded", 0.0, decision.meta))


def test_grid_visits_every_combination_once_last_param_fastest():
    params, end = run(make(GridSearcher, "grid_search"))
    expected = [dict(zip("abc", p)) for p in itertools.product([1, 2, 3], [0.0, 1.0], ["x", "y"])]
    assert params == expected
    assert isinstance(end, Exhausted) and "all 12" in end.reason


@pytest.mark.parametrize("n, kept", [(5, 5), (0.5, 6), (0.01, 1), (100, 12)])
def test_grid_n_experiments_keeps_the_first_n(n, kept):
    full, _ = run(make(GridSearcher, "grid_search"))
    params, _ = run(make(GridSearcher, "grid_search", n_experiments=n))
    assert params == full[:kept]


@pytest.mark.parametrize("n, count", [(5, 5), (0.5, 6), (12, 12), (20, 12)])
def test_random_suggests_n_experiments_unique_configs(n, count):
    params, end = run(make(RandomSearcher, "random_search", n_experiments=n))
    assert len(params) == count == len({params_key(p) for p in params})
    assert isinstance(end, Exhausted)
    if n == 20:
        assert "only 12 distinct configs" in end.reason


def test_random_stops_at_exhaustion_of_a_quantised_space():
    matrix = {"q": {"quniform": [0, 1, 0.25]}, "c": {"values": ["a", "b"]}}
    params, end = run(make(RandomSearcher, "random_search", matrix, n_experiments=50))
    assert len(params) == 10 == len({params_key(p) for p in params})
    assert "only 10 distinct configs" in end.reason


def test_random_fills_a_budget_as_large_as_the_space():
    """When the last unseen configs are unlikely draws, random search still finds them: a
    1,600-point space with n_experiments 1600 gives 1,600 unique suggestions (it stopped at
    1,599, saying the space was 'nearly exhausted')."""
    matrix = {"a": {"range": [0, 40, 1]}, "b": {"range": [0, 40, 1]}}
    params, end = run(make(RandomSearcher, "random_search", matrix, n_experiments=1600))
    assert len({params_key(p) for p in params}) == len(params) == 1600
    assert end == Exhausted("ran 1600 random configs")


def test_random_reaches_rare_configs_of_quantised_and_pvalues_kinds():
    matrix = {"k": {"qloguniform": [0, 5, 1]}, "p": {"pvalues": [["a", 0.99], ["b", 0.01]]}}
    searcher = make(RandomSearcher, "random_search", matrix, n_experiments=10_000)
    params, end = run(searcher)
    assert len({params_key(p) for p in params}) == len(params) == 296  # k in 1..148, 2 choices
    assert "only 296 distinct configs" in end.reason
    assert not [p for p in params if any(searcher.space[n].check_value(v) for n, v in p.items())]


def test_random_same_seed_same_suggestions_different_seed_differs():
    matrix = {"x": {"uniform": [0, 1]}, "c": {"values": ["a", "b", "c"]}}
    one = run(make(RandomSearcher, "random_search", matrix, seed=3, n_experiments=8))[0]
    assert one == run(make(RandomSearcher, "random_search", matrix, seed=3, n_experiments=8))[0]
    assert one != run(make(RandomSearcher, "random_search", matrix, seed=4, n_experiments=8))[0]
