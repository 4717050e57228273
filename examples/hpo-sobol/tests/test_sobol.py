"""hpo-sobol keeps the searcher contract (hpo.testing) and walks the Sobol sequence."""

import pytest

from hpo.errors import SpecError
from hpo.search import SearchHistory
from hpo.spec import parse_spec
from hpo.testing import SearcherConformance, history, record
from hpo_sobol import SobolSearcher

MATRIX = {
    "lr": {"loguniform": [-9, -2]},
    "momentum": {"uniform": [0.8, 0.99]},
    "dropout": {"quniform": [0, 0.5, 0.05]},
    "batch": {"values": [32, 64, 128]},
    "act": {"pvalues": [["relu", 0.7], ["tanh", 0.3]]},
}


class TestSobol(SearcherConformance):
    searcher = SobolSearcher
    spec = {"search": {"algorithm": "sobol", "n_experiments": 8}, "matrix": MATRIX}
    budget = 8


def make(matrix, seed=0, **options):
    data = {"search": {"algorithm": "sobol", "n_experiments": 8, **options}, "matrix": matrix,
            "run": {"cmd": "true"}}
    return SobolSearcher(parse_spec(data, algorithms=["sobol"]), seed)


def test_unscrambled_points_are_the_sobol_sequence():
    searcher = make({"x": {"uniform": [0, 1]}}, scramble=False)
    xs, trials = [], []
    for i in range(8):
        x = searcher.suggest(history(*trials)).params["x"]
        xs.append(x)
        trials.append(record(i + 1, {"x": x}, value=x))
    assert xs == [0.0, 0.5, 0.75, 0.25, 0.375, 0.875, 0.625, 0.125]


def test_points_cover_the_space_evenly():
    searcher = make({"x": {"uniform": [0, 1]}}, n_experiments=16)
    xs = sorted(searcher.point(i)[0] for i in range(16))
    assert all(i / 16 <= x < (i + 1) / 16 for i, x in enumerate(xs))  # one point per 1/16th


def test_the_seed_scrambles():
    a, b = make(MATRIX, seed=0), make(MATRIX, seed=1)
    assert a.suggest(SearchHistory()).params != b.suggest(SearchHistory()).params


def test_unbounded_params_are_rejected():
    with pytest.raises(SpecError, match="sobol needs bounded parameters"):
        make({"x": {"normal": [0, 1]}})
