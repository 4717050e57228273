"""Stable plugin API: ``hpo.options`` is :mod:`hpo.contracts.options` (validating a plugin's options block); docs/architecture.md lists these paths."""

import sys

from hpo.contracts import options

sys.modules[__name__] = options
