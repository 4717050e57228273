"""Secrets in a spec: ``run.env`` values taken from the engine's environment by reference, and
the one function that masks secret values wherever hpo records or shows text.

``run.env: {API_KEY: {from_env: API_KEY}}`` stores the reference in the log, never the value: the
engine resolves it when it launches a trial (:meth:`hpo.engine.attempts.LaunchPlanner.launch`),
and masks the value in the output tails and reasons it records, so a trial that echoes it does
not put it in the log. A literal value under a name with a secret-looking ``_``-separated token
(TOKEN, KEY, PASSWORD, SECRET: ``API_KEY`` yes, ``MONKEY`` no) is a validation warning that
suggests the reference, and is masked in ``hpo events``, ``export``, ``report`` and ``status``.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any, Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field

from hpo.errors import SpecError
from hpo.trial import ATTEMPT_TOKEN_ENV

SECRET_TOKENS = frozenset({"TOKEN", "KEY", "PASSWORD", "SECRET"})
MASK = "***"
MIN_LENGTH = 3  # shorter values are never masked: hiding every "1" would hide everything else
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class EnvRef(BaseModel):
    """``{from_env: NAME}``: the value of the engine's environment variable NAME, at launch."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    from_env: str = Field(pattern=ENV_NAME.pattern)


def is_secret_name(name: str) -> bool:
    """Whether a variable name has a secret-looking ``_``-separated token (``API_KEY``, not ``MONKEY``)."""
    return any(token in SECRET_TOKENS for token in name.upper().split("_"))


def check_env(raw: Any, path: str, warnings: list[str]) -> None:
    """Check ``run.env``'s references (SpecError naming the field) and warn about literal secrets."""
    if not isinstance(raw, dict):
        return  # the model names what is wrong with it
    for name, value in raw.items():
        where = f"{path}.{name}"
        if not isinstance(name, str) or not name or "=" in name:
            raise SpecError(f"expected an environment variable's name (not empty, no '='), got {name!r}",
                            where)
        if name == ATTEMPT_TOKEN_ENV:
            raise SpecError(
                f"{ATTEMPT_TOKEN_ENV} is set by the engine for each attempt (the marker by which what a "
                "trial leaves running is found and killed when it ends); remove it from run.env", where)
        if isinstance(value, dict):
            ref = value.get("from_env")
            if set(value) != {"from_env"} or not isinstance(ref, str) or not ENV_NAME.match(ref):
                raise SpecError(
                    f"expected a text value or a reference {{from_env: NAME}} (NAME: an environment "
                    f"variable's name, letters, digits and _), got {value!r}", where)
        elif is_secret_name(str(name)) and value not in (None, ""):
            warnings.append(
                f"{where}: a literal value under a secret-looking name is stored in the log (the "
                f"spec and its source) and masked only in what hpo shows; pass it from the engine's "
                f"environment instead: `{name}: {{from_env: {name}}}`")


def resolve(env: Mapping[str, Any], environ: Mapping[str, str], path: str = "run.env") -> dict[str, str]:
    """``env`` with each reference replaced by the value in ``environ``; a variable that is not
    set is a SpecError naming the field and the variable."""
    out = {}
    for name, value in env.items():
        ref = value.from_env if isinstance(value, EnvRef) else None
        if ref is None:
            out[name] = value
        elif ref in environ:
            out[name] = environ[ref]
        else:
            raise SpecError(f"refers to the environment variable {ref}, which is not set where the "
                            f"engine runs: export it before `hpo run` or `hpo resume`", f"{path}.{name}")
    return out


def literal_secrets(spec: Mapping[str, Any]) -> set[str]:
    """The literal ``run.env`` values under secret-looking names of a normalised spec (JSON)."""
    env = (spec.get("run") or {}).get("env") or {}
    return {v for k, v in env.items() if isinstance(v, str) and is_secret_name(k)}


def mask(value: Any, secrets: Iterable[str]) -> Any:
    """``value`` (text, or JSON data: dicts and lists of it) with every secret replaced by ``***``,
    also where it appears HTML- or JSON-escaped."""
    forms = sorted({f for s in secrets if len(s) >= MIN_LENGTH
                    for f in (s, html.escape(s), json.dumps(s)[1:-1])}, key=len, reverse=True)
    return _mask(value, forms) if forms else value


def mask_cut(text: str, secrets: Iterable[str]) -> str:
    """:func:`mask` for text hpo cut out of a trial's output (an output tail starts 4,000 bytes
    before the end, a rejected report line is kept to its first 200 characters, a quoted token to
    80 and ``...``): also the end of a secret that opens a line, and the start of one that ends a
    line or comes before ``...``, so a cut through a secret leaves no part of it."""
    text = mask(text, secrets)
    for secret in {s for s in secrets if len(s) > MIN_LENGTH}:
        parts = range(len(secret) - 1, MIN_LENGTH - 1, -1)  # longest first
        ends = "|".join(re.escape(secret[-k:]) for k in parts)
        starts = "|".join(re.escape(secret[:k]) for k in parts)
        text = re.sub(rf"^(?:{ends})|(?:{starts})(?=\.\.\.|$)", MASK, text, flags=re.M)
    return text


def _mask(value: Any, forms: list[str]) -> Any:
    if isinstance(value, str):
        for form in forms:
            value = value.replace(form, MASK)
        return value
    if isinstance(value, dict):
        return {k: _mask(v, forms) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask(v, forms) for v in value]
    return value
