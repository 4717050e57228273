"""Random search: ``n_experiments`` unique configs drawn from the matrix.

Each draw uses a generator seeded by the group seed and the trial id only, so the suggestions
are the same however the group is interrupted and resumed. When the reachable space (quantised
distributions included) is smaller than the budget, the search stops at exhaustion and says so.
When draws keep hitting tried configs (the last untried ones of a small space are unlikely
draws), a space of at most ``MAX_ENUMERATE`` configs is listed and an untried one is picked, so
the budget is filled; only the rejected-draw path changed, so logged suggestions replay as before.
"""

from __future__ import annotations

import itertools
import math

from hpo.errors import SpecError
from hpo.spec.matrix_base import tidy_multiple
from hpo.contracts.hookspecs import hookimpl
from hpo.plugins.search.n_experiments import NExperimentsConfig
from hpo.contracts.searcher import Decision, Exhausted, SearchHistory, Searcher, Suggestion, params_key

MAX_DRAWS = 1000
MAX_ENUMERATE = 20_000  # finite spaces this small are listed when draws find nothing new


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
        if self._size is not None and self._size <= MAX_ENUMERATE:
            fresh = [p for p in self._every_config() if params_key(p) not in seen]
            if fresh:
                return Suggestion(fresh[int(rng.integers(len(fresh)))])
        return Exhausted(
            f"no new config found in {MAX_DRAWS} draws after {len(seen)} distinct configs; "
            "the reachable space is (nearly) exhausted"
        )

    def _every_config(self) -> list[dict]:
        """Every reachable config of a finite space, in grid order (values as ``sample`` gives them)."""
        supports = [_support(p) for p in self.space.values()]
        return [dict(zip(self._names, combo)) for combo in itertools.product(*supports)]


def _support(param) -> list:
    """The values a finite kind can draw: discrete values, pvalues' choices, a q-grid's multiples."""
    if param.discrete:
        return param.values()
    if hasattr(param, "choices"):
        return list(param.choices)
    kmin, kmax = param.k_range()
    return [tidy_multiple(k, param.args["q"]) for k in range(kmin, kmax + 1)]


@hookimpl
def hpo_register_searchers(register):
    register(RandomSearcher)
