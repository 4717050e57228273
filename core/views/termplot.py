"""Plots in the terminal with plotext (the optional ``plots`` extra):
``hpo plot GROUP --kind history|parallel|curves|brackets``.

Each function returns the figure as text with ANSI colours; :func:`as_text` turns it into a
rich :class:`~rich.text.Text`, so a console that is not a terminal prints it without colours.
"""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text

from hpo.errors import HpoError
from hpo.eventlog.state import GroupState
from hpo.views import series
from hpo.views.fmt import clean, num

KINDS = ("history", "parallel", "curves", "brackets")
COLORS = ("green", "cyan", "yellow", "magenta", "red", "blue", "orange", "gray")
QUARTILE_COLORS = ("green", "cyan", "yellow", "red")  # best quarter first


class PlotsMissing(HpoError):
    """plotext is not installed."""


class NothingToPlot(HpoError):
    """The group has no data for this plot yet."""


def _plt() -> Any:
    try:
        import plotext
    except ImportError:
        raise PlotsMissing(
            "terminal plots need plotext, which the `plots` extra of hpo-groups installs: "
            "pip install 'plotext>=5.2,<6' (or write an HTML report, which needs nothing more: "
            "hpo report GROUP -o report.html)"
        ) from None
    plotext.clf()
    plotext.theme("clear")
    return plotext


def as_text(figure: str) -> Text:
    return Text.from_ansi(figure)


def _finish(plt: Any, title: str, width: int, height: int, key: list[tuple[str, str]] = ()) -> str:
    """Build the figure; ``key`` (label, colour) is printed under it rather than as plotext's
    legend, which sits in the top-left corner over the data."""
    plt.title(clean(title))  # the figure is read back as ANSI: user text must bring none
    plt.plotsize(width, height)
    figure = plt.build()
    if key:
        figure += "\n" + "   ".join(plt.colorize("●", color) + " " + clean(label) for label, color in key)
    return figure


def _not_drawn(left_out: list[str]) -> str:
    """The line under a figure naming what had no place on its axes (an infinite or NaN value)."""
    return ("\nnot drawn (no place on an axis): " + ", ".join(left_out)) if left_out else ""


def plot(kind: str, state: GroupState, width: int = 100, height: int = 22, top: int = 10,
         metric: str | None = None) -> str:
    if kind not in KINDS:
        raise HpoError(f"unknown plot kind {kind!r}: one of {', '.join(KINDS)}")
    return {"history": history, "parallel": parallel, "curves": curves, "brackets": brackets}[kind](
        state, width=width, height=height, top=top, metric=metric)


def _reported(state: GroupState) -> list[str]:
    names: list[str] = []
    for t in state.trials.values():
        names += [k for k in t.curves if k not in names]
    return names


def _need_metric(state: GroupState, kind: str) -> None:
    if state.metric_name is None:
        names = ", ".join(_reported(state)) or "none yet"
        raise NothingToPlot(f"group {state.name} has no metric, and the {kind} plot is about it; "
                            f"`--kind curves --metric NAME` draws a reported one ({names})")


def history(state: GroupState, width: int, height: int, **_: Any) -> str:
    _need_metric(state, "history")
    ranked = series.history(state)
    left_out = [f"trial {p.trial} ({num(p.value)})" for p in ranked if not math.isfinite(p.value)]
    points = [p for p in ranked if math.isfinite(p.value)]
    if not points:
        raise NothingToPlot(f"group {state.name} has no succeeded trial with a finite value of "
                            f"{state.metric_name or 'a metric'} yet" + _not_drawn(left_out))
    plt = _plt()
    x = [p.trial for p in points]
    plt.scatter(x, [p.value for p in points], marker="dot", color="cyan")
    line = [p for p in points if math.isfinite(p.best)]  # after an infinite best there is no line
    if line:
        step_x, step_y = [line[0].trial], [line[0].best]
        for p in line[1:]:  # a step line: the best changes only at the trial that beat it
            step_x += [p.trial, p.trial]
            step_y += [step_y[-1], p.best]
        plt.plot(step_x, step_y, color="green")
    plt.xlabel("trial")
    plt.xticks(_integer_ticks(x[0], x[-1]))
    key = [(f"{state.metric_name} of each trial", "cyan"), ("best so far", "green")]
    return (_finish(plt, f"optimization history of {state.name}: {len(ranked)} trials", width, height, key)
            + _not_drawn(left_out))


def _integer_ticks(lo: int, hi: int, count: int = 8) -> list[int]:
    step = max(math.ceil((hi - lo) / count), 1)
    return list(range(lo, hi + 1, step))


