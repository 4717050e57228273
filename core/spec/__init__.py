"""The group spec (the YAML file a user writes): loading, validation, the matrix kinds.

``load_spec``/``parse_spec`` return a :class:`GroupSpec`; ``describe`` is what ``hpo validate``
prints. See ``docs/spec.md`` for the format.
"""

from hpo.spec.describe import describe
from hpo.spec.metric import MetricSpec
from hpo.spec.models import (
    EarlyStoppingEntry,
    GroupSpec,
    RunnerSpec,
    RunSpec,
    SearchSpec,
    StopperSpec,
)
from hpo.spec.params import Categorical, Numeric, Param
from hpo.spec.parse import load_spec, parse_spec
from hpo.spec.template import render, template_names

__all__ = [
    "Categorical",
    "EarlyStoppingEntry",
    "GroupSpec",
    "MetricSpec",
    "Numeric",
    "Param",
    "RunSpec",
    "RunnerSpec",
    "SearchSpec",
    "StopperSpec",
    "describe",
    "load_spec",
    "parse_spec",
    "render",
    "template_names",
]
