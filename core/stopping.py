"""Stable plugin API: ``hpo.stopping`` is :mod:`hpo.contracts.stopper` (the stopper contract); docs/architecture.md lists these paths."""

import sys

from hpo.contracts import stopper

sys.modules[__name__] = stopper
