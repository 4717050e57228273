"""Hyperband (Li et al., JMLR 2018): the ``hyperband`` search algorithm and ``hpo plan``."""

from __future__ import annotations

from hpo.contracts.hookspecs import hookimpl

from .brackets import Bracket, Rung, plan, plan_json
from .searcher import HyperbandConfig, HyperbandSearcher

__all__ = ["Bracket", "HyperbandConfig", "HyperbandSearcher", "Rung", "plan", "plan_json"]


@hookimpl
def hpo_register_searchers(register):
    register(HyperbandSearcher)


@hookimpl
def hpo_register_commands(cli):
    from .cli import plan_command

    cli.add_command(plan_command)
