"""Stable plugin API: ``hpo.running`` is :mod:`hpo.contracts.runner` (the runner contract); docs/architecture.md lists these paths."""

import sys

from hpo.contracts import runner

sys.modules[__name__] = runner
