"""Hand-made SVG charts for the HTML report: no library, no script, no network.

:class:`Chart` draws axes with ticks and a legend, and series of points (markers, lines, step
lines) or segments; :func:`parallel_svg` draws parallel coordinates. Every series is a
``<g class="series" data-name=... data-points=N>`` and every marker a ``<circle>`` with a
``<title>`` (the browser shows it on hover), so the report can be checked by reading it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
import html
from typing import Sequence

from hpo.views.fmt import clean
from hpo.views.series import Parallel

PALETTE = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22")
FONT = "font-family:system-ui,sans-serif;font-size:11px"


def escape(value: object) -> str:
    """User text for SVG: control characters and escape sequences removed, then escaped."""
    return html.escape(clean(value))


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2, 5 times a power of ten apart)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi == lo:
        return [lo]
    raw = (hi - lo) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks, x = [], first
    while x <= hi + step * 1e-9:
        ticks.append(round(x, 12))
        x += step
    return ticks


def fmt_tick(v: float) -> str:
    return f"{v:.4g}"


@dataclass
class Series:
    name: str
    points: list[tuple[float, float, str]]  # x, y, hover text
    color: str
    mode: str = "markers"  # markers | line | steps | segments (points taken two by two)
    width: float = 1.5


@dataclass
class Chart:
    title: str
    x_label: str = ""
    y_label: str = ""
    width: int = 720
    height: int = 360
    log_x: bool = False
    series: list[Series] = field(default_factory=list)
    margin: tuple[int, int, int, int] = (34, 20, 44, 64)  # top, right, bottom, left

    def add(self, name: str, points: Sequence[tuple[float, float, str]], mode: str = "markers",
            color: str | None = None, width: float = 1.5) -> None:
        color = color or PALETTE[len(self.series) % len(PALETTE)]
        self.series.append(Series(name, list(points), color, mode, width))

    # -- scales ----------------------------------------------------------------------------

    def _x(self, v: float) -> float:
        return math.log10(v) if self.log_x else v

    def _bounds(self) -> tuple[float, float, float, float]:
        xs = [self._x(p[0]) for s in self.series for p in s.points if not self.log_x or p[0] > 0]
        ys = [p[1] for s in self.series for p in s.points]
        if not xs or not ys:
            return 0.0, 1.0, 0.0, 1.0
        x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
        if x0 == x1:
            x0, x1 = x0 - 1, x1 + 1
        if y0 == y1:
            y0, y1 = y0 - abs(y0) * 0.05 - 0.5, y1 + abs(y1) * 0.05 + 0.5
        pad = (y1 - y0) * 0.05
        return x0, x1, y0 - pad, y1 + pad

    def render(self) -> str:
        top, right, bottom, left = self.margin
        w, h = self.width - left - right, self.height - top - bottom
        x0, x1, y0, y1 = self._bounds()

        def px(v: float) -> float:
            return left + (self._x(v) - x0) / (x1 - x0) * w

        def py(v: float) -> float:
            return top + h - (v - y0) / (y1 - y0) * h

        out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{self.width}" '
               f'height="{self.height}" viewBox="0 0 {self.width} {self.height}" style="{FONT}">',
               f'<text x="{left}" y="18" style="font-size:13px;font-weight:600">{escape(self.title)}</text>',
               f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="#fafafa" stroke="#ccc"/>']
        out += self._ticks(px, py, x0, x1, y0, y1, left, top, w, h)
        for s in self.series:
            out.append(self._series(s, px, py))
        out += self._legend(left + w, top)
        out.append("</svg>")
        return "\n".join(out)

    def _ticks(self, px, py, x0, x1, y0, y1, left, top, w, h) -> list[str]:
        out = []
        if self.log_x:
            xt = [10 ** e for e in range(math.floor(x0), math.ceil(x1) + 1) if x0 <= e <= x1]
        else:
            xt = nice_ticks(x0, x1, max(min(int(w / 80), 10), 2))
        for v in xt:
            x = px(v)
            out.append(f'<line x1="{x:.1f}" y1="{top + h}" x2="{x:.1f}" y2="{top + h + 4}" stroke="#666"/>'
                       f'<text x="{x:.1f}" y="{top + h + 16}" text-anchor="middle">{fmt_tick(v)}</text>')
        for v in nice_ticks(y0, y1, max(min(int(h / 50), 8), 2)):
            y = py(v)
            out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + w}" y2="{y:.1f}" stroke="#eee"/>'
                       f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt_tick(v)}</text>')
        out.append(f'<text x="{left + w / 2}" y="{self.height - 8}" text-anchor="middle">'
                   f'{escape(self.x_label)}</text>')
        out.append(f'<text transform="translate(14,{top + h / 2}) rotate(-90)" text-anchor="middle">'
                   f'{escape(self.y_label)}</text>')
        return out

    def _series(self, s: Series, px, py) -> str:
        pts = [(px(x), py(y), text) for x, y, text in s.points if not self.log_x or x > 0]
        body: list[str] = []
        if s.mode in ("line", "steps") and len(pts) > 1:
            coords = []
            for i, (x, y, _) in enumerate(pts):
                if s.mode == "steps" and i:
                    coords.append(f"{x:.1f},{pts[i - 1][1]:.1f}")
                coords.append(f"{x:.1f},{y:.1f}")
            body.append(f'<polyline fill="none" stroke="{s.color}" stroke-width="{s.width}" '
                        f'points="{" ".join(coords)}"/>')
        if s.mode == "segments":
            for (xa, ya, _), (xb, yb, _) in zip(pts[::2], pts[1::2]):
                body.append(f'<line x1="{xa:.1f}" y1="{ya:.1f}" x2="{xb:.1f}" y2="{yb:.1f}" '
                            f'stroke="{s.color}" stroke-width="{s.width}" opacity="0.6"/>')
        else:
            radius = 3.5 if s.mode == "markers" else 2.2
            for x, y, text in pts:
                body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{s.color}">'
                            f'<title>{escape(text)}</title></circle>')
        n = len(pts) // 2 if s.mode == "segments" else len(pts)
        return (f'<g class="series" data-name="{escape(s.name)}" data-points="{n}">'
                + "".join(body) + "</g>")

    def _legend(self, right_x: float, top: int) -> list[str]:
        named = [s for s in self.series if s.name and not s.name.startswith("_")]
        out, y = [], top + 12
        for s in named:
            label = escape(s.name)
            x = right_x - 8 - 7 * len(s.name)
            out.append(f'<rect x="{x - 14}" y="{y - 8}" width="10" height="10" fill="{s.color}"/>'
                       f'<text x="{x}" y="{y + 1}">{label}</text>')
            y += 15
        return out


def _color_ramp(fraction: float) -> str:
    """Red (worst) through yellow to green (best)."""
    f = min(max(fraction, 0.0), 1.0)
    r = int(215 - 170 * f)
    g = int(48 + 130 * f)
    return f"#{r:02x}{g:02x}40"


def parallel_svg(data: Parallel, title: str, best_high: bool, width: int = 900,
                 height: int = 380) -> str:
    """Parallel coordinates: one vertical axis per param and the metric, one line per trial,
    coloured from red (worst) to green (best)."""
    top, bottom, side = 40, 40, 70
    n = len(data.axes)
    h = height - top - bottom
    gap = (width - 2 * side) / max(n - 1, 1)
    xs = [side + i * gap for i in range(n)]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" style="{FONT}">',
           f'<text x="{side}" y="18" style="font-size:13px;font-weight:600">{escape(title)}</text>']
    values = [ln.value for ln in data.lines]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    lines = sorted(data.lines, key=lambda ln: ln.value if best_high else -ln.value)  # best on top
    body = []
    for ln in lines:
        frac = 0.5 if hi == lo else (ln.value - lo) / (hi - lo)
        frac = frac if best_high else 1 - frac
        coords = " ".join(f"{x:.1f},{top + h - p * h:.1f}" for x, p in zip(xs, ln.points) if p is not None)
        body.append(f'<polyline fill="none" stroke="{_color_ramp(frac)}" stroke-width="1.4" '
                    f'opacity="0.8" points="{coords}"><title>trial {ln.trial}: {ln.value:.6g}</title></polyline>')
    out.append(f'<g class="series" data-name="trials" data-points="{len(lines)}">' + "".join(body) + "</g>")
    for x, axis in zip(xs, data.axes):
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + h}" stroke="#333"/>')
        out.append(f'<text x="{x:.1f}" y="{top - 8}" text-anchor="middle" style="font-weight:600">'
                   f'{escape(axis.name)}</text>')
        fractions = ([i / max(len(axis.categories) - 1, 1) for i in range(len(axis.categories))]
                     if axis.kind == "category" else [0, 0.25, 0.5, 0.75, 1])
        if axis.kind == "category" and len(axis.categories) == 1:
            fractions = [0.5]
        for f in fractions:
            y = top + h - f * h
            label = axis.categories[0] if axis.kind == "category" and len(axis.categories) == 1 else axis.label(f)
            out.append(f'<text x="{x + 4:.1f}" y="{y + 4:.1f}" style="fill:#555">{escape(label)}</text>')
        if axis.kind == "log":
            out.append(f'<text x="{x:.1f}" y="{top + h + 16}" text-anchor="middle" style="fill:#777">log</text>')
    out.append("</svg>")
    return "\n".join(out)
