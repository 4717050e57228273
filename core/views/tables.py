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
from hpo.views.leaderboard import Ranking, sort_value
from hpo.trial.outcome import protocol_errors


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


def groups_table(records: list[dict[str, Any]]) -> Table:
    """One row per group; fits 100 columns."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    table.add_column("group", no_wrap=True, min_width=12)
    table.add_column("name", no_wrap=True, overflow="ellipsis", max_width=18)
    table.add_column("status", no_wrap=True, min_width=9)
    table.add_column("algorithm", no_wrap=True, overflow="ellipsis", max_width=10)
    table.add_column("trials", justify="right", no_wrap=True, min_width=5)
    table.add_column("best", no_wrap=True, overflow="ellipsis", max_width=22)
    table.add_column("created", no_wrap=True, min_width=11)
    for r in records:
        p = r["progress"]
        trials = f"{p['done']}/{p['planned']}" if p["planned"] else str(p["done"])
        table.add_row(safe(r["group"]), safe(r["name"]), _status(r["status"], r.get("engine_gone", False)),
                      safe(r["algorithm"] or "-"), trials, safe(_best(r)), _when(r["created_at"]))
    if any(r.get("engine_gone") for r in records):
        table.caption = "running? = no engine holds the lease any more: `hpo resume GROUP`"
    return table


def leaderboard_table(state: GroupState, ranking: Ranking) -> Table:
    """Rank, trial, status, metrics (the sort key first), params as columns."""
    arrow = "▼" if ranking.descending else "▲"
    order = "highest first" if ranking.descending else "lowest first"
    key = ranking.param_label(ranking.key) if ranking.kind == "param" else ranking.key
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False,
                  caption=safe(f"{len(ranking.trials)} trials sorted by {key}, {order}"))
    table.add_column("#", justify="right", style="dim")
    table.add_column("trial", justify="right")
    table.add_column("status")
    for m in ranking.metrics:
        title = m + (" " + arrow if ranking.kind == "metric" and m == ranking.key else "")
        table.add_column(safe(title), justify="right", style="bold" if m == state.metric_name else "")
    hyperband = any("rung" in t.meta for t in ranking.trials)
    if hyperband:
        table.add_column("b/r", justify="right")
    for p in ranking.params:
        title = ranking.param_label(p) + (" " + arrow if ranking.kind == "param" and p == ranking.key else "")
        table.add_column(safe(title), justify="right", overflow="fold", min_width=min(len(title), 16))
    table.add_column("step", justify="right")
    table.add_column("time", justify="right")
    bad_lines = {t.trial_id: len(protocol_errors(t.output_tail)) for t in ranking.trials}
    if any(bad_lines.values()):
        table.add_column("bad lines", justify="right", style="red")
    for t in ranking.trials:
        row: list[Any] = [str(ranking.rank_of(t) or "-"), str(t.trial_id), _status(t.status)]
        row += [num(t.metrics.get(m)) for m in ranking.metrics]
        if hyperband:
            row.append(f"{t.meta.get('bracket', '-')}/{t.meta.get('rung', '-')}")
        row += [num(t.params.get(p)) for p in ranking.params]
        row += [str(t.last_step) if t.reports else "-", duration(sort_value(t, "duration", "builtin"))]
        if any(bad_lines.values()):
            row.append(str(bad_lines[t.trial_id] or ""))
        table.add_row(*(safe(c) if isinstance(c, str) else c for c in row))
    return table


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
