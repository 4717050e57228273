"""Stable plugin API: ``hpo.hookspecs`` is :mod:`hpo.contracts.hookspecs` (the hook specifications and ``hookimpl``); docs/architecture.md lists these paths."""

import sys

from hpo.contracts import hookspecs

sys.modules[__name__] = hookspecs
