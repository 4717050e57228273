"""Stable plugin API: ``hpo.whatif`` is :mod:`hpo.views.whatif` (replaying a stopping policy offline); docs/architecture.md lists these paths."""

import sys

from hpo.views import whatif

sys.modules[__name__] = whatif
