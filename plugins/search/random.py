"""Random search: ``n_experiments`` unique configs drawn from the matrix.

Each draw uses a generator seeded by the group seed and the trial id only, so the suggestions
are the same however the group is interrupted and resumed. When the reachable space (quantised
distributions included) is smaller than the budget, the search stops at exhaustion and says so.
"""

from __future__ import annotations

import math

from hpo.errors import SpecError
from hpo.contracts.hookspecs import hookimpl
from hpo.plugins.search.n_experiments import NExperimentsConfig
from hpo.contracts.searcher import Decision, Exhausted, SearchHistory, Searcher, Suggestion, params_key

MAX_DRAWS = 1000


class RandomSearcher(Searcher):
    name = "random"
    version = "1"
    Config = NExperimentsConfig
    spec_keys = ("random_search",)

    def check_spec(self, spec) -> None:
        super().check_spec(spec)
        sizes = [p.cardinality() for p in self.space.values()]
        self._size = None if any(s is None for s in sizes) else math.prod(sizes)
        try:
            self._limit = self.config.limit(self._size)
        except ValueError as exc:
            raise SpecError(str(exc), f"{spec.search.path}.n_experiments") from None
        if self._limit is None:
            raise SpecError(
                "random search over a continuous space needs `n_experiments`",
                f"{spec.search.path}.n_experiments",
            )
        self._names = list(self.space)

    def planned_trials(self) -> int:
        return self._limit

    def suggest(self, history: SearchHistory) -> Decision:
        n = len(history)
        if n >= self._limit:
            if self.config.n_experiments is not None and self._limit < self.config.n_experiments:
                return Exhausted(
                    f"the space has only {self._size} distinct configs "
                    f"(n_experiments was {self.config.n_experiments}); all were tried"
                )
            return Exhausted(f"ran {self._limit} random configs")
        seen = history.param_keys()
        rng = self.rng(history.next_trial_id)
        for _ in range(MAX_DRAWS):
            params = {name: p.sample(rng) for name, p in self.space.items()}
            if params_key(params) not in seen:
                return Suggestion(params)
        return Exhausted(
            f"no new config found in {MAX_DRAWS} draws after {len(seen)} distinct configs; "
            "the reachable space is (nearly) exhausted"
        )


@hookimpl
def hpo_register_searchers(register):
    register(RandomSearcher)
