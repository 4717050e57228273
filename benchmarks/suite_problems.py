"""The broad suite for ``bo``: the four problems of ``problems.py`` and eight more shapes.

| problem | dims | shape |
|---|---|---|
| branin, hartmann6, mixed, krr-digits | 2, 6, 4, 3 | see ``problems.py`` |
| goldstein-price | 2 | values from 3 to about 1e6: a badly scaled objective |
| rosenbrock6 | 6 | a curved valley, values from 0 to about 4e4 |
| ackley10 | 10 | highly multimodal, a narrow global basin |
| hartmann6-in-20d | 20 | Hartmann6 on 6 of 20 inputs; the other 14 do nothing |
| noisy-hartmann6 | 6 | Hartmann6 plus Gaussian noise (std 0.1); scored by the true value |
| hgb-diabetes | 6 | gradient boosting on diabetes: five integers and one log-scaled rate |
| forest-cancer | 6 | extra trees on breast cancer: five integers and a categorical |
| svr-diabetes | 5 | support vector regression: three log-scaled, a kernel choice and an integer |

Every scikit-learn task uses a data set that ships with scikit-learn, 3-fold cross-validation,
one thread, and costs at most about 0.2 s per evaluation. Optuna and scikit-optimize see the same
box through ``spaces.py``.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from problems import BRANIN, HARTMANN6, KRR_DIGITS, MIXED, hartmann6


@dataclass(frozen=True)
class SuiteProblem:
    name: str
    matrix: dict[str, Any]
    loss: Callable[[dict[str, Any]], float]  # what the searcher is told
    optimum: float | None  # None: regret against the best value any run found
    true_loss: Callable[[dict[str, Any]], float] | None = None  # noisy problems: the score
    tags: tuple[str, ...] = ()
    note: str = ""


def _from(problem, tags) -> SuiteProblem:
    return SuiteProblem(problem.name, problem.matrix, problem.loss, problem.optimum, tags=tags,
                        note=problem.note)


def _box(names, low, high):
    return {n: {"uniform": [low, high]} for n in names}


# -- synthetic ------------------------------------------------------------------------------


def goldstein_price(p):
    x, y = p["x1"], p["x2"]
    a = 1 + (x + y + 1) ** 2 * (19 - 14 * x + 3 * x * x - 14 * y + 6 * x * y + 3 * y * y)
    b = 30 + (2 * x - 3 * y) ** 2 * (18 - 32 * x + 12 * x * x + 48 * y - 36 * x * y + 27 * y * y)
    return a * b


_R6 = [f"x{i}" for i in range(1, 7)]


def rosenbrock6(p):
    x = np.array([p[n] for n in _R6])
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


_A10 = [f"x{i}" for i in range(1, 11)]


def ackley10(p):
    x = np.array([p[n] for n in _A10])
    d = len(x)
    return float(-20 * np.exp(-0.2 * np.sqrt(np.sum(x * x) / d))
                 - np.exp(np.sum(np.cos(2 * np.pi * x)) / d) + 20 + math.e)


_E20 = [f"x{i:02d}" for i in range(1, 21)]
_ACTIVE = ["x03", "x07", "x09", "x12", "x15", "x19"]  # Hartmann6's six inputs, in order


def hartmann6_in_20d(p):
    return hartmann6({f"x{i}": p[n] for i, n in enumerate(_ACTIVE, start=1)})


def _noise(p) -> float:
    """A fixed N(0, 0.1^2) draw per configuration: every sampler meets the same noisy function."""
    digest = hashlib.sha256(json.dumps(p, sort_keys=True).encode()).digest()
    return 0.1 * float(np.random.default_rng(int.from_bytes(digest[:8], "big")).standard_normal())


def noisy_hartmann6(p):
    return hartmann6(p) + _noise(p)


# -- scikit-learn tasks ---------------------------------------------------------------------


@lru_cache(maxsize=None)
def _data(name):
    from sklearn import datasets

    return getattr(datasets, f"load_{name}")(return_X_y=True)


def _cv(model, data, scoring, stratified=False):
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
    from threadpoolctl import threadpool_limits

    X, y = _data(data)
    cv = StratifiedKFold(3) if stratified else KFold(3)
    with threadpool_limits(limits=1):
        return float(-cross_val_score(model, X, y, cv=cv, scoring=scoring).mean())


def hgb_diabetes(p):
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(
        max_iter=p["max_iter"], learning_rate=p["learning_rate"], max_leaf_nodes=p["max_leaf_nodes"],
        max_depth=p["max_depth"], min_samples_leaf=p["min_samples_leaf"],
        l2_regularization=p["l2_regularization"], early_stopping=False, random_state=0,
    )
    return _cv(model, "diabetes", "neg_mean_squared_error")


def forest_cancer(p):
    from sklearn.ensemble import ExtraTreesClassifier

    model = ExtraTreesClassifier(
        n_estimators=p["n_estimators"], max_depth=p["max_depth"],
        min_samples_split=p["min_samples_split"], min_samples_leaf=p["min_samples_leaf"],
        max_features=p["max_features"], criterion=p["criterion"], random_state=0, n_jobs=1,
    )
    return _cv(model, "breast_cancer", "neg_log_loss", stratified=True)


def svr_diabetes(p):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    model = make_pipeline(StandardScaler(), SVR(
        C=p["C"], epsilon=p["epsilon"], gamma=p["gamma"], kernel=p["kernel"], degree=p["degree"],
        max_iter=20_000,
    ))
    return _cv(model, "diabetes", "neg_mean_squared_error")


def _log(low, high):
    return {"loguniform": [math.log(low), math.log(high)]}


SUITE: dict[str, SuiteProblem] = {p.name: p for p in (
    _from(BRANIN, ("smooth", "low-dim")),
    _from(HARTMANN6, ("smooth", "multimodal")),
    _from(MIXED, ("mixed",)),
    _from(KRR_DIGITS, ("scikit-learn", "log-scaled")),
    SuiteProblem("goldstein-price", _box(["x1", "x2"], -2, 2), goldstein_price, 3.0,
                 tags=("badly scaled",), note="min 3 at (0, -1); values up to ~1e6"),
    SuiteProblem("rosenbrock6", _box(_R6, -2, 2), rosenbrock6, 0.0,
                 tags=("badly scaled", "valley"), note="min 0 at (1, ..., 1)"),
    SuiteProblem("ackley10", _box(_A10, -10, 20), ackley10, 0.0,
                 tags=("multimodal", "10-d"), note="min 0 at the origin, off the box's centre"),
    SuiteProblem("hartmann6-in-20d", _box(_E20, 0, 1), hartmann6_in_20d, -3.32237,
                 tags=("20-d", "low effective dimension")),
    SuiteProblem("noisy-hartmann6", HARTMANN6.matrix, noisy_hartmann6, -3.32237,
                 true_loss=hartmann6, tags=("noisy",),
                 note="noise std 0.1; a run is scored by the true value of its best-looking trial"),
    SuiteProblem("hgb-diabetes", {
        "max_iter": {"range": [10, 61]},
        "learning_rate": _log(1e-3, 1.0),
        "max_leaf_nodes": {"range": [2, 33]},
        "max_depth": {"range": [1, 17]},
        "min_samples_leaf": {"range": [5, 81]},
        "l2_regularization": _log(1e-6, 10.0),
    }, hgb_diabetes, None, tags=("scikit-learn", "integer-heavy"),
        note="3-fold CV mean squared error of HistGradientBoostingRegressor"),
    SuiteProblem("forest-cancer", {
        "n_estimators": {"range": [5, 61]},
        "max_depth": {"range": [1, 26]},
        "min_samples_split": {"range": [2, 21]},
        "min_samples_leaf": {"range": [1, 21]},
        "max_features": {"range": [1, 31]},
        "criterion": {"values": ["gini", "entropy"]},
    }, forest_cancer, None, tags=("scikit-learn", "integer-heavy"),
        note="3-fold CV log loss of ExtraTreesClassifier"),
    SuiteProblem("svr-diabetes", {
        "C": _log(1e-2, 1e4),
        "epsilon": _log(1e-2, 1e2),
        "gamma": _log(1e-4, 1.0),
        "kernel": {"values": ["rbf", "sigmoid", "poly"]},
        "degree": {"range": [1, 5]},
    }, svr_diabetes, None, tags=("scikit-learn", "mixed", "log-scaled"),
        note="3-fold CV mean squared error of a scaled SVR"),
)}
