"""Booleans are not numbers: ``timeout: true`` is a mistake, not one second.

pydantic's lax mode reads ``True`` as ``1`` wherever an ``int`` or a ``float`` is expected, so
``n_experiments: true`` or ``run.gpus: true`` would pass as 1. :func:`check` finds such a value
in the data a model is about to validate (nested models included) and names its YAML path; the
spec's sections (:func:`hpo.spec.sections.build_model`) and every plugin's options
(:func:`hpo.contracts.options.parse_options`) call it first.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from hpo.errors import SpecError

NUMBERS = (int, float)


def check(model: type[BaseModel], data: Any, path: str) -> None:
    """Raise :class:`SpecError` at the first field of ``model`` that expects a number (and not
    a boolean) but holds ``true`` or ``false`` in ``data``."""
    if not isinstance(data, dict):
        return
    for name, field in model.model_fields.items():
        key = field.alias if field.alias is not None and field.alias in data else name
        if key not in data:
            continue
        value, where = data[key], f"{path}.{key}" if path else str(key)
        kinds = _kinds(field.annotation)
        if isinstance(value, bool) and bool not in kinds and kinds & set(NUMBERS) and not kinds - {
                *NUMBERS, type(None)}:
            raise SpecError(f"expected a number, got a boolean ({str(value).lower()})", where)
        for nested in kinds:
            if isinstance(nested, type) and issubclass(nested, BaseModel):
                check(nested, value, where)


def _kinds(annotation: Any) -> set:
    """The types an annotation accepts, through ``Optional``, unions and ``Annotated``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _kinds(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return set().union(*(_kinds(a) for a in get_args(annotation)))
    return {annotation}
