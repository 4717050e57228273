"""Asynchronous successive halving (Li et al., MLSys 2020) as a search algorithm,
``async_halving``: a trial is promoted as soon as its rung allows, else a new configuration
starts at the bottom rung, so no slot ever idles. ``hpo plan`` shows its rungs through the
searcher's ``plan()``. (The ``asha`` stopping rule applies the same cut to trials a searcher
started at the full resource; this one decides what runs next.)"""

from __future__ import annotations

from hpo.contracts.hookspecs import hookimpl

from .rungs import rung_resources
from .searcher import AsyncHalvingConfig, AsyncHalvingSearcher

__all__ = ["AsyncHalvingConfig", "AsyncHalvingSearcher", "rung_resources"]


@hookimpl
def hpo_register_searchers(register):
    register(AsyncHalvingSearcher)
