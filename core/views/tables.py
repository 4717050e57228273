"""Rich tables of the read-only commands: ``hpo list``, ``hpo trials``, ``hpo compare``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from hpo.eventlog.state import GroupState
from hpo.views.dashboard import STATUS_STYLE
from hpo.views.fmt import clean, direction, duration, num, params_text, safe
from hpo.views.fit import Column, FitTable
from hpo.views.leaderboard import Ranking, sort_value
from hpo.views.failures import bad_lines


def _when(iso: str | None) -> str:
    if not iso:
        return "-"
    moment = datetime.fromisoformat(iso).astimezone()
    fmt = "%m-%d %H:%M" if moment.year == datetime.now().year else "%Y-%m-%d"
    return moment.strftime(fmt)


def _status(status: str, engine_gone: bool = False) -> Text:
    text = Text(status, style=STATUS_STYLE.get(status, ""))
    if engine_gone:
        text.append("?", style="yellow")
    return text


def _best(rec: dict[str, Any]) -> str:
    metric, best = rec.get("metric"), rec.get("best")
    if not metric:
        return "-"
    value = num(best["value"]) if best else "-"
    return f"{direction(metric)} {value}"


def groups_table(records: list[dict[str, Any]]) -> FitTable:
    """One row per group. The id, status and best value are never cut; the name shrinks, then
    the creation time and the algorithm go (see :mod:`hpo.views.fit`)."""
    def cells(get) -> list[Text]:
        return [get(r) for r in records]

    def trials(r: dict[str, Any]) -> str:
        p = r["progress"]
        return f"{p['done']}/{p['planned']}" if p["planned"] else str(p["done"])

    columns = [
        Column(Text("group"), cells(lambda r: safe(r["group"])), "left"),
        Column(Text("name"), cells(lambda r: safe(r["name"])), "left", shrink=8, shrink_at=3),
        Column(Text("status"), cells(lambda r: _status(r["status"], r.get("engine_gone", False))), "left"),
        Column(Text("algorithm"), cells(lambda r: safe(r["algorithm"] or "-")), "left", drop_at=2),
        Column(Text("trials"), cells(lambda r: Text(trials(r))), drop_at=4),
        Column(Text("best"), cells(lambda r: safe(_best(r))), "left"),
        Column(Text("created"), cells(lambda r: Text(_when(r["created_at"]))), "left", drop_at=1),
    ]
    caption = None
    if any(r.get("engine_gone") for r in records):
        caption = Text("running? = no engine holds the lease any more: `hpo resume GROUP`")
    return FitTable(columns, caption=caption, marker_hint="--json shows all")


def leaderboard_table(state: GroupState, ranking: Ranking) -> FitTable:
    """Rank, trial, status, metrics (the sort key first), params as columns. The trial, its
    status and the sort key (the group metric by default) are never cut; params shorten, then
    drop with a ``+N params`` marker, then the other metrics and the small columns go."""
    arrow = "▼" if ranking.descending else "▲"
    order = "highest first" if ranking.descending else "lowest first"
    key = ranking.param_label(ranking.key) if ranking.kind == "param" else ranking.key
    trials = ranking.trials

    def column(header: str, values: list[Any], **kw: Any) -> Column:
        return Column(safe(header), [v if isinstance(v, Text) else safe(v) for v in values], **kw)

    columns = [
        column("#", [str(ranking.rank_of(t) or "-") for t in trials], style="dim", drop_at=8),
        column("trial", [str(t.trial_id) for t in trials]),
        column("status", [_status(t.status) for t in trials], justify="left"),
    ]
    for m in ranking.metrics:
        is_key = ranking.kind == "metric" and m == ranking.key
        columns.append(column(m + (" " + arrow if is_key else ""), [num(t.metrics.get(m)) for t in trials],
                              style="bold" if m == state.metric_name else "",
                              drop_at=None if is_key or m == state.metric_name else 3, counted="metric"))
    if any("origin_trial" in t.meta for t in trials):  # a restart: the trial each one restarts
        columns.append(column("from", [str(t.meta.get("origin_trial", "-")) for t in trials], drop_at=7))
    if any("rung" in t.meta for t in trials):
        columns.append(column("b/r", [f"{t.meta.get('bracket', '-')}/{t.meta.get('rung', '-')}" for t in trials],
                              drop_at=7))
    for p in ranking.params:
        is_key = ranking.kind == "param" and p == ranking.key
        title = ranking.param_label(p) + (" " + arrow if is_key else "")
        columns.append(column(title, [num(t.params.get(p)) for t in trials], shrink=min(len(title), 8),
                              shrink_at=1, drop_at=None if is_key else 4, counted="param"))
    columns.append(column("step", [str(t.last_step) if t.reports else "-" for t in trials], drop_at=5))
    columns.append(column("time", [duration(sort_value(t, "duration", "builtin")) for t in trials], drop_at=2))
    counts = [bad_lines(t) for t in trials]
    if any(counts):
        columns.append(column("bad lines", [str(n or "") for n in counts], style="red", drop_at=6))
    caption = safe(f"{len(trials)} trials sorted by {key}, {order}")
    return FitTable(columns, caption=caption, marker_hint="--json shows all")


COMPARE_ROWS = (
    ("status", lambda r: r["status"]),
    ("algorithm", lambda r: r["algorithm"] or "-"),
    ("metric", lambda r: direction(r["metric"])),
    ("trials", lambda r: f"{r['done']}/{r['planned']}" if r["planned"] else str(r["done"])),
    ("concurrency", lambda r: num(r["concurrency"])),
    ("attempts", lambda r: str(r["budget"]["attempts"])),
    ("trial time", lambda r: duration(r["budget"]["trial_seconds"])),
    ("resource used", lambda r: num(r["budget"]["resource"])),
    ("best value", lambda r: num(r["best"]["value"], 6) if r["best"] else "-"),
    ("best trial", lambda r: str(r["best"]["trial"]) if r["best"] else "-"),
    ("best params", lambda r: params_text(r["best"]["params"]) if r["best"] else "-"),
    ("time to best", lambda r: duration(r["time_to_best"])),
    ("elapsed", lambda r: duration(r["elapsed"])),
)


def compare_table(records: list[dict[str, Any]]) -> Table:
    """Groups side by side: one column each, one row per fact."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("", style="bold", no_wrap=True)
    for r in records:
        table.add_column(Text(f"{clean(r['name'])}\n{clean(r['group'])}"), overflow="fold")
    best = _winner(records)
    for label, get in COMPARE_ROWS:
        cells: list[Any] = [label]
        for i, r in enumerate(records):
            value = get(r)
            cells.append(safe(value, "bold green" if label == "best value" and i == best else ""))
        table.add_row(*cells)
    return table


