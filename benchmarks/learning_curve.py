"""A learning-curve problem for hyperband: an SGD classifier on digits, trained for ``epochs``.

A trial with ``epochs = r`` trains a fresh model for r epochs (``resume: false``) and reports its
validation error. Training is deterministic per configuration, so the curve of each
configuration is computed once and cached: the loss of (config, r) is exactly what a real trial
would report, and every trial is still charged its full ``r`` epochs of resource.
"""

from __future__ import annotations

import json
import math
import warnings
from functools import lru_cache
from typing import Any

import numpy as np

MATRIX = {
    "alpha": {"loguniform": [math.log(1e-7), math.log(1e-1)]},
    "eta0": {"loguniform": [math.log(1e-5), math.log(1.0)]},
    "learning_rate": {"values": ["constant", "invscaling", "optimal"]},
    "loss": {"values": ["hinge", "log_loss", "modified_huber", "perceptron"]},
}
RESOURCE = "epochs"


@lru_cache(maxsize=1)
def _data():
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    idx = np.random.default_rng(0).permutation(len(y))
    train, valid = idx[:1200], idx[1200:]
    scaler = StandardScaler().fit(X[train])
    return scaler.transform(X[train]), y[train], scaler.transform(X[valid]), y[valid]


class Curves:
    """Validation error per epoch for each configuration, computed on demand."""

    def __init__(self):
        self._curves: dict[str, list[float]] = {}

    def loss(self, params: dict[str, Any], epochs: int) -> float:
        config = {k: v for k, v in params.items() if k != RESOURCE}
        key = json.dumps(config, sort_keys=True)
        curve = self._curves.setdefault(key, [])
        if len(curve) < epochs:
            curve[:] = _train(config, epochs)
        return curve[epochs - 1]


def _train(config: dict[str, Any], epochs: int) -> list[float]:
    from sklearn.linear_model import SGDClassifier
    from threadpoolctl import threadpool_limits

    Xt, yt, Xv, yv = _data()
    model = SGDClassifier(
        alpha=config["alpha"], eta0=config["eta0"], learning_rate=config["learning_rate"],
        loss=config["loss"], random_state=0,
    )
    classes = np.unique(yt)
    out = []
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        for _ in range(epochs):
            model.partial_fit(Xt, yt, classes=classes)
            out.append(float(1.0 - model.score(Xv, yv)))
    return out
