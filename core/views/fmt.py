"""Small text formatters shared by every view: numbers, durations, params, times."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any


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
    return str(value)


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
    text = " ".join(f"{k}={num(v)}" for k, v in params.items())
    if limit is not None and len(text) > limit:
        return text[: max(limit - 1, 0)] + "…"
    return text


def metrics_text(metrics: dict[str, Any]) -> str:
    return " ".join(f"{k}={num(v)}" for k, v in metrics.items())


def local_time(ts: float | None) -> str:
    """A timestamp as local ``YYYY-MM-DD HH:MM:SS`` (what a person reads in a table)."""
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def direction(metric: dict[str, str] | None) -> str:
    """``accuracy ↑`` / ``loss ↓`` for a group's metric, ``-`` without one."""
    if not metric:
        return "-"
    arrow = "↑" if metric.get("optimization", "maximize") == "maximize" else "↓"
    return f"{metric['name']} {arrow}"