def _winner(records: list[dict[str, Any]]) -> int | None:
    """The column with the best value, when every group optimises the same metric the same way."""
    metrics = {(r["metric"] or {}).get("name") for r in records}
    ways = {(r["metric"] or {}).get("optimization", "maximize") for r in records}
    if len(metrics) != 1 or None in metrics or len(ways) != 1:
        return None
    sign = 1 if ways == {"maximize"} else -1
    scored = [(sign * r["best"]["value"], i) for i, r in enumerate(records)
              if r["best"] and r["best"]["value"] is not None]
    return max(scored)[1] if scored else None


def importance_table(imp) -> Table:
    """Params by their share of what explains the metric, with a bar each (``hpo importance``)."""
    from rich.bar import Bar

    fit = "out-of-bag R² could not be estimated" if imp.r2 is None else f"out-of-bag R² {imp.r2:.2f}"
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False,
                  caption=f"random forest on {imp.trials} succeeded trials, {fit}",
                  title=Text(f"what explains {clean(imp.metric)}"))
    table.add_column("param")
    table.add_column("share", justify="right")
    table.add_column("", width=30)
    table.add_column("axis", style="dim")
    for p in imp.params:
        table.add_row(safe(p.name), f"{100 * p.share:.1f}%", Bar(1.0, 0.0, p.share, width=30), p.axis)
    return table
