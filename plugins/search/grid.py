"""Grid search: the Cartesian product of the matrix, in declaration order, last param fastest."""

from __future__ import annotations

import math

from hpo.errors import SpecError
from hpo.contracts.hookspecs import hookimpl
from hpo.plugins.search.n_experiments import NExperimentsConfig
from hpo.contracts.searcher import Decision, Exhausted, SearchHistory, Searcher, Suggestion


class GridSearcher(Searcher):
    """Visits the grid in order; ``n_experiments`` keeps the first N combinations."""

    name = "grid"
    version = "1"
    Config = NExperimentsConfig
    spec_keys = ("grid_search",)

    def check_spec(self, spec) -> None:
        super().check_spec(spec)
        for param in self.space.values():
            if not param.discrete:
                raise SpecError(
                    f"grid search needs discrete values, but {param.name!r} is a "
                    f"{param.kind} distribution; use values/range/linspace/logspace/geomspace, "
                    "or choose random_search, hyperband or bo",
                    param.path,
                )
        self._values = [param.values() for param in self.space.values()]
        self._names = list(self.space)
        self._size = math.prod(len(v) for v in self._values)
        try:
            self._limit = self.config.limit(self._size)
        except ValueError as exc:
            raise SpecError(str(exc), f"{spec.search.path}.n_experiments") from None

    def planned_trials(self) -> int:
        return self._limit

    def params_at(self, index: int) -> dict:
        """The combination at ``index`` (0-based) of the grid."""
        out = {}
        for name, values in zip(reversed(self._names), reversed(self._values)):
            index, pos = divmod(index, len(values))
            out[name] = values[pos]
        return {name: out[name] for name in self._names}

    def suggest(self, history: SearchHistory) -> Decision:
        index = len(history)
        if index >= self._limit:
            if self._limit < self._size:
                return Exhausted(f"ran the first {self._limit} of {self._size} grid combinations")
            return Exhausted(f"visited all {self._size} grid combinations")
        return Suggestion(self.params_at(index), {"index": index})


@hookimpl
def hpo_register_searchers(register):
    register(GridSearcher)
