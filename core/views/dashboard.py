"""The live view's picture of a group: progress bar, running trials, best trial, failures and,
for hyperband, the brackets. Built from a :class:`Overview` as plain rich renderables holding
only copied values, so a refresh thread can draw it while the engine goes on changing the state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from hpo.eventlog.state import TrialState
from hpo.views.fmt import clean, direction, duration, num, params_text, safe
from hpo.views.failures import bad_examples, bad_lines, error_lines
from hpo.views.fit import Column, FitTable
from hpo.views.overview import RungProgress, Overview

MAX_RUNNING_ROWS = 10
MAX_FAILURES = 3
MAX_METRIC_COLUMNS = 3
STATUS_STYLE = {"succeeded": "green", "failed": "red", "stopped": "yellow", "running": "cyan",
                "created": "dim"}


@dataclass
class ProgressLine:
    """``━━━━╸━━━  7/12 trials  58%  0:00:21 elapsed  ~0:00:15 left``.

    With ``ticking`` the elapsed time is read from the clock at each refresh, so it moves between
    events; the estimate of what is left moves with it.
    """

    done: int
    planned: int | None
    started_at: float | None
    elapsed: float | None
    remaining: float | None
    ticking: bool = False

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        elapsed, remaining = self.elapsed, self.remaining
        if self.ticking and self.started_at is not None and elapsed is not None:
            now_elapsed = max(time.time() - self.started_at, elapsed)
            if remaining is not None:
                remaining = max(remaining - (now_elapsed - elapsed), 0.0)
            elapsed = now_elapsed
        of = f"/{self.planned}" if self.planned else ""
        pct = f"  {100 * min(self.done / self.planned, 1):3.0f}%" if self.planned else ""
        left = f"  ~{duration(remaining)} left" if remaining not in (None, 0.0) else ""
        label = f" {self.done}{of} trials{pct}  {duration(elapsed)} elapsed{left}"
        width = max(options.max_width - len(label), 10)
        table = Table.grid()
        table.add_column(width=width)
        table.add_column(no_wrap=True)
        bar = ProgressBar(total=self.planned, completed=self.done, width=width, pulse=self.planned is None and self.ticking)
        table.add_row(bar, Text(label))
        yield table


def header(snap: Overview, width: int | None = None) -> Text:
    """``name (id) · algorithm · metric ↑ · status — reason``. Narrower than ``width``, the
    reason, the id and the algorithm go, then the name is cut: the metric and the status stay."""
    return _Title.of(snap).fit(width)


@dataclass
class _Title:
    """The header's variants, widest first, computed once (a refresh thread only picks one)."""

    variants: list[Text]
    name: str
    tail: Text  # the narrowest variant without the name

    @classmethod
    def of(cls, snap: Overview) -> "_Title":
        name = clean(snap.state.name or snap.state.group_id)
        variants = [_header(snap, name, *flags) for flags in
                    ((True, True, True), (False, True, True), (False, False, True), (False, False, False))]
        return cls(variants, name, _header(snap, "", False, False, False))

    def fit(self, width: int | None) -> Text:
        for text in self.variants:
            if width is None or text.cell_len <= width - 6:  # the panel's corners and padding
                return text
        room = max(width - 6 - self.tail.cell_len, 4)  # type: ignore[operator]
        name = self.name[: room - 1] + "…" if len(self.name) > room else self.name
        return Text(name, style="bold") + self.tail


def _header(snap: Overview, name: str, reason: bool, ident: bool, algo: bool) -> Text:
    st = snap.state
    text = Text()
    text.append(clean(name), style="bold")
    if ident:
        text.append(f" ({st.group_id})")
    if algo:
        text.append(f" · {clean(st.spec.get('search', {}).get('algorithm') or '-')}")
    text.append(f" · {direction(st.metric)} · ")
    text.append(st.status, style="bold " + STATUS_STYLE.get(st.status, ""))
    if snap.engine_gone:
        text.append(" (no engine: `hpo resume` continues it)" if reason else " (no engine)", style="yellow")
    if reason and st.reason and not snap.live:
        text.append(f" — {clean(st.reason)}", style="dim")
    return text


def counts_line(snap: Overview) -> Text:
    text = Text("trials  ", style="bold")
    parts = [(s, snap.counts.get(s, 0)) for s in ("succeeded", "failed", "stopped", "running", "pending")]
    for i, (name, n) in enumerate(parts):
        if i:
            text.append(" · ")
        text.append(f"{n} {name}", style=STATUS_STYLE.get(name, "") if n else "dim")
    return text


def best_line(snap: Overview) -> Text:
    text = Text("best    ", style="bold")
    b, metric = snap.best, snap.state.metric_name
    if b is None:
        text.append("no trial has succeeded yet" if metric else "the group has no metric", style="dim")
        return text
    text.append(f"trial {b.trial_id}  ")
    text.append(f"{clean(metric)} {num(b.value(metric), 6)}", style="bold green")
    text.append(f"  {params_text(b.params)}")
    return text


def _metric_names(snap: Overview, trials: list[TrialState]) -> list[str]:
    names: list[str] = []
    if snap.state.metric_name:
        names.append(snap.state.metric_name)
    for t in trials:
        names += [k for k in t.metrics if k not in names]
    return names[:MAX_METRIC_COLUMNS]


