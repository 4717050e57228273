"""Stable plugin API: ``hpo.logtail`` is :mod:`hpo.runkit.logtail` (following a trial's output); docs/architecture.md lists these paths."""

import sys

from hpo.runkit import logtail

sys.modules[__name__] = logtail
