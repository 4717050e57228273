"""The benchmark problems: a matrix in spec form, a loss to minimise, and the known optimum.

Each problem also says how Optuna would sample the same space (``optuna_params``), so both
libraries search exactly the same box. Losses are always minimised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class Problem:
    name: str
    matrix: dict[str, Any]  # the spec's matrix block
    loss: Callable[[dict[str, Any]], float]
    optimum: float | None  # None: regret is measured against the best value any run found
    optuna_params: Callable[[Any], dict[str, Any]]
    grid_matrix: dict[str, Any] | None = None  # a discrete matrix for grid search, if sensible
    note: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)


# -- Branin (2-D), the classic: three global minima of 0.397887 ---------------------------------


def branin(p: dict[str, Any]) -> float:
    x1, x2 = p["x1"], p["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


BRANIN = Problem(
    name="branin",
    matrix={"x1": {"uniform": [-5, 10]}, "x2": {"uniform": [0, 15]}},
    loss=branin,
    optimum=0.397887,
    optuna_params=lambda t: {"x1": t.suggest_float("x1", -5, 10), "x2": t.suggest_float("x2", 0, 15)},
    grid_matrix={"x1": {"linspace": [-5, 10, 7]}, "x2": {"linspace": [0, 15, 7]}},
)

# -- Hartmann6 (6-D on the unit cube), minimum -3.32237 -------------------------------------------

_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H_A = np.array([
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
])
_H_P = 1e-4 * np.array([
    [1312, 1696, 5569, 124, 8283, 5886],
    [2329, 4135, 8307, 3736, 1004, 9991],
    [2348, 1451, 3522, 2883, 3047, 6650],
    [4047, 8828, 8732, 5743, 1091, 381],
])
_H_NAMES = [f"x{i}" for i in range(1, 7)]


def hartmann6(p: dict[str, Any]) -> float:
    x = np.array([p[n] for n in _H_NAMES])
    return float(-np.sum(_H_ALPHA * np.exp(-np.sum(_H_A * (x - _H_P) ** 2, axis=1))))


HARTMANN6 = Problem(
    name="hartmann6",
    matrix={n: {"uniform": [0, 1]} for n in _H_NAMES},
    loss=hartmann6,
    optimum=-3.32237,
    optuna_params=lambda t: {n: t.suggest_float(n, 0, 1) for n in _H_NAMES},
)

# -- a mixed space: continuous, log-scaled, integer and categorical, with interactions ------------

_SHIFT = {"adam": -1.0, "sgd": 0.5, "rmsprop": 1.5}
_BIAS = {"adam": 0.3, "sgd": 0.0, "rmsprop": 0.15}


def mixed(p: dict[str, Any]) -> float:
    c = p["optimizer"]
    return (
        (p["x"] - _SHIFT[c]) ** 2
        + (math.log10(p["lr"]) + 3) ** 2 / 4
        + ((p["layers"] - 7) / 5) ** 2
        + _BIAS[c]
    )


MIXED = Problem(
    name="mixed",
    matrix={
        "x": {"uniform": [-2, 2]},
        "lr": {"loguniform": [math.log(1e-5), math.log(1e-1)]},
        "layers": {"range": [1, 21]},
        "optimizer": {"values": ["adam", "sgd", "rmsprop"]},
    },
    loss=mixed,
    optimum=0.0,
    optuna_params=lambda t: {
        "x": t.suggest_float("x", -2, 2),
        "lr": t.suggest_float("lr", 1e-5, 1e-1, log=True),
        "layers": t.suggest_int("layers", 1, 20),
        "optimizer": t.suggest_categorical("optimizer", ["adam", "sgd", "rmsprop"]),
    },
    note="min 0 at optimizer=sgd, x=0.5, lr=1e-3, layers=7",
)

# -- a real model: kernel ridge regression on scikit-learn's digits, 3-fold cross-validated -------


@lru_cache(maxsize=1)
def _digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    idx = np.random.default_rng(0).permutation(len(y))[:600]  # a subset keeps it cheap
    return X[idx] / 16.0, np.eye(10)[y[idx]]


def krr_digits(p: dict[str, Any]) -> float:
    """Mean squared error of one-hot class scores: a continuous CV loss (error rates tie)."""
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.model_selection import KFold, cross_val_score
    from threadpoolctl import threadpool_limits

    X, Y = _digits()
    model = KernelRidge(alpha=p["alpha"], gamma=p["gamma"], kernel=p["kernel"])
    with threadpool_limits(limits=1):
        scores = cross_val_score(model, X, Y, cv=KFold(3), scoring="neg_mean_squared_error")
    return float(-scores.mean())


KRR_DIGITS = Problem(
    name="krr-digits",
    matrix={
        "alpha": {"loguniform": [math.log(1e-6), math.log(1e1)]},
        "gamma": {"loguniform": [math.log(1e-4), math.log(1e1)]},
        "kernel": {"values": ["rbf", "laplacian"]},
    },
    loss=krr_digits,
    optimum=None,
    optuna_params=lambda t: {
        "alpha": t.suggest_float("alpha", 1e-6, 1e1, log=True),
        "gamma": t.suggest_float("gamma", 1e-4, 1e1, log=True),
        "kernel": t.suggest_categorical("kernel", ["rbf", "laplacian"]),
    },
    grid_matrix={
        "alpha": {"logspace": [-6, 1, 5]},
        "gamma": {"logspace": [-4, 1, 5]},
        "kernel": {"values": ["rbf", "laplacian"]},
    },
    note="3-fold CV mean squared error of KernelRidge on 600 digits (one-hot targets); "
    "regret vs the best value any run found",
)

PROBLEMS = {p.name: p for p in (BRANIN, HARTMANN6, MIXED, KRR_DIGITS)}
