"""Small text formatters shared by every view: numbers, durations, params, times, and
:func:`clean`, which every piece of user text passes before it is printed."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from rich.text import Text

# escape sequences whole (CSI such as colours and cursor moves, OSC such as window titles, and
# two-character ones), then any control character left: a name, a metric or a reason written by
# a trial must never move the cursor, clear the screen or retitle the terminal
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])|\x9b[0-?]*[ -/]*[@-~]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(value: Any, newlines: bool = False) -> str:
    """``value`` as text that is safe to print: escape sequences and control characters removed,
    tabs as spaces, and line breaks as spaces unless ``newlines`` (an output tail keeps them).
    Rich markup is not interpreted here: print it as :class:`~rich.text.Text` (see :func:`safe`)
    or on a console with ``markup=False``."""
    text = _ESCAPES.sub("", str(value)).replace("\r\n", "\n").replace("\t", " ")
    if not newlines:
        text = text.replace("\n", " ").replace("\r", " ")
    return _CONTROLS.sub("", text)


def safe(value: Any, style: str = "") -> Text:
    """User text as a rich :class:`Text`: cleaned, and never read as markup (``[/]`` stays
    ``[/]``)."""
    return Text(clean(value), style=style)


def num(value: Any, digits: int = 4) -> str:
    """A metric or param value, short: ``0.9556``, ``1e-05``, ``12``, ``nan``, ``-``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.{digits}g}"
    return clean(value)


def duration(seconds: float | None) -> str:
    """``0:00:07``, ``1:02:03``, ``2d 03:04:05``; ``-`` when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "-"
    s = int(round(seconds))
    days, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    clock = f"{h}:{m:02d}:{s:02d}"
    return f"{days}d {clock}" if days else clock


def params_text(params: dict[str, Any], limit: int | None = None) -> str:
    """``alpha=1e-05 loss=hinge`` (cut to ``limit`` characters with an ellipsis)."""
    text = " ".join(f"{clean(k)}={num(v)}" for k, v in params.items())
    if limit is not None and len(text) > limit:
        return text[: max(limit - 1, 0)] + "…"
    return text


def metrics_text(metrics: dict[str, Any]) -> str:
    return " ".join(f"{clean(k)}={num(v)}" for k, v in metrics.items())


def local_time(ts: float | None) -> str:
    """A timestamp as local ``YYYY-MM-DD HH:MM:SS`` (what a person reads in a table)."""
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")




def json_ready(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by ``"NaN"``, ``"Infinity"`` or
    ``"-Infinity"``, so that ``json.dumps`` writes valid JSON (its ``NaN`` tokens are not)."""
    if isinstance(value, float):  # numpy's too; JSON has none, so strings as protobuf's JSON writes
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def direction(metric: dict[str, str] | None) -> str:
    """``accuracy ↑`` / ``loss ↓`` for a group's metric, ``-`` without one."""
    if not metric:
        return "-"
    arrow = "↑" if metric.get("optimization", "maximize") == "maximize" else "↓"
    return f"{clean(metric['name'])} {arrow}"
