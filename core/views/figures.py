"""The group's charts drawn with matplotlib: embedded as SVG in ``hpo report`` and written as
files by ``hpo plot GROUP --kind K --out fig.png|svg|pdf`` (for papers and slides).

Every figure is built on its own :class:`~matplotlib.figure.Figure` (no pyplot, no global state)
from the series in :mod:`hpo.views.series`, so the report, the files and ``hpo plot --json``
show the same data. Legends sit outside the axes, never over points; the parallel coordinates
colour each trial by its metric with a colour bar that says which end is best, and label params
and the metric apart. The artists carry ids (``gid``) that the SVG keeps, so the report can be
checked by reading it.
"""

from __future__ import annotations

import io
import math
import re
from typing import Any

from hpo.eventlog.state import GroupState
from hpo.views import series
from hpo.views.fmt import clean as _clean, direction
from hpo.views.termplot import NothingToPlot

KINDS = ("history", "parallel", "curves", "brackets", "importance")
WIDTH, HEIGHT = 11.0, 4.4  # inches: a report column, and a slide
RC = {"svg.fonttype": "none", "svg.hashsalt": "hpo", "font.size": 10, "axes.titlesize": 11,
      "axes.spines.top": False, "axes.spines.right": False}


def clean(text: Any) -> str:
    """User text for a label: cleaned, and a ``$`` kept as a dollar (matplotlib reads ``$...$``
    as mathematics, and a malformed one would fail the whole figure)."""
    return _clean(text).replace("$", r"\$")


def _figure(height: float = HEIGHT) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(WIDTH, height), layout="constrained")


def _need_metric(state: GroupState, kind: str) -> str:
    if state.metric_name is None:
        raise NothingToPlot(f"group {clean(state.name)} has no metric, and the {kind} chart is about it")
    return state.metric_name


def _integers() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _legend_outside(ax: Any) -> None:
    """The legend right of the axes: it never hides a point."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9)


def history(state: GroupState, **_: Any) -> Any:
    metric = _need_metric(state, "history")
    points = series.history(state)
    if not points:
        raise NothingToPlot(f"group {clean(state.name)} has no ranked trial with a value of {clean(metric)} yet")
    fig = _figure()
    ax = fig.add_subplot()
    x = [p.trial for p in points]
    ax.plot(x, [p.value for p in points], "o", color="#4c78a8", alpha=0.8, label=f"{clean(metric)} of each trial",
            gid="history-values")
    ax.plot(x, [p.best for p in points], drawstyle="steps-post", color="#2ca02c", linewidth=2,
            label="best so far", gid="history-best")
    ax.set_xlabel("trial")
    ax.xaxis.set_major_locator(_integers())
    ax.set_ylabel(clean(direction(state.metric)))
    ax.set_title(f"optimization history: {len(points)} trials")
    _legend_outside(ax)
    return fig


def parallel(state: GroupState, **_: Any) -> Any:
    """One vertical axis per param and one for the metric; one line per ranked trial, coloured
    by its metric (a colour bar with the metric's values; the best end is yellow)."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize
    from matplotlib.cm import ScalarMappable

    metric = _need_metric(state, "parallel coordinates")
    data = series.parallel(state)
    if not data.lines:
        raise NothingToPlot(f"group {clean(state.name)} has no ranked trial with a value yet")
    maximize = (state.metric or {}).get("optimization", "maximize") == "maximize"
    values = [ln.value for ln in data.lines if math.isfinite(ln.value)] or [0.0]  # no colour for an infinity
    norm = Normalize(min(values), max(values) if max(values) > min(values) else min(values) + 1)
    cmap = colormaps["viridis" if maximize else "viridis_r"]
    fig = _figure(HEIGHT + 0.6)
    ax = fig.add_subplot()
    xs = list(range(len(data.axes)))
    order = sorted(data.lines, key=lambda ln: ln.value if maximize else -ln.value)  # best drawn last
    for ln in order:
        pts = [(x, y) for x, y in zip(xs, ln.points) if y is not None]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], color=cmap(norm(ln.value)), linewidth=1.2,
                alpha=0.85, gid=f"trial-{ln.trial}")
    for x, axis in zip(xs, data.axes):
        ax.axvline(x, color="#444", linewidth=0.8, zorder=3)
        for frac, label in _ticks(axis):
            ax.text(x - 0.03, frac, label, ha="right", va="center", fontsize=8, zorder=4,
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1})
    ax.set_xticks(xs, [f"param\n{clean(a.name)}" for a in data.axes[:-1]]
                  + [f"metric\n{clean(direction(state.metric))}"])
    ax.get_xticklabels()[-1].set_fontweight("bold")
    ax.set_yticks([])
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlim(-0.6, len(xs) - 0.8)
    ax.spines["left"].set_visible(False)
    ax.set_title(f"parallel coordinates: {len(data.lines)} trials, coloured by {clean(metric)}")
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.01, fraction=0.03)
    bar.set_label(f"{clean(metric)} ({'higher' if maximize else 'lower'} is better: yellow)")
    return fig