def parallel(state: GroupState, width: int, height: int, **_: Any) -> str:
    _need_metric(state, "parallel")
    data = series.parallel(state)
    if not data.lines:
        raise NothingToPlot(f"group {state.name} has no succeeded trial with a value yet")
    plt = _plt()
    sign = 1.0 if (state.metric or {}).get("optimization", "maximize") == "maximize" else -1.0
    ranked = sorted(data.lines, key=lambda ln: -sign * ln.value)
    x = list(range(1, len(data.axes) + 1))
    quarter = max(math.ceil(len(ranked) / 4), 1)
    left_out = []
    for i, line in reversed(list(enumerate(ranked))):  # the best drawn last, on top
        if any(p is None for p in line.points):
            left_out.insert(0, f"trial {line.trial} ({num(line.value)})")
            continue
        q = min(i // quarter, 3)
        plt.plot(x, list(line.points), color=QUARTILE_COLORS[q])
    plt.xticks(x, [clean(a.name) for a in data.axes])
    plt.yticks([0, 0.5, 1], ["low", "mid", "high"])
    plt.ylim(-0.02, 1.02)
    key = [(f"{name} quarter", c) for name, c in zip(("best", "2nd", "3rd", "worst"), QUARTILE_COLORS)]
    figure = _finish(plt, f"parallel coordinates of {state.name}: {len(data.lines)} trials", width, height,
                     key[: min(len(ranked), 4)])
    ranges = "\n".join(clean(f"  {a.name}: {_axis_range(a)}") for a in data.axes)
    return figure + "\naxes (low → high):\n" + ranges + _not_drawn(left_out)


def _axis_range(axis: series.Axis) -> str:
    if axis.kind == "category":
        return " | ".join(axis.categories)
    return f"{axis.label(0)} → {axis.label(1)}" + (" (log)" if axis.kind == "log" else "")


def curves(state: GroupState, width: int, height: int, top: int = 10, metric: str | None = None,
           **_: Any) -> str:
    metric = metric or state.metric_name
    if metric is None:
        _need_metric(state, "curves")
    data = series.curves(state, metric, top=top)
    if not data:
        raise NothingToPlot(f"group {state.name} has no report of {metric or 'a metric'} yet")
    plt = _plt()
    key, left_out = [], []
    for i, (trial, reported) in enumerate(data.items()):
        points = [(s, v) for s, v in reported if math.isfinite(v)]
        if len(points) < len(reported):
            left_out.append(f"trial {trial} ({len(reported) - len(points)} of {len(reported)} values)")
        if not points:
            continue
        steps, values = zip(*points)
        color = COLORS[i % len(COLORS)]
        plt.plot(list(steps), list(values), color=color, marker="braille")
        key.append((f"trial {trial}", color))
    plt.xlabel("step")
    total = sum(1 for t in state.trials.values() if t.curves.get(metric or ""))
    shown = (f"the best {len(data)} of {total} trials" if len(data) < total
             else f"{total} trial" + ("s" if total != 1 else ""))
    return _finish(plt, f"{metric} by step: {shown}", width, height, key) + _not_drawn(left_out)


def brackets(state: GroupState, width: int, height: int, **_: Any) -> str:
    valued = [p for p in series.brackets(state) if p.value is not None]
    points = [p for p in valued if math.isfinite(p.value)]  # type: ignore[arg-type]
    left_out = [f"trial {p.trial} ({num(p.value)})" for p in valued if p not in points]
    if not points:
        raise NothingToPlot(f"group {state.name} has no hyperband trial with a value "
                            "(only hyperband groups have brackets)")
    plt = _plt()
    by_id = {p.trial: p for p in points}
    log_x = max(p.resource for p in points) / max(min(p.resource for p in points), 1e-12) >= 20
    for p in points:  # promotions: a segment from the parent's rung to the child's
        parent = by_id.get(p.parent) if p.parent is not None else None
        if parent is not None:
            plt.plot([parent.resource, p.resource], [parent.value, p.value], color="gray")
    key = []
    for i, b in enumerate(sorted({p.bracket for p in points}, reverse=True)):
        mine = [p for p in points if p.bracket == b]
        color = COLORS[i % len(COLORS)]
        plt.scatter([p.resource for p in mine], [p.value for p in mine], color=color,
                    marker="dot" if len(points) > 40 else "●")
        key.append((f"bracket {b}", color))
    if log_x:
        plt.xscale("log")
    plt.xlabel("resource")
    plt.ylabel(clean(state.metric_name or "value"))
    key.append(("promotion (line)", "gray"))
    return _finish(plt, f"hyperband brackets of {state.name}: {state.metric_name} by resource",
                   width, height, key) + _not_drawn(left_out)
