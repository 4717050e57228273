"""Stable plugin API: ``hpo.search`` is :mod:`hpo.contracts.searcher` (the searcher contract); docs/architecture.md lists these paths."""

import sys

from hpo.contracts import searcher

sys.modules[__name__] = searcher
