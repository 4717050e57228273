"""hpo-sobol: a Sobol quasi-random search algorithm for hpo.

The ``i``-th trial of a group gets the ``i``-th point of a Sobol sequence over the unit cube
(scrambled with the group seed), mapped onto the matrix: ``suggest`` is a pure function of the
seed and the number of trials so far, as the searcher contract asks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from hpo.errors import SpecError
from hpo.hookspecs import hookimpl
from hpo.search import Decision, Exhausted, SearchHistory, Searcher, Suggestion
from hpo.spec import Categorical, Param

__version__ = "0.1.0"


class SobolConfig(BaseModel):
    """The options of ``search: {algorithm: sobol, ...}``."""

    model_config = ConfigDict(extra="forbid")

    n_experiments: int = Field(ge=1, description="how many points of the sequence to try")
    scramble: bool = Field(True, description="scramble the sequence with the group seed")


class SobolSearcher(Searcher):
    """Trial ``i`` gets point ``i`` of a (scrambled) Sobol sequence over the matrix."""

    name = "sobol"
    version = "1"
    Config = SobolConfig

    def check_spec(self, spec: Any) -> None:
        super().check_spec(spec)
        if not self.space:
            raise SpecError("sobol needs at least one matrix parameter", "matrix")
        for param in self.space.values():
            domain = param.domain()
            if not isinstance(domain, Categorical) and not domain.bounded:
                raise SpecError(
                    f"sobol needs bounded parameters, but {param.name!r} is a {param.kind} "
                    "distribution; use uniform, loguniform, quniform or qloguniform",
                    param.path,
                )

    def planned_trials(self) -> int:
        return self.config.n_experiments

    def suggest(self, history: SearchHistory) -> Decision:
        index = len(history)
        if index >= self.config.n_experiments:
            return Exhausted(f"tried the first {index} points of the Sobol sequence")
        point = self.point(index)
        params = {name: value_at(param, u) for (name, param), u in zip(self.space.items(), point)}
        return Suggestion(params, {"index": index})

    def point(self, index: int) -> np.ndarray:
        """Point ``index`` of the sequence: a fresh generator each time, so nothing is kept."""
        from scipy.stats import qmc  # imported on first use: `hpo` loads every plugin at start

        sobol = qmc.Sobol(d=len(self.space), scramble=self.config.scramble, seed=self.seed)
        if index:
            sobol.fast_forward(index)  # (scipy rejects fast_forward(0))
        return sobol.random(1)[0]


def value_at(param: Param, u: float) -> Any:
    """The value of ``param`` at coordinate ``u`` in [0, 1)."""
    if param.discrete:
        values = param.values()
        return values[min(int(u * len(values)), len(values) - 1)]
    domain = param.domain()
    if isinstance(domain, Categorical):
        weights = np.asarray(domain.weights or [1.0] * len(domain.choices), dtype=float)
        cumulative = np.cumsum(weights / weights.sum())
        index = int(np.searchsorted(cumulative, u, side="right"))
        return domain.choices[min(index, len(domain.choices) - 1)]
    low, high = float(domain.low), float(domain.high)
    if domain.log:
        x = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    else:
        x = low + u * (high - low)
    if domain.q is not None:
        q = domain.q
        k = min(max(round(x / q), math.ceil(low / q - 1e-9)), math.floor(high / q + 1e-9))
        return int(k * q) if isinstance(q, int) else round(k * q, 12)
    if domain.integer:
        return int(round(x))
    return x


@hookimpl
def hpo_register_searchers(register):
    register(SobolSearcher)
