"""The seed document's four group examples load as written (the blog's run-together
``resume: False  concurrency: 2`` lines split in two, and a ``run`` section added)."""

from __future__ import annotations

import math

import pytest

from hpo.spec import MetricSpec, parse_spec

RUN = "\nrun:\n  cmd: python train.py --lr={{ learning_rate }}\n"

GRID = """
settings:

  grid_search:
    n_experiments: 10

  concurrency: 2

  matrix:
    learning_rate:
      linspace: 0.001:0.1:5
    dropout:
      values: [0.25, 0.3]
    activation:
      values: [relu, sigmoid]
"""

RANDOM = """
settings:
  random_search:
    n_experiments: 30
    concurrency: 2

  matrix:
    learning_rate:
      uniform: 0.001:0.01
    dropout:
      values: [0.25, 0.3, 0.5]
    activation:
      pvalues: [(relu, 0.2), (sigmoid, 0.8)]
"""

HYPERBAND = """
settings:
  hyperband:
    max_iter: 81
    eta: 3
    resource:
      name: num_steps
      type: int
    metric:
      name: loss
      optimization: minimize
    resume: False
    concurrency: 2

  matrix:
    learning_rate:
      uniform: 0.001:0.01
    dropout:
      values: [0.25, 0.3, 0.5]
    activation:
      pvalues: [(relu, 0.2), (sigmoid, 0.8)]
"""

BO = """
settings:

  bo:
    n_iterations: 5
    n_initial_trials: 10
    metric:
      name: loss
      optimization: minimize
    utility_function:
      acquisition_function: ucb
      kappa: 2.576
      gaussian_process:
        kernel: matern
        length_scale: 1.0
        nu: 1.9
        n_restarts_optimizer: 0
    concurrency: 2

  matrix:
    learning_rate:
      uniform: [0.001, 0.01]
    dropout:
      values: [0.25, 0.3]
    activation:
      values: [relu, sigmoid]
"""

EARLY_STOPPING = """
early_stopping:
    - metric: accuracy
      value: 0.9
      optimization: maximize
    - metric: loss
      value: 0.05
      optimization: minimize
"""

MATRIX_ONLY = """
matrix:
  lr:
    logspace: 0.01:0.1:5

  loss:
    values: [MeanSquaredError, AbsoluteDifference]
run:
  cmd: train --lr={{ lr }} --loss={{ loss }}
"""


def test_grid_example_has_20_combinations():
    spec = parse_spec(GRID + RUN)
    assert spec.search.algorithm == "grid"
    assert spec.search.path == "settings.grid_search"
    assert spec.search.options == {"n_experiments": 10}
    assert spec.concurrency == 2
    assert list(spec.matrix) == ["learning_rate", "dropout", "activation"]
    assert spec.space_size() == 20
    assert spec.matrix["learning_rate"].values() == pytest.approx(
        [0.001, 0.02575, 0.0505, 0.07525, 0.1]
    )
    assert spec.matrix["activation"].values() == ["relu", "sigmoid"]


def test_random_example_moves_concurrency_out_of_the_block():
    spec = parse_spec(RANDOM + RUN)
    assert spec.search.algorithm == "random"
    assert spec.search.options == {"n_experiments": 30}
    assert spec.concurrency == 2
    assert spec.space_size() is None
    activation = spec.matrix["activation"]
    assert activation.kind == "pvalues"
    assert activation.domain().choices == ("relu", "sigmoid")
    assert activation.domain().weights == pytest.approx((0.2, 0.8))
    lr = spec.matrix["learning_rate"]
    assert (lr.kind, lr.args) == ("uniform", {"low": 0.001, "high": 0.01})


def test_hyperband_example_moves_metric_out_of_the_block():
    spec = parse_spec(HYPERBAND + RUN.replace("learning_rate", "num_steps"))
    assert spec.search.algorithm == "hyperband"
    assert spec.search.path == "settings.hyperband"
    assert spec.metric == MetricSpec(name="loss", optimization="minimize")
    assert spec.concurrency == 2
    assert spec.search.options == {
        "max_iter": 81,
        "eta": 3,
        "resource": {"name": "num_steps", "type": "int"},
        "resume": False,
    }


def test_bo_example():
    spec = parse_spec(BO + RUN)
    assert spec.search.algorithm == "bo"
    assert spec.metric == MetricSpec(name="loss", optimization="minimize")
    assert spec.search.options["utility_function"]["kappa"] == 2.576
    assert "metric" not in spec.search.options and "concurrency" not in spec.search.options
    assert spec.concurrency == 2


def test_early_stopping_example_at_top_level():
    spec = parse_spec(GRID + EARLY_STOPPING + RUN)
    assert [(e.metric, e.value, e.optimization) for e in spec.early_stopping] == [
        ("accuracy", 0.9, "maximize"),
        ("loss", 0.05, "minimize"),
    ]


def test_matrix_only_example_logspace_bounds_are_exponents():
    spec = parse_spec(MATRIX_ONLY)
    values = spec.matrix["lr"].values()
    assert values[0] == pytest.approx(10**0.01) and values[-1] == pytest.approx(10**0.1)
    assert all(math.isclose(a, b) for a, b in zip(values, sorted(values)))
    assert spec.search.algorithm == "grid" and spec.search.path == "settings"
