"""Bayesian optimization with a Gaussian process: the ``bo`` search algorithm."""

from __future__ import annotations

from hpo.contracts.hookspecs import hookimpl

from .config import BOConfig, GaussianProcessConfig, UtilityFunctionConfig
from .searcher import BOSearcher

__all__ = ["BOConfig", "BOSearcher", "GaussianProcessConfig", "UtilityFunctionConfig"]


@hookimpl
def hpo_register_searchers(register):
    register(BOSearcher)
