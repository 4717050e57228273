"""A cheap learning-curve problem for multi-fidelity search: a parametric curve family.

Training a real model per trial (``learning_curve.py``) costs about 40 s per hyperband run on
2 cores; comparing six contenders over 20 seeds needs thousands of runs. This family keeps the
shape that makes multi-fidelity search hard on the MLP curves, at microseconds per report:

- the space is ``learning_curve.MATRIX`` (learning rate, L2 penalty, batch size, hidden width);
- a configuration's loss at ``r`` epochs is ``floor(x) + A * (1 + r / tau(x)) ** -2``: it falls
  from about 2.3 (chance on ten classes) towards its floor, at a speed set by the learning rate
  per example (``tau`` is about 1 epoch at ``lr / batch = 1e-2 / 32`` and grows as it shrinks);
- the floor is lowest (0.100) at a moderate learning rate that scales with the batch size, a small
  L2 penalty and a wide layer, so fast learners (large rates) lead early and slow ones overtake
  them later: low budgets rank configurations well but not perfectly, as on the MLP curves;
- rates too large for the batch size diverge (the trial fails, its epochs still spent);
- every report carries noise that shrinks with training, a fixed function of the problem seed,
  the configuration and the epoch, so a resumed trial reports what a fresh one would.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import numpy as np

from learning_curve import MATRIX, RESOURCE  # noqa: F401  (the same space as the MLP problem)

START = 2.3  # cross-entropy of a uniform guess over ten classes
OPTIMUM = 0.100  # the lowest floor any configuration has


def _u(config: dict[str, Any]) -> tuple[float, float, float, float]:
    return (math.log10(config["learning_rate_init"]), math.log10(config["alpha"]),
            math.log2(config["batch_size"] / 32), math.log2(config["hidden"] / 16))


def floor(config: dict[str, Any]) -> float:
    """The loss the configuration converges to."""
    lr, alpha, batch, hidden = _u(config)
    best_lr = -2.6 + 0.25 * batch  # larger batches take larger rates
    return (OPTIMUM + 0.03 * (lr - best_lr) ** 2 + 0.04 * max(alpha + 3.5, 0.0) ** 2 / 12
            + 0.015 * (3 - hidden) ** 2 / 9 + 0.01 * (batch / 3))


def tau(config: dict[str, Any]) -> float:
    """Epochs to a quarter of the initial gap: about 1 at lr/batch = 1e-2/32."""
    lr, _, batch, hidden = _u(config)
    return 10 ** (-(lr + 2) + 0.3 * batch) * (1 + 0.1 * hidden)


def diverges(config: dict[str, Any]) -> bool:
    lr, _, batch, _ = _u(config)
    return lr > -0.8 + 0.2 * batch


def loss(config: dict[str, Any], epochs: int, seed: int) -> float:
    """The validation loss after ``epochs`` (``inf``: diverged)."""
    if diverges(config):
        return math.inf
    key = json.dumps([seed, epochs, sorted((k, str(v)) for k, v in config.items())])
    noise = np.random.default_rng(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))
    clean = floor(config) + (START - OPTIMUM) * (1 + epochs / tau(config)) ** -2
    return float(clean + noise.normal(0.0, 0.004 + 0.05 / (1 + epochs)))
