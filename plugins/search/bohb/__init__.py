"""BOHB (Falkner, Klein and Hutter, ICML 2018): hyperband's brackets with new configurations
drawn from a density model fitted per budget, the ``bohb`` search algorithm; ``hpo plan`` shows
its brackets through the searcher's ``plan()``."""

from __future__ import annotations

from hpo.contracts.hookspecs import hookimpl

from .searcher import BOHBConfig, BOHBSearcher

__all__ = ["BOHBConfig", "BOHBSearcher"]


@hookimpl
def hpo_register_searchers(register):
    register(BOHBSearcher)