def _ticks(axis: series.Axis) -> list[tuple[float, str]]:
    """Where an axis of the parallel coordinates is labelled: every category (at most 8), else
    five values from low to high in the param's own scale."""
    if axis.kind == "category":
        n = len(axis.categories)
        step = max(1, math.ceil(n / 8))
        return [(0.5 if n == 1 else i / (n - 1), _short(c)) for i, c in enumerate(axis.categories)][::step]
    if axis.low == axis.high:
        return [(0.5, axis.label(0))]
    return [(f, axis.label(f)) for f in (0.0, 0.25, 0.5, 0.75, 1.0)]


def _short(label: str) -> str:
    """A category's tick label: a number in 4 significant digits, else at most 16 characters."""
    try:
        return f"{float(label):.4g}"
    except ValueError:
        return clean(label)[:16]


def curves(state: GroupState, metric: str | None = None, top: int | None = None, **_: Any) -> Any:
    metric = metric or _need_metric(state, "curves")
    data = series.curves(state, metric, top=top)
    if not data:
        raise NothingToPlot(f"group {clean(state.name)} has no report of {clean(metric)} yet")
    best = state.best()
    best_id = best.trial_id if best is not None and metric == state.metric_name else None
    fig = _figure()
    ax = fig.add_subplot()
    others = False
    for trial, points in data.items():
        steps, values = zip(*points)
        if trial == best_id:
            continue
        ax.plot(steps, values, color="#9aa9bf", linewidth=1, alpha=0.8, gid=f"curve-{trial}",
                label=None if others else "other trials")
        others = True
    if best_id in data:
        steps, values = zip(*data[best_id])
        ax.plot(steps, values, color="black", linewidth=2.4, gid=f"curve-{best_id}", label=f"trial {best_id} (best)")
    ax.set_xlabel("step")
    ax.xaxis.set_major_locator(_integers())
    ax.set_ylabel(clean(metric))
    ax.set_title(f"{clean(metric)} by step: {len(data)} trials")
    _legend_outside(ax)
    return fig


def brackets(state: GroupState, **_: Any) -> Any:
    metric = _need_metric(state, "brackets")
    points = [p for p in series.brackets(state) if p.value is not None]
    if not points:
        raise NothingToPlot(f"group {clean(state.name)} has no hyperband trial with a value "
                            "(only hyperband groups have brackets)")
    from matplotlib.collections import LineCollection

    fig = _figure()
    ax = fig.add_subplot()
    by_id = {p.trial: p for p in points}
    segments = [[(by_id[p.parent].resource, by_id[p.parent].value), (p.resource, p.value)]
                for p in points if p.parent is not None and p.parent in by_id]
    if segments:
        ax.add_collection(LineCollection(segments, colors="#999", linewidths=1, gid="promotions",
                                         label="promotion"))
    for b in sorted({p.bracket for p in points}, reverse=True):
        mine = [p for p in points if p.bracket == b]
        ax.plot([p.resource for p in mine], [p.value for p in mine], "o", alpha=0.85,
                label=f"bracket {b}", gid=f"bracket-{b}")
    resources = [p.resource for p in points]
    if min(resources) > 0 and max(resources) / min(resources) >= 20:
        ax.set_xscale("log")
    ax.set_xlabel("resource")
    ax.set_ylabel(clean(direction(state.metric)))
    ax.set_title(f"hyperband: {clean(metric)} by resource, one colour per bracket")
    _legend_outside(ax)
    return fig


def importance(state: GroupState, metric: str | None = None, **_: Any) -> Any:
    from hpo.views.importance import ImportanceError, importances

    try:
        imp = importances(state, metric)
    except ImportanceError as exc:
        raise NothingToPlot(str(exc)) from None
    fig = _figure(max(1.6, 0.45 * len(imp.params) + 1.0))
    ax = fig.add_subplot()
    names = [clean(p.name) for p in imp.params][::-1]
    ax.barh(names, [100 * p.share for p in imp.params][::-1], color="#4c78a8", gid="importance")
    ax.set_xlabel("share of what explains the metric (%)")
    fit = "n/a" if imp.r2 is None else f"{imp.r2:.2f}"
    ax.set_title(f"what explains {clean(imp.metric)} (random forest on {imp.trials} trials, out-of-bag R² {fit})")
    return fig


def figure(kind: str, state: GroupState, metric: str | None = None, top: int | None = None) -> Any:
    """The figure of one kind; :class:`NothingToPlot` when the group has no data for it."""
    from matplotlib import rc_context

    with rc_context(RC):
        return {"history": history, "parallel": parallel, "curves": curves, "brackets": brackets,
                "importance": importance}[kind](state, metric=metric, top=top)


def save(fig: Any, path: Any) -> None:
    """Write a figure to ``path``; the format is its extension (png, svg, pdf)."""
    from matplotlib import rc_context

    with rc_context(RC):
        fig.savefig(path, dpi=150, metadata=_metadata(str(path)))


def _metadata(path: str) -> dict[str, Any]:
    ext = path.rsplit(".", 1)[-1].lower()
    return {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(ext, {})


def svg(fig: Any) -> str:
    """The figure as an inline ``<svg>`` that scales to the page's width."""
    from matplotlib import rc_context

    buf = io.StringIO()
    with rc_context(RC):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    return re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1 width="100%"', text, count=1)
