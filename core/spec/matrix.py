"""The matrix: parse a ``name: {kind: args}`` mapping into :class:`~hpo.spec.params.Param` objects.

The 14 kinds live in :mod:`hpo.spec.matrix_discrete` and :mod:`hpo.spec.matrix_dist`; this module
is the registry, the per-entry parser and the JSON round trip.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from hpo.errors import SpecError
from hpo.spec.matrix_base import MatrixParam
from hpo.spec.matrix_discrete import DISCRETE_KINDS, Geomspace, Linspace, Logspace, Range, Values
from hpo.spec.matrix_dist import (
    DISTRIBUTION_KINDS,
    LogNormal,
    LogUniform,
    Normal,
    PValues,
    QLogNormal,
    QLogUniform,
    QNormal,
    QUniform,
    Uniform,
)
from hpo.spec.params import Param

KINDS: dict[str, type[MatrixParam]] = {cls.kind: cls for cls in DISCRETE_KINDS + DISTRIBUTION_KINDS}
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

__all__ = [
    "KINDS",
    "Geomspace",
    "Linspace",
    "LogNormal",
    "LogUniform",
    "Logspace",
    "Normal",
    "PValues",
    "QLogNormal",
    "QLogUniform",
    "QNormal",
    "QUniform",
    "Range",
    "Uniform",
    "Values",
    "check_param_name",
    "param_from_json",
    "parse_matrix",
    "parse_param",
]


def check_param_name(name: Any, path: str) -> str:
    """Param names must be identifiers: they appear in ``{{ name }}`` templates and env JSON."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise SpecError(
            f"{name!r} is not a valid parameter name (letters, digits and _, not starting "
            "with a digit)",
            path,
        )
    return name


def unknown_kind_message(key: Any) -> str:
    close = difflib.get_close_matches(str(key), KINDS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown matrix kind {key!r}{hint}; the kinds are {', '.join(KINDS)}"


def parse_param(name: str, raw: Any, path: str) -> Param:
    """One matrix entry: ``raw`` is the mapping ``{kind: args}`` at ``path`` (``...matrix.lr``)."""
    check_param_name(name, path)
    if not isinstance(raw, dict) or not raw:
        raise SpecError(
            f"expected a mapping with one kind, e.g. `values: [1, 2]`, got {raw!r}", path
        )
    kinds = [k for k in raw if k in KINDS]
    unknown = [k for k in raw if k not in KINDS]
    if unknown:
        raise SpecError(unknown_kind_message(unknown[0]), f"{path}.{unknown[0]}")
    if len(kinds) > 1:
        raise SpecError(
            f"parameter {name!r} has two kinds, {kinds[0]!r} and {kinds[1]!r}; keep one", path
        )
    kind = kinds[0]
    return KINDS[kind].from_raw(name, f"{path}.{kind}", raw[kind])


def parse_matrix(raw: Any, path: str) -> dict[str, Param]:
    """The whole matrix, in declaration order; it must hold at least one parameter."""
    if raw is None or raw == {}:
        raise SpecError("the matrix is empty: declare at least one parameter", path)
    if not isinstance(raw, dict):
        raise SpecError(f"expected a mapping of parameters, got {raw!r}", path)
    return {name: parse_param(name, entry, f"{path}.{name}") for name, entry in raw.items()}


def param_from_json(name: str, data: dict[str, Any]) -> Param:
    """Rebuild a param from :meth:`Param.to_json` output (the ``values`` key is recomputed)."""
    kind = data.get("kind")
    if kind not in KINDS:
        raise SpecError(unknown_kind_message(kind), f"matrix.{name}")
    path = data.get("path") or f"matrix.{name}.{kind}"
    digits = {"digits": data["digits"]} if data.get("digits") else {}  # absent: made before rounding
    return KINDS[kind](name, path, **digits, **data.get("args", {}))
