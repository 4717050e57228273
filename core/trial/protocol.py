r"""The stdout line protocol a trial uses to report metrics, in any language.

A report is one line on stdout that starts with ``@hpo`` followed by either a JSON object or
``key=value`` pairs::

    @hpo step=3 loss=0.25 accuracy=0.91
    @hpo {"step": 3, "loss": 0.25, "accuracy": 0.91}

``step`` is optional (a non-negative integer; by default the report's index, from 1); every
other key is a metric with a number value (``nan``, ``inf`` accepted). Any other line is ordinary
output. A line that starts with ``@hpo`` but cannot be parsed is kept as output and counted as a
protocol error in the trial's record, never silently turned into a metric.

The parser takes any text a trial prints and either returns a report or raises
:class:`ProtocolError`; nothing else escapes it. It is strict where leniency would surprise:
numbers are ASCII decimals (``[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?``) or nan/inf in any
case (not ``1_000``, not ``٣``); a metric name is 1 to :data:`MAX_NAME` printable ASCII
characters; a line holds at most :data:`MAX_METRICS` metrics in :data:`MAX_LINE` characters; a
step fits SQLite's integers.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from dataclasses import dataclass

PREFIX = "@hpo"
MAX_LINE = 65_536  # characters of one report line
MAX_METRICS = 100  # metrics in one report
MAX_NAME = 100  # characters of a metric name
MAX_STEP = 2**63 - 1  # the largest integer SQLite stores
MAX_DIGITS = 40  # digits of a JSON integer (a float has 17 significant ones)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:nan|inf|infinity)", re.I | re.A)
_NAME = re.compile(r"[!-~]+")  # printable ASCII, no space
_INTEGER = re.compile(r"\+?\d{1,%d}" % MAX_DIGITS, re.A)  # a step read exactly, not as a float


@dataclass(frozen=True)
class Report:
    step: int | None
    metrics: dict[str, float | None]


class ProtocolError(ValueError):
    pass


def format_report(step: int | None, metrics: dict[str, float]) -> str:
    """The line :func:`hpo.report` prints."""
    body: dict[str, object] = {} if step is None else {"step": report_step(step)}
    for k, v in metrics.items():
        if k == "step":
            raise ValueError("'step' is reserved; pass it as hpo.report(step=...)")
        body[k] = _number(k, v)
    return PREFIX + " " + json.dumps(body, allow_nan=True)


def report_step(step: object) -> int | None:
    """``step`` as a report carries it: None, or a non-negative integer (``3``, ``3.0``, a numpy
    integer); anything else raises :class:`ProtocolError` (``int()`` would turn 1.5 into 1)."""
    if step is None:
        return None
    if isinstance(step, bool):
        raise ProtocolError(f"step must be a non-negative integer, got {step!r}")
    if isinstance(step, numbers.Integral):
        step = int(step)
    elif isinstance(step, numbers.Real):
        step = float(step)
    return _step(step)


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
    if len(stripped) > MAX_LINE:
        raise ProtocolError(f"a report line is at most {MAX_LINE:,} characters, got {len(stripped):,}")
    rest = rest.strip()
    data = _json_fields(rest) if rest.startswith("{") else _pairs(rest)
    step = _step(data.pop("step")) if "step" in data else None
    if not data:
        raise ProtocolError("a report needs at least one metric")
    if len(data) > MAX_METRICS:
        raise ProtocolError(f"a report holds at most {MAX_METRICS} metrics, got {len(data):,}")
    return Report(step, {_name(k): _strict_number(k, v) for k, v in data.items()})


def _json_fields(text: str) -> dict[str, object]:
    try:
        data = json.loads(text, parse_int=_json_int)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise ProtocolError(f"bad JSON in report line: {_clip(str(exc))}") from None
    if not isinstance(data, dict):
        raise ProtocolError("a JSON report must be an object")
    return data


def _json_int(digits: str) -> int:
    if len(digits.lstrip("+-")) > MAX_DIGITS:
        raise ValueError(f"an integer of {len(digits):,} digits")
    return int(digits)


def _pairs(text: str) -> dict[str, object]:
    data: dict[str, object] = {}
    for token in text.split():
        key, sep, value = token.partition("=")
        if not sep or not key:
            raise ProtocolError(f"expected key=value, got {_clip(token)!r}")
        data[key] = value
    return data


def _name(key: str) -> str:
    if not 0 < len(key) <= MAX_NAME or not _NAME.fullmatch(key):
        raise ProtocolError(f"a metric name is 1 to {MAX_NAME} printable ASCII characters without "
                            f"spaces, got {_clip(key)!r}")
    return key


def _strict_number(key: str, value: object) -> float | None:
    if value is None or isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):  # a JSON integer
        return float(value)
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return float(value)
    raise ProtocolError(f"metric {_clip(key)!r} must be a number, got {_clip(repr(value))}")


def _step(value: object) -> int:
    if (isinstance(value, int) and not isinstance(value, bool) and value >= 0) or (
            isinstance(value, str) and _INTEGER.fullmatch(value)):
        number: float | int | None = int(value)  # exactly: a float rounds integers above 2**53
    else:
        try:
            number = _strict_number("step", value)
        except ProtocolError:
            number = None
        if number is None or not math.isfinite(number) or number < 0 or number != int(number):
            raise ProtocolError(f"step must be a non-negative integer, got {_clip(repr(value))}")
    if number > MAX_STEP:
        raise ProtocolError(f"step must be at most {MAX_STEP} (2**63 - 1), got {_clip(repr(value))}")
    return int(number)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
