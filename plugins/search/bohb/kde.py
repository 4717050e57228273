"""BOHB's density model (Falkner, Klein and Hutter, ICML 2018, section 3.1): two product-kernel
densities over the search space, ``l(x)`` fitted on the best observations at one budget and
``g(x)`` on the rest; the next configuration is the candidate with the largest ``l(x) / g(x)``
among samples drawn from a widened ``l``.

Each matrix parameter is one axis: a numeric one as its coordinate in ``[0, 1]`` (log domains
in log space, from the ``bo`` plugin's encoder), with a Gaussian kernel (scored as the paper's
statsmodels estimator scores it; candidates are drawn from it truncated to the unit interval,
as its implementation draws them); a categorical one as the index of its choice, with the Aitchison-Aitken kernel (keep
the centre's choice with probability ``1 - bw``, else any other). Bandwidths follow Scott's
normal-reference rule per axis, floored at ``min_bandwidth``, as the paper's statsmodels
estimator does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import logsumexp
from scipy.stats import truncnorm

from hpo.plugins.search.bo.space import Encoder, _Categorical


class Axes:
    """Configurations as vectors with one entry per parameter (see the module doc)."""

    def __init__(self, encoder: Encoder):
        self.encoder = encoder
        # 0 for a numeric axis, else the number of choices
        self.choices = np.array([d.width if isinstance(d, _Categorical) else 0
                                 for d in encoder.dims])

    def vectors(self, configs: list[dict[str, Any]]) -> np.ndarray:
        V = np.zeros((len(configs), len(self.encoder.dims)))
        for i, params in enumerate(configs):
            z = self.encoder.encode(params)
            for j, dim in enumerate(self.encoder.dims):
                block = z[dim.column: dim.column + dim.width]
                V[i, j] = float(np.argmax(block)) if self.choices[j] else block[0]
        return V

    def params(self, v: np.ndarray) -> dict[str, Any]:
        """The reachable configuration nearest to ``v`` (grid values, ``q``, integers snapped)."""
        z = np.zeros(self.encoder.n_dims)
        for j, dim in enumerate(self.encoder.dims):
            if self.choices[j]:
                z[dim.column + int(v[j])] = 1.0
            else:
                z[dim.column] = v[j]
        return self.encoder.decode(z)


@dataclass(frozen=True)
class Density:
    """A product-kernel density estimate over ``Axes`` vectors."""

    data: np.ndarray  # (n, P) centres
    bw: np.ndarray  # (P,) bandwidths
    choices: np.ndarray  # (P,) 0 numeric, else the number of choices

    @classmethod
    def fit(cls, data: np.ndarray, choices: np.ndarray, min_bandwidth: float) -> "Density":
        n, p = data.shape
        std = data.std(axis=0, ddof=1) if n > 1 else np.zeros(p)
        bw = np.maximum(1.059 * std * n ** (-1.0 / (4 + p)), min_bandwidth)
        cat = choices > 0
        # a categorical bandwidth is the chance of leaving the centre's choice: at most the
        # share of the other choices, where the kernel is flat
        bw[cat] = np.minimum(bw[cat], (choices[cat] - 1) / np.maximum(choices[cat], 1))
        return cls(data, bw, choices)

    def log_pdf(self, X: np.ndarray) -> np.ndarray:
        """``log l(x)`` for every row of ``X``."""
        logk = np.zeros((len(X), len(self.data)))
        for j, (bw, k) in enumerate(zip(self.bw, self.choices)):
            x, c = X[:, j][:, None], self.data[:, j][None, :]
            if k == 0:
                logk += -0.5 * ((x - c) / bw) ** 2 - np.log(bw * np.sqrt(2 * np.pi))
            elif k > 1 and bw > 0:
                logk += np.where(x == c, np.log1p(-bw), np.log(bw / (k - 1)))
        return logsumexp(logk, axis=1) - np.log(len(self.data))

    def sample(self, rng: np.random.Generator, n: int, widen: float) -> np.ndarray:
        """``n`` draws around randomly chosen centres, numeric bandwidths times ``widen``."""
        centres = self.data[rng.integers(len(self.data), size=n)]
        out = np.empty_like(centres)
        for j, (bw, k) in enumerate(zip(self.bw, self.choices)):
            c = centres[:, j]
            if k == 0:
                scale = bw * widen
                out[:, j] = truncnorm.rvs(-c / scale, (1.0 - c) / scale, loc=c, scale=scale,
                                          random_state=rng)
            else:
                leave = rng.random(n) < bw
                other = (c + 1 + rng.integers(max(k - 1, 1), size=n)) % max(k, 1)
                out[:, j] = np.where(leave & (k > 1), other, c)
        return out


def propose(
    good: Density, bad: Density, rng: np.random.Generator, samples: int, widen: float
) -> np.ndarray:
    """The sample from the widened ``good`` density with the largest ``l(x) / g(x)``."""
    X = good.sample(rng, samples, widen)
    score = good.log_pdf(X) - bad.log_pdf(X)
    return X[int(np.argmax(score))]
