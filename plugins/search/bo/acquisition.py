"""Acquisition functions (ucb, ei, poi) and their maximisation over the unit cube.

Everything is in standardised, "higher is better" units. ``maximize`` scores ``n_warmup``
random configurations, starts L-BFGS-B from the ``n_iter`` best of them (and from the best
observed points) on the continuous relaxation, snaps the optima back onto reachable
configurations, and returns every candidate ranked by its acquisition value so the searcher can
take the best one that was never tried.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.stats import norm

from .gp import Posterior
from .space import Encoder

FD_STEP = 1e-6


@dataclass(frozen=True)
class Acquisition:
    kind: str  # ucb | ei | poi
    kappa: float
    eps: float
    best: float  # best observed standardised value

    def __call__(self, post: Posterior, Z: np.ndarray, grad: bool = False):
        """Values (k,) and, with ``grad``, gradients (k, d) at the rows of ``Z``."""
        if grad and post.has_gradient:
            mu, sigma, dmu, dsigma = post.predict(Z, grad=True)
        else:
            mu, sigma = post.predict(Z)
            dmu = dsigma = None
        value, d_mu, d_sigma = self._value(mu, sigma)
        if not grad:
            return value
        if dmu is None:
            return value, _finite_difference(lambda x: self(post, x), Z, value)
        return value, d_mu[:, None] * dmu + d_sigma[:, None] * dsigma

    def _value(self, mu, sigma):
        """The acquisition and its partial derivatives in mu and sigma."""
        if self.kind == "ucb":
            return mu + self.kappa * sigma, np.ones_like(mu), np.full_like(mu, self.kappa)
        z = (mu - self.best - self.eps) / sigma
        cdf, pdf = norm.cdf(z), norm.pdf(z)
        if self.kind == "poi":
            return cdf, pdf / sigma, -pdf * z / sigma
        return sigma * (pdf + z * cdf), cdf, pdf


def _finite_difference(f, Z, value):
    """Forward differences, one column at a time for the whole batch (the rows are independent)."""
    grads = np.empty_like(Z)
    for j in range(Z.shape[1]):
        step = np.where(Z[:, j] + FD_STEP <= 1.0, FD_STEP, -FD_STEP)
        Zs = Z.copy()
        Zs[:, j] += step
        grads[:, j] = (f(Zs) - value) / step
    return grads


def _polish(
    acq: Acquisition, post: Posterior, starts: np.ndarray, max_iter: int,
    fixed: np.ndarray | None = None,
) -> np.ndarray:
    """L-BFGS-B on all starts at once: the sum of independent objectives has a block gradient.

    Columns where ``fixed`` is True keep their starting values (their bounds are pinned).
    """
    k, d = starts.shape

    def objective(flat):
        value, grad = acq(post, flat.reshape(k, d), grad=True)
        return -float(np.sum(value)), -grad.ravel()

    lower, upper = np.zeros_like(starts), np.ones_like(starts)
    if fixed is not None:
        lower[:, fixed] = upper[:, fixed] = starts[:, fixed]
    result = minimize(
        objective, starts.ravel(), jac=True, method="L-BFGS-B",
        bounds=list(zip(lower.ravel(), upper.ravel())), options={"maxiter": max_iter},
    )
    return result.x.reshape(k, d)


def maximize(
    acq: Acquisition,
    post: Posterior,
    encoder: Encoder,
    rng: np.random.Generator,
    n_warmup: int,
    n_iter: int,
    incumbents: np.ndarray,
    candidates: np.ndarray | None = None,
    max_iter: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """Candidates (snapped, best first) and their acquisition values.

    ``candidates`` replaces the random warm-up pool when the whole space is small enough to be
    scored exhaustively; L-BFGS-B is then skipped.
    """
    if candidates is not None:
        values = acq(post, candidates)
        order = np.argsort(-values, kind="stable")
        return candidates[order], values[order]
    pool = encoder.random(rng, n_warmup)
    values = acq(post, pool)
    top = np.argsort(-values, kind="stable")[:n_iter]
    starts = np.vstack([pool[top], incumbents]) if len(incumbents) else pool[top]
    polished = encoder.snap(_polish(acq, post, starts, max_iter))
    discrete = ~encoder.continuous
    if discrete.any() and not discrete.all():
        # snapping moved the discrete columns: re-optimise the continuous ones around them
        polished = encoder.snap(_polish(acq, post, polished, max_iter, fixed=discrete))
    pool = np.vstack([polished, pool])
    values = np.concatenate([acq(post, polished), values])
    order = np.argsort(-values, kind="stable")
    return pool[order], values[order]
