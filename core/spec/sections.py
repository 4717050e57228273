"""Parsers for the spec's smaller sections: run, runner, metric, early stopping, stopping,
declarations, and the unknown/ignored key check they all share."""

from __future__ import annotations

import difflib
import math
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from hpo.errors import SpecError
from hpo.spec import booleans
from hpo.spec.matrix import check_param_name
from hpo.spec.metric import MetricSpec
from hpo.spec.models import EarlyStoppingEntry, RunnerSpec, RunSpec, StopperSpec
from hpo.spec.secrets import check_env

BUILTIN_NAMES = ("trial_id", "group_id", "trial_dir", "checkpoint_dir")
RUN_KEYS = ("cmd", "timeout", "env", "workdir", "gpus", "max_retries", "retry_on", "backend_wait")
RUN_IGNORED = {
    "image": "set the image in the docker runner's options",
    "build_steps": "hpo does not build images",
    "install": "hpo does not build images",
    "steps": "hpo does not build images",
}
# A backslash followed by blanks and then more text is a line continuation that YAML folded into
# "\ " (plain multi-line scalars join lines with a space); the shell would read it as an escaped
# space glued to the next word. A doubled backslash is left alone.
FOLDED_CONTINUATION = re.compile(r"(?<!\\)\\[ \t]+(?=\S)")
TRAILING_BACKSLASH = re.compile(r"(?<!\\)\\\s*$")


def join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def check_keys(
    mapping: dict[Any, Any],
    path: str,
    known: Any,
    warnings: list[str],
    ignored: dict[str, str] | None = None,
) -> None:
    """Unknown keys are errors (with the closest known key); ignored ones become warnings."""
    ignored = ignored or {}
    for key in mapping:
        if key in known:
            continue
        if key in ignored:
            warnings.append(f"{join(path, key)}: accepted and ignored ({ignored[key]})")
            continue
        choices = [str(k) for k in known] + list(ignored)
        close = difflib.get_close_matches(str(key), choices, n=1) or [
            c for c in choices if c.startswith(str(key)) or str(key).startswith(c)
        ]
        hint = f"; did you mean {close[0]!r}?" if close else ""
        where = f" in {path}" if path else ""
        raise SpecError(
            f"unknown key {key!r}{where}{hint} (known: {', '.join(sorted(map(str, known)))})",
            join(path, key),
        )


def as_mapping(raw: Any, path: str, what: str = "a mapping") -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SpecError(f"expected {what}, got {raw!r}", path)
    return raw


def build_model(model: type[BaseModel], data: dict[str, Any], path: str) -> Any:
    """``model.model_validate(data)``; the first error becomes a SpecError at its YAML path."""
    booleans.check(model, data, path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = path
        for part in err["loc"]:
            where = f"{where}[{part}]" if isinstance(part, int) else join(where, part)
        if err["type"] == "missing":
            raise SpecError("this field is required", where) from None
        raise SpecError(f"{err['msg']} (got {err.get('input')!r})", where) from None


def parse_metric(raw: Any, path: str) -> MetricSpec:
    """``{name, optimization}``; a bare string is the name (optimization: maximize)."""
    if isinstance(raw, str):
        raw = {"name": raw}
    data = as_mapping(raw, path, "a mapping {name: ..., optimization: maximize|minimize}")
    check_keys(data, path, ("name", "optimization"), [])
    return build_model(MetricSpec, data, path)


def parse_early_stopping(raw: Any, path: str) -> list[EarlyStoppingEntry]:
    if not isinstance(raw, list):
        raise SpecError(
            f"expected a list of {{metric, value, optimization}} entries, got {raw!r}", path
        )
    entries = []
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        data = as_mapping(item, where, "a mapping {metric, value, optimization}")
        check_keys(data, where, ("metric", "value", "optimization"), [])
        entries.append(build_model(EarlyStoppingEntry, data, where))
    return entries


def parse_stoppers(raw: Any, path: str) -> list[StopperSpec]:
    if not isinstance(raw, list):
        raise SpecError(f"expected a list of {{kind: NAME, ...options}} entries, got {raw!r}", path)
    stoppers = []
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        data = dict(as_mapping(item, where, "a mapping {kind: NAME, ...options}"))
        kind = data.pop("kind", None)
        if not isinstance(kind, str) or not kind:
            raise SpecError(f"each stopping entry needs `kind: NAME`, got {item!r}", where)
        check_json_value(data, where)
        stoppers.append(StopperSpec(kind=kind, options=data, path=where))
    return stoppers


def parse_runner(raw: Any, path: str) -> RunnerSpec:
    """``runner: NAME`` or ``runner: {kind: NAME, ...options}`` (kind defaults to local)."""
    if isinstance(raw, str):
        return RunnerSpec(kind=raw, path=path)
    data = dict(as_mapping(raw, path, "a runner name or a mapping {kind: NAME, ...options}"))
    kind = data.pop("kind", "local")
    if not isinstance(kind, str) or not kind:
        raise SpecError(f"expected a runner name, got {kind!r}", join(path, "kind"))
    check_json_value(data, path)
    return RunnerSpec(kind=kind, options=data, path=path)


def check_json_value(value: Any, path: str) -> None:
    """Declarations reach templates and the trial's JSON env: plain JSON data only."""
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SpecError(f"{value!r} is not a finite number", path)
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            check_json_value(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise SpecError(f"mapping keys must be strings, got {key!r}", path)
            check_json_value(item, join(path, key))
        return
    raise SpecError(
        f"unsupported value {value!r} ({type(value).__name__}); quote it to make it a string", path
    )


def parse_declarations(raw: Any, path: str) -> dict[str, Any]:
    data = as_mapping(raw, path, "a mapping of constant params")
    for name, value in data.items():
        check_param_name(name, join(path, name))
        check_json_value(value, join(path, name))
    return dict(data)


def normalise_cmd(raw: Any, path: str) -> str:
    """A string, or a list of strings joined with `` && `` (stop at the first failing step)."""
    if isinstance(raw, dict):
        if {"if", "cond", "do"} & set(raw):
            raise SpecError(
                "conditional commands (if/cond/do/else_do) are not supported; write the "
                "condition in the shell instead, e.g. `if [ {{ model }} = DNA ]; then ...; fi`",
                path,
            )
        raise SpecError(f"expected a command string or a list of strings, got {raw!r}", path)
    if isinstance(raw, list):
        if not raw or not all(isinstance(c, str) and c.strip() for c in raw):
            raise SpecError(f"expected a list of non-empty command strings, got {raw!r}", path)
        steps = [normalise_cmd(c, path) for c in raw]
        return " && ".join(steps)
    if not isinstance(raw, str) or not raw.strip():
        raise SpecError(f"expected a non-empty command string, got {raw!r}", path)
    cmd = FOLDED_CONTINUATION.sub(" ", raw.strip())
    return TRAILING_BACKSLASH.sub("", cmd).strip()


def parse_run(raw: Any, path: str, warnings: list[str]) -> RunSpec:
    data = as_mapping(raw, path, "a mapping {cmd: ..., timeout: ..., env: ...}")
    check_keys(data, path, RUN_KEYS, warnings, RUN_IGNORED)
    if data.get("cmd") is None:
        raise SpecError(
            "missing run command: every group needs `run: {cmd: ...}`", join(path, "cmd")
        )
    fields = {k: data[k] for k in RUN_KEYS if k in data and data[k] is not None}
    fields["cmd"] = normalise_cmd(data["cmd"], join(path, "cmd"))
    check_env(fields.get("env"), join(path, "env"), warnings)
    return build_model(RunSpec, fields, path)