def running_table(snap: Overview) -> RenderableType:
    """The running trials. The trial and the group metric are never cut: the params shorten
    first, then the other metrics, the time and the step go (see :mod:`hpo.views.fit`)."""
    trials = snap.running
    if not trials:
        return Text("running  none", style="dim")
    metrics, shown = _metric_names(snap, trials), trials[:MAX_RUNNING_ROWS]
    group_metric = snap.state.metric_name

    def column(header: str, values: list[str], **kw) -> Column:
        return Column(safe(header), [safe(v) for v in values], **kw)

    columns = [column("trial", [str(t.trial_id) for t in shown]),
               column("step", [str(t.last_step) if t.reports else "-" for t in shown], drop_at=5)]
    for m in metrics:
        columns.append(column(m, [num(t.metrics.get(m)) for t in shown],
                              drop_at=None if m == group_metric else 2, counted="metric"))
    if any("rung" in t.meta for t in trials):
        columns.append(column("bracket/rung", [f"{t.meta.get('bracket', '-')}/{t.meta.get('rung', '-')}"
                                               for t in shown], drop_at=4))
    since = [None if (start := snap.running_since(t)) is None else snap.now - start for t in shown]
    columns.append(column("for", [duration(s) for s in since], drop_at=3))
    columns.append(column("params", [params_text(t.params) for t in shown], justify="left",
                          shrink=12, shrink_at=1, drop_at=6))
    parts: list[RenderableType] = [Text("running", style="bold"), FitTable(columns)]
    if len(trials) > MAX_RUNNING_ROWS:
        parts.append(Text(f"… and {len(trials) - MAX_RUNNING_ROWS} more", style="dim"))
    return Group(*parts)


def failures_block(snap: Overview) -> RenderableType | None:
    if not snap.failures:
        return None
    lines = Text()
    lines.append(f"failures ({len(snap.failures)})", style="bold red")
    for t in snap.failures[:MAX_FAILURES]:
        last = error_lines(t.output_tail, 1)
        lines.append(f"\n  trial {t.trial_id}: {clean(t.reason or 'failed')}")
        if last:
            lines.append(f" | {last[0].strip()[:120]}", style="dim")
    if len(snap.failures) > MAX_FAILURES:
        lines.append(f"\n  … {len(snap.failures) - MAX_FAILURES} more: hpo trials "
                     f"{snap.state.group_id} --status failed", style="dim")
    return lines


def rejected_block(snap: Overview) -> RenderableType | None:
    """Report lines that did not parse: how many, in how many trials, and the first of each."""
    trials = [t for t in sorted(snap.state.trials.values(), key=lambda t: t.trial_id) if bad_lines(t)]
    if not trials:
        return None
    total = sum(bad_lines(t) for t in trials)
    text = Text()
    text.append(f"report lines rejected: {total:,} in {len(trials)} trial{'s' if len(trials) != 1 else ''}",
                style="bold yellow")
    for t in trials[:MAX_FAILURES]:
        first = bad_examples(t)
        text.append(f"\n  trial {t.trial_id} ({bad_lines(t):,})")
        if first:
            text.append(f": {first[0][:120]}", style="dim")
    if len(trials) > MAX_FAILURES:
        text.append(f"\n  … {len(trials) - MAX_FAILURES} more: hpo trials {snap.state.group_id}", style="dim")
    return text


def rung_cell(r: RungProgress) -> Text:
    planned = r.planned if r.planned is not None else "?"
    style = "dim"
    if r.planned is not None and r.finished >= r.planned:
        style = "green"
    elif r.started:
        style = "yellow"
    return Text(f"{r.finished}/{planned}" + (f" +{r.running}" if r.running else ""), style=style)


def brackets_table(snap: Overview) -> RenderableType | None:
    """A multi-fidelity algorithm's brackets (hyperband's, or any searcher's plan) as rows and
    rungs as columns: finished/planned (+running) @resource."""
    if not snap.rungs:
        return None
    resource = clean(snap.plan.resource or "resource")
    n_rungs = max(r.rung for r in snap.rungs) + 1
    title = Text(snap.state.spec.get("search", {}).get("algorithm") or "brackets", style="bold")
    if snap.current is not None:
        c = snap.current
        title.append(f"  {'now' if snap.live else 'last'}: bracket {c.bracket} · rung {c.rung} · {resource}={num(c.resource)}")
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("bracket", justify="right")
    for i in range(n_rungs):
        table.add_column(f"rung {i}", justify="right")
    for bracket in sorted({r.bracket for r in snap.rungs}, reverse=True):
        cells: list[RenderableType] = [str(bracket)]
        by_rung = {r.rung: r for r in snap.rungs if r.bracket == bracket}
        for i in range(n_rungs):
            r = by_rung.get(i)
            if r is None:
                cells.append("")
            else:
                cell = rung_cell(r)
                cell.append(f" @{num(r.resource)}", style="dim")
                cells.append(cell)
        table.add_row(*cells)
    return Group(title, table, Text(f"cells: finished/planned (+running) @{resource}", style="dim"))


def dashboard(snap: Overview, ticking: bool = False) -> RenderableType:
    """The whole picture, in a panel titled with the group."""
    parts: list[RenderableType] = [
        ProgressLine(snap.done, snap.plan.planned, snap.started_at, snap.elapsed, snap.remaining,
                     ticking=ticking and snap.live),
        counts_line(snap),
        best_line(snap),
    ]
    if snap.live or snap.running:
        parts.append(running_table(snap))
    for extra in (brackets_table(snap), failures_block(snap), rejected_block(snap)):
        if extra is not None:
            parts.append(extra)
    return _Dashboard(_Title.of(snap), Group(*parts))


@dataclass
class _Dashboard:
    """The panel, titled to fit the width it is drawn at."""

    title: _Title
    body: Group

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Panel(self.body, title=self.title.fit(options.max_width), title_align="left",
                    box=box.ROUNDED)
