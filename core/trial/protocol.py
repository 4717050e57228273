"""The stdout line protocol a trial uses to report metrics, in any language.

A report is one line on stdout that starts with ``@hpo`` followed by either a JSON object or
``key=value`` pairs::

    @hpo step=3 loss=0.25 accuracy=0.91
    @hpo {"step": 3, "loss": 0.25, "accuracy": 0.91}

``step`` is optional (a non-negative integer; by default the report's index, from 1); every
other key is a metric with a number value (``nan``, ``inf`` accepted). Any other line is ordinary
output. A line that starts with ``@hpo`` but cannot be parsed is kept as output and counted as a
protocol error in the trial's record, never silently turned into a metric.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

PREFIX = "@hpo"


@dataclass(frozen=True)
class Report:
    step: int | None
    metrics: dict[str, float | None]


class ProtocolError(ValueError):
    pass


def format_report(step: int | None, metrics: dict[str, float]) -> str:
    """The line :func:`hpo.report` prints."""
    body: dict[str, object] = {} if step is None else {"step": int(step)}
    for k, v in metrics.items():
        if k == "step":
            raise ValueError("'step' is reserved; pass it as hpo.report(step=...)")
        body[k] = _number(k, v)
    return PREFIX + " " + json.dumps(body, allow_nan=True)


def _number(key: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ProtocolError(f"metric {key!r} must be a number, got {value!r}")
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ProtocolError(f"metric {key!r} must be a number, got {value!r}") from None
    return out


def parse_line(line: str) -> Report | None:
    """A :class:`Report` for a protocol line, None for any other line; raises ProtocolError."""
    stripped = line.strip()
    if not stripped.startswith(PREFIX):
        return None
    rest = stripped[len(PREFIX):]
    if rest and not rest[0].isspace():
        return None  # e.g. "@hpolicy": not ours
    rest = rest.strip()
    if rest.startswith("{"):
        try:
            data = json.loads(rest)
        except json.JSONDecodeError as exc:
            raise ProtocolError(f"bad JSON in report line: {exc}") from None
        if not isinstance(data, dict):
            raise ProtocolError("a JSON report must be an object")
    else:
        data = {}
        for token in rest.split():
            key, sep, value = token.partition("=")
            if not sep or not key:
                raise ProtocolError(f"expected key=value, got {token!r}")
            data[key] = value
    step = data.pop("step", None)
    if step is not None:
        try:
            step_f = float(step)
        except (TypeError, ValueError):
            raise ProtocolError(f"step must be an integer, got {step!r}") from None
        if not math.isfinite(step_f) or step_f < 0 or step_f != int(step_f):
            raise ProtocolError(f"step must be a non-negative integer, got {step!r}")
        step = int(step_f)
    if not data:
        raise ProtocolError("a report needs at least one metric")
    return Report(step, {k: _number(k, v) for k, v in data.items()})
