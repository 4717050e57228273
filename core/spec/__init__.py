"""The group spec (the YAML file a user writes): loading, validation, the matrix kinds.

``load_spec``/``parse_spec`` return a :class:`GroupSpec`; ``describe`` is what ``hpo validate``
prints. See ``docs/spec.md`` for the format.

The names below load on first use (PEP 562): importing one small module of this package, such
as ``hpo.spec.metric``, must not pull in the matrix kinds and numpy, so read-only commands such
as ``hpo status`` start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "Categorical": "params",
    "EarlyStoppingEntry": "models",
    "GroupSpec": "models",
    "MetricSpec": "metric",
    "Numeric": "params",
    "Param": "params",
    "RunSpec": "models",
    "RunnerSpec": "models",
    "SearchSpec": "models",
    "StopperSpec": "models",
    "describe": "describe",
    "load_spec": "parse",
    "parse_spec": "parse",
    "render": "template",
    "template_names": "template",
}

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'hpo.spec' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"hpo.spec.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


if TYPE_CHECKING:
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
