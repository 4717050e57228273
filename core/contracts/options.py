"""Validate a plugin's options block with its pydantic model, naming the YAML path on error."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from hpo.errors import SpecError
from hpo.spec import booleans


def parse_options(model: type[BaseModel], options: dict[str, Any] | None, path: str) -> BaseModel:
    """``model.model_validate(options)``; a failure becomes a SpecError at ``path.<field>``."""
    if options is not None and not isinstance(options, dict):
        raise SpecError(f"expected a mapping of options, got {options!r}", path)
    booleans.check(model, options, path)
    try:
        return model.model_validate(options or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        where = f"{path}.{loc}" if loc else path
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            owner = _model_at(model, err["loc"][:-1])
            known = ", ".join(owner.model_fields) if owner is not None else "see the plugin's docs"
            msg = f"unknown option {str(err['loc'][-1])!r} (known options: {known})"
        elif err["type"] == "missing":
            msg = "this field is required"
        else:
            msg = f"{msg} (got {err.get('input')!r})"
        raise SpecError(msg, where) from None


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The (nested) model that holds the field at ``loc``, following sub-model annotations."""
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        nested = [a for a in (field.annotation, *get_args(field.annotation))
                  if isinstance(a, type) and issubclass(a, BaseModel)]
        if not nested:
            return None
        model = nested[0]
    return model
