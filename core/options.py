"""Validate a plugin's options block with its pydantic model, naming the YAML path on error."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from hpo.errors import SpecError


def parse_options(model: type[BaseModel], options: dict[str, Any] | None, path: str) -> BaseModel:
    """``model.model_validate(options)``; a failure becomes a SpecError at ``path.<field>``."""
    if options is not None and not isinstance(options, dict):
        raise SpecError(f"expected a mapping of options, got {options!r}", path)
    try:
        return model.model_validate(options or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        where = f"{path}.{loc}" if loc else path
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            known = ", ".join(model.model_fields)
            msg = f"unknown option {loc!r} (known options: {known})"
        elif err["type"] == "missing":
            msg = "this field is required"
        else:
            msg = f"{msg} (got {err.get('input')!r})"
        raise SpecError(msg, where) from None
