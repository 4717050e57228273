"""The ``optuna`` search algorithm: any Optuna sampler (TPE, GP, CMA-ES, NSGA-II...) over the matrix.

Install it with ``pip install 'hpo-groups[optuna]'``; select it with
``search: {algorithm: optuna, sampler: tpe, n_trials: 50}``. See ``docs/plugins/optuna.md``.
Optuna itself is imported only when a group uses the algorithm.
"""

from __future__ import annotations

from hpo.contracts.hookspecs import hookimpl

from .searcher import OptunaConfig, OptunaSearcher

__all__ = ["OptunaConfig", "OptunaSearcher"]


@hookimpl
def hpo_register_searchers(register):
    register(OptunaSearcher)
