"""The matrix as the Gaussian process sees it: a point in the unit cube.

Numeric parameters take one column, scaled from ``[low, high]`` to ``[0, 1]`` (log domains in log
space); categorical ones take one column per choice (one-hot). ``snap`` maps any point of the
cube onto the nearest reachable configuration (grid value, multiple of ``q``, integer, one
choice), vectorised, so the acquisition optimiser can work on the continuous relaxation.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import numpy as np

from hpo.errors import SpecError
from hpo.spec.params import Categorical, Numeric, Param

UNBOUNDED_KINDS = ("normal", "qnormal", "lognormal", "qlognormal")


def _tidy(k: int, q: float, integer: bool) -> int | float:
    """``k * q`` without float noise (11 * 0.1 is 1.1, not 1.1000000000000001)."""
    if integer:
        return int(k) * int(q)
    decimals = -Decimal(repr(float(q))).as_tuple().exponent
    value = float(k * q)
    return round(value, decimals) if 0 < decimals <= 15 else value


class _Numeric:
    def __init__(self, name: str, dom: Numeric, column: int):
        self.name, self.dom, self.column, self.width = name, dom, column, 1
        self.log = bool(dom.log) and dom.low > 0
        self.t_low, self.t_high = self._t(np.float64(dom.low)), self._t(np.float64(dom.high))
        self.span = self.t_high - self.t_low
        self.grid = None if dom.grid is None else list(dom.grid)
        if self.grid is not None:
            self.grid_u = self.to_unit(np.asarray(self.grid, dtype=float))

    def _t(self, v):
        return np.log(v) if self.log else v

    def to_unit(self, v: np.ndarray) -> np.ndarray:
        if self.span == 0:
            return np.full_like(v, 0.5, dtype=float)
        return (self._t(np.asarray(v, dtype=float)) - self.t_low) / self.span

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        t = self.t_low + np.clip(u, 0.0, 1.0) * self.span
        return np.clip(np.exp(t) if self.log else t, self.dom.low, self.dom.high)

    def snap_values(self, u: np.ndarray) -> np.ndarray:
        """Reachable values (as floats) nearest to the unit coordinates ``u``."""
        if self.grid is not None:
            return np.asarray(self.grid, dtype=float)[self.grid_index(u)]
        v = self.from_unit(u)
        q = self.dom.q
        if q:
            return np.clip(np.round(v / q), *self.k_range) * q
        return np.round(v) if self.dom.integer else v

    @property
    def k_range(self) -> tuple[int, int]:
        q = self.dom.q
        return round(self.dom.low / q), round(self.dom.high / q)

    def grid_index(self, u: np.ndarray) -> np.ndarray:
        order = np.argsort(self.grid_u, kind="stable")
        gu = self.grid_u[order]
        i = np.clip(np.searchsorted(gu, u), 1, len(gu) - 1) if len(gu) > 1 else np.zeros(len(u), int)
        if len(gu) > 1:
            i = np.where(np.abs(u - gu[i - 1]) <= np.abs(u - gu[i]), i - 1, i)
        return order[i]

    def snap(self, Z: np.ndarray) -> None:
        Z[:, self.column] = self.to_unit(self.snap_values(Z[:, self.column]))

    def value(self, z: np.ndarray) -> Any:
        u = z[self.column : self.column + 1]
        if self.grid is not None:
            return self.grid[int(self.grid_index(u)[0])]
        if self.dom.q:
            v = float(self.from_unit(u)[0])
            k = min(max(round(v / self.dom.q), self.k_range[0]), self.k_range[1])
            return _tidy(k, self.dom.q, self.dom.integer)
        v = float(self.snap_values(u)[0])
        return int(round(v)) if self.dom.integer else v

    def encode(self, value: Any, out: np.ndarray) -> None:
        out[self.column] = float(self.to_unit(np.asarray([float(value)]))[0])

    def random(self, rng: np.random.Generator, Z: np.ndarray) -> None:
        Z[:, self.column] = rng.random(len(Z))

    def from_cube(self, u: np.ndarray, Z: np.ndarray) -> None:
        Z[:, self.column] = u


class _Categorical:
    def __init__(self, name: str, dom: Categorical, column: int):
        self.name, self.choices, self.column, self.width = name, dom.choices, column, len(dom.choices)

    def _cols(self, Z: np.ndarray) -> np.ndarray:
        return Z[:, self.column : self.column + self.width]

    def snap(self, Z: np.ndarray) -> None:
        idx = np.argmax(self._cols(Z), axis=1)
        Z[:, self.column : self.column + self.width] = np.eye(self.width)[idx]

    def value(self, z: np.ndarray) -> Any:
        return self.choices[int(np.argmax(z[self.column : self.column + self.width]))]

    def encode(self, value: Any, out: np.ndarray) -> None:
        out[self.column : self.column + self.width] = 0.0
        for i, c in enumerate(self.choices):
            if type(c) is type(value) and c == value:
                out[self.column + i] = 1.0
                return
        raise ValueError(f"{value!r} is not a choice of {self.name}")

    def random(self, rng: np.random.Generator, Z: np.ndarray) -> None:
        idx = rng.integers(self.width, size=len(Z))
        Z[:, self.column : self.column + self.width] = np.eye(self.width)[idx]

    def from_cube(self, u: np.ndarray, Z: np.ndarray) -> None:
        idx = np.minimum((u * self.width).astype(int), self.width - 1)
        Z[:, self.column : self.column + self.width] = np.eye(self.width)[idx]


class Encoder:
    """Maps configurations to and from ``[0, 1]^dims``."""

    def __init__(self, space: dict[str, Param]):
        self.names = list(space)
        self.dims: list[_Numeric | _Categorical] = []
        column = 0
        for name, param in space.items():
            dom = param.domain()
            if param.kind in UNBOUNDED_KINDS or (isinstance(dom, Numeric) and not dom.bounded):
                raise SpecError(
                    f"bo cannot search a {param.kind} parameter: its support is unbounded and "
                    "the Gaussian process works on a bounded box; use uniform, quniform, "
                    "loguniform or qloguniform with explicit bounds",
                    param.path,
                )
            dim = (_Categorical if isinstance(dom, Categorical) else _Numeric)(name, dom, column)
            self.dims.append(dim)
            column += dim.width
        self.n_dims = column
        self.continuous = np.zeros(column, dtype=bool)  # columns that snapping leaves alone
        for dim in self.dims:
            if isinstance(dim, _Numeric) and dim.grid is None and not dim.dom.q:
                self.continuous[dim.column] = not dim.dom.integer
        sizes = [p.cardinality() for p in space.values()]
        self.size = None if any(s is None for s in sizes) else math.prod(sizes)
        self.enumerable = all(
            isinstance(d, _Categorical) or d.grid is not None for d in self.dims
        )

    def key(self, params: dict[str, Any]) -> str:
        return json.dumps([params.get(n) for n in self.names], sort_keys=True, default=str)

    def encode(self, params: dict[str, Any]) -> np.ndarray:
        out = np.zeros(self.n_dims)
        for dim in self.dims:
            dim.encode(params[dim.name], out)
        return out

    def decode(self, z: np.ndarray) -> dict[str, Any]:
        return {dim.name: dim.value(z) for dim in self.dims}

    def snap(self, Z: np.ndarray) -> np.ndarray:
        Z = np.array(Z, dtype=float, copy=True)
        for dim in self.dims:
            dim.snap(Z)
        return Z

    def random(self, rng: np.random.Generator, n: int) -> np.ndarray:
        Z = np.zeros((n, self.n_dims))
        for dim in self.dims:
            dim.random(rng, Z)
        return self.snap(Z)

    def sobol(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` snapped points from a scrambled Sobol sequence: one Sobol axis per parameter
        (a categorical's axis picks its choice), so the points cover the space more evenly than
        independent draws."""
        from scipy.stats import qmc  # loaded only when a model runs

        m = max(0, math.ceil(math.log2(max(n, 1))))  # whole powers of 2 keep the balance
        U = qmc.Sobol(len(self.dims), scramble=True, seed=rng).random_base2(m)[:n]
        Z = np.zeros((n, self.n_dims))
        for j, dim in enumerate(self.dims):
            dim.from_cube(U[:, j], Z)
        return self.snap(Z)

    def enumerate(self) -> np.ndarray:
        """Every configuration, encoded (only when ``enumerable`` and small)."""
        axes = []
        for dim in self.dims:
            if isinstance(dim, _Categorical):
                axes.append(np.eye(dim.width))
            else:
                axes.append(dim.grid_u[:, None])
        Z = np.zeros((1, 0))
        for block in axes:
            Z = np.hstack([np.repeat(Z, len(block), axis=0), np.tile(block, (len(Z), 1))])
        return Z
