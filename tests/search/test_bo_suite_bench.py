"""The broad bo benchmark keeps its own rules: every problem is a valid bo matrix that Optuna
samples in the same box, a noisy problem is scored by its true loss, the peers' cache covers
every problem and seed with the same trials, and contenders are ranked by median regret."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))

import bo_suite  # noqa: E402
from spaces import optuna_params  # noqa: E402
from suite_problems import SUITE  # noqa: E402

from hpo.plugins.search.bo import BOSearcher  # noqa: E402
from hpo.spec import parse_spec  # noqa: E402

SYNTHETIC = [n for n, p in SUITE.items() if "scikit-learn" not in p.tags]


def _within(matrix, params):
    for name, spec in matrix.items():
        (kind, arg), = spec.items()
        v = params[name]
        if kind == "uniform":
            assert arg[0] <= v <= arg[1]
        elif kind == "loguniform":
            assert math.exp(arg[0]) * (1 - 1e-12) <= v <= math.exp(arg[1]) * (1 + 1e-12)
        elif kind == "range":
            assert isinstance(v, int) and arg[0] <= v < arg[1]
        else:
            assert v in arg


def test_at_least_ten_problems_of_the_shapes_asked_for():
    tags = {t for p in SUITE.values() for t in p.tags}
    assert len(SUITE) >= 10
    assert {"badly scaled", "noisy", "integer-heavy", "mixed", "multimodal"} <= tags
    assert max(len(p.matrix) for p in SUITE.values()) >= 10


@pytest.mark.parametrize("name", list(SUITE))
def test_each_problem_is_a_bo_matrix_that_optuna_samples_in_the_same_box(name):
    problem = SUITE[name]
    spec = parse_spec({"run": {"cmd": "true"}, "settings": {
        "bo": {"metric": {"name": "loss"}}, "matrix": problem.matrix}})
    BOSearcher(spec, seed=0)  # raises on a matrix bo cannot search
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(20):
        trial = study.ask()
        params = optuna_params(trial, problem.matrix)
        _within(problem.matrix, params)
        if name in SYNTHETIC:
            value = problem.loss(params)
            assert math.isfinite(value)
            if problem.optimum is not None:
                assert (problem.true_loss or problem.loss)(params) >= problem.optimum - 1e-4
        study.tell(trial, 0.0)


def test_the_noisy_problem_is_scored_by_the_true_loss_of_the_best_looking_trial():
    problem = SUITE["noisy-hartmann6"]
    params = [{f"x{i}": v for i in range(1, 7)} for v in (0.1, 0.3, 0.5)]
    values = [problem.loss(p) for p in params]
    assert values != [problem.true_loss(p) for p in params]
    assert values == [problem.loss(p) for p in params]  # the same noise for the same config
    best = params[int(np.argmin(values))]
    assert bo_suite._final(problem, values, params) == problem.true_loss(best)


def test_the_cached_peer_runs_cover_every_problem_and_twenty_seeds():
    for peer in bo_suite.PEERS:
        for name in SUITE:
            runs = json.loads(bo_suite.cache_file(peer, name, bo_suite.TRIALS).read_text())
            assert set(runs) >= {str(s) for s in range(20)}, (peer, name)
            assert all(len(r["values"]) == bo_suite.TRIALS for r in runs.values())


def test_ranks_follow_the_median_regret(monkeypatch):
    monkeypatch.setattr(bo_suite, "PEER_CACHE", Path("/nonexistent"))
    monkeypatch.setattr(bo_suite, "OUR_CACHE", Path("/nonexistent"))
    run = lambda final: {"final": final, "suggest_ms": 1.0}  # noqa: E731
    results = {
        "a": {"branin": [run(0.5), run(0.6), run(0.4)], "hgb-diabetes": [run(10), run(30), run(20)]},
        "b": {"branin": [run(0.45), run(0.4), run(0.9)], "hgb-diabetes": [run(5), run(50), run(60)]},
    }
    summary = bo_suite.summarise(results, ["branin", "hgb-diabetes"], 50)
    assert summary["problems"]["branin"]["rows"]["b"]["rank"] == 1.0  # median 0.45 < 0.5
    assert summary["problems"]["hgb-diabetes"]["optimum"] == 5  # the best any run found
    assert summary["problems"]["hgb-diabetes"]["rows"]["a"]["median_regret"] == 15
    assert summary["mean_rank"] == {"a": 1.5, "b": 1.5}
