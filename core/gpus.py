"""Stable plugin API: ``hpo.gpus`` is :mod:`hpo.runkit.gpus` (GPU slots); docs/architecture.md lists these paths."""

import sys

from hpo.runkit import gpus

sys.modules[__name__] = gpus
