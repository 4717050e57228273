"""Stable plugin API: ``hpo.protocol`` is :mod:`hpo.trial.protocol` (the stdout line protocol); docs/architecture.md lists these paths."""

import sys

from hpo.trial import protocol

sys.modules[__name__] = protocol
