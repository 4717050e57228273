"""Hyperband (Li et al., JMLR 2018): the ``hyperband`` search algorithm; ``hpo plan`` shows its
brackets through the searcher's ``plan()``."""

from __future__ import annotations

from hpo.contracts.hookspecs import hookimpl

from .brackets import Bracket, Rung, plan, plan_json
from .searcher import HyperbandConfig, HyperbandSearcher

__all__ = ["Bracket", "HyperbandConfig", "HyperbandSearcher", "Rung", "plan", "plan_json"]


@hookimpl
def hpo_register_searchers(register):
    register(HyperbandSearcher)
