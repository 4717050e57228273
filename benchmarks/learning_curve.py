"""A learning-curve problem for hyperband: a one-hidden-layer MLP on digits, trained for ``epochs``.

Every trial trains a real model (scikit-learn's ``MLPClassifier``, SGD with Nesterov momentum,
one ``partial_fit`` pass over the 1,200 training images per epoch) and reports its validation
cross-entropy on the 597 held-out images. Nothing is tabulated or cached: a trial that is told
to continue a model (hyperband's ``resume: true``) gets that model and trains only the extra
epochs, so the resource a trial costs is the epochs it actually trains.

The space is the usual one for hyperband's small-network experiments: learning rate and L2
penalty on log scales (most of the box trains slowly or diverges), batch size and hidden width.
Small learning rates keep improving for all 81 epochs, large ones get good fast and some diverge,
so a config's rank after 1 or 3 epochs says something, but not everything, about its rank at 81.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

MATRIX = {
    "learning_rate_init": {"loguniform": [math.log(1e-5), math.log(1.0)]},
    "alpha": {"loguniform": [math.log(1e-7), math.log(1.0)]},
    "batch_size": {"values": [32, 64, 128, 256]},
    "hidden": {"values": [16, 32, 64, 128]},
}
RESOURCE = "epochs"
DIVERGED = "diverged"


@lru_cache(maxsize=1)
def _data():
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    idx = np.random.default_rng(0).permutation(len(y))
    train, valid = idx[:1200], idx[1200:]
    scaler = StandardScaler().fit(X[train])
    return scaler.transform(X[train]), y[train], scaler.transform(X[valid]), y[valid]


@dataclass
class Model:
    """A model being trained, and how many epochs it has had."""

    net: Any
    epochs: int = 0
    diverged: bool = False


def new_model(config: dict[str, Any]) -> Model:
    from sklearn.neural_network import MLPClassifier

    net = MLPClassifier(
        hidden_layer_sizes=(int(config["hidden"]),),
        solver="sgd",
        momentum=0.9,
        nesterovs_momentum=True,
        learning_rate_init=float(config["learning_rate_init"]),
        alpha=float(config["alpha"]),
        batch_size=int(config["batch_size"]),
        # an instance, not an int: partial_fit re-seeds from an int on every call, which would
        # shuffle every epoch the same way; an instance keeps one stream across epochs (and a
        # resumed model continues it exactly as an uninterrupted one would)
        random_state=np.random.RandomState(0),
    )
    return Model(net)


def train(model: Model, epochs: int, eval_at: tuple[int, ...] = ()) -> dict[int, float]:
    """Train ``model`` up to ``epochs`` in total; its validation loss at ``epochs`` and ``eval_at``.

    Returns ``{epoch: loss}``. A model whose weights stop being finite diverged: training stops
    (the epochs it trained are still spent) and its loss is ``inf`` from then on.
    """
    from sklearn.metrics import log_loss
    from threadpoolctl import threadpool_limits

    Xt, yt, Xv, yv = _data()
    classes = np.unique(yt)
    wanted = {e for e in eval_at if model.epochs < e <= epochs} | {epochs}
    out: dict[int, float] = {}
    with warnings.catch_warnings(), threadpool_limits(limits=1), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        while model.epochs < epochs and not model.diverged:
            try:
                model.net.partial_fit(Xt, yt, classes=classes)
            except ValueError:  # "Solver produced non-finite parameter weights"
                model.diverged = True
            model.epochs += 1
            if model.epochs in wanted and not model.diverged:
                p = model.net.predict_proba(Xv)
                out[model.epochs] = float(log_loss(yv, p, labels=classes))
    for e in wanted:
        out.setdefault(e, math.inf)
    return out
