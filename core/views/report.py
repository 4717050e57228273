"""``hpo report``: one self-contained HTML file (inline CSS and SVG, no script, no network) with
the group's summary, how it was set up (the search space, the command, the algorithm's settings,
the stopping rules and their decisions), its charts drawn by matplotlib (optimization history,
parallel coordinates, learning curves, hyperband brackets, param importances), the leaderboard
and the failures. The data behind the charts is embedded as JSON
(``<script type="application/json" id="hpo-data">``, data the browser never runs) for anyone who
wants to re-plot it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from hpo.eventlog.state import GroupState
from hpo.views import figures, series
from hpo.views.fmt import direction, duration, json_ready, local_time, num, params_text
from hpo.views.leaderboard import rank, sort_value
from hpo.engine.plans import Plan
from hpo.views.overview import Overview, overview
from hpo.views.report_sections import algorithm_html, command_html, escape, space_html, stopping_html
from hpo.views.termplot import NothingToPlot
from hpo.views.failures import bad_lines

MAX_TABLE_ROWS = 500
CSS = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#222}
h1{font-size:20px;margin-bottom:4px} h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ddd}
h3{font-size:13px;margin:12px 0 4px}
.meta{color:#555} .ok{color:#2a7f2a} .bad{color:#c0392b} .warn{color:#b7950b}
table{border-collapse:collapse;font-size:12px} td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:right}
th{background:#f4f4f4} td.l,th.l{text-align:left} .empty{color:#888;font-style:italic}
pre{background:#f7f7f7;padding:6px;font-size:11px;white-space:pre-wrap;overflow-wrap:anywhere}
.scroll{max-width:100%;overflow-x:auto} svg{display:block;max-width:100%;height:auto}
"""
STATUS_CLASS = {"succeeded": "ok", "failed": "bad", "stopped": "warn"}


def chart(kind: str, state: GroupState, **kw: Any) -> str:
    """A chart as inline SVG, or a line saying why there is none."""
    try:
        return figures.svg(figures.figure(kind, state, **kw))
    except NothingToPlot as exc:
        return _empty(str(exc))


def chart_data(state: GroupState) -> dict[str, Any]:
    """The data behind the charts (what ``hpo plot --json`` prints)."""
    par, h = series.parallel(state), series.history(state)
    return {
        "history": {"trial": [p.trial for p in h], "value": [p.value for p in h], "best": [p.best for p in h]},
        "parallel": {"axes": [dataclasses.asdict(a) for a in par.axes],
                     "lines": [{"trial": ln.trial, "value": ln.value, "points": list(ln.points)} for ln in par.lines]},
        "curves": {str(k): v for k, v in series.curves(state).items()},
        "brackets": [p.__dict__ for p in series.brackets(state)],
    }


def _empty(text: str) -> str:
    return f'<p class="empty">{escape(text)}</p>'


def summary_html(snap: Overview) -> str:
    st, b = snap.state, snap.best
    status = f'<b class="{STATUS_CLASS.get(st.status, "")}">{escape(st.status)}</b>'
    of = f"/{snap.plan.planned}" if snap.plan.planned else ""
    counts = ", ".join(f"{n} {k}" for k, n in sorted(snap.counts.items())) or "no trials"
    rows = [
        ("status", status + (f" — {escape(st.reason)}" if st.reason else "")),
        ("algorithm", escape(str(st.spec.get("search", {}).get("algorithm")))),
        ("metric", escape(direction(st.metric))),
        ("trials", f"{snap.done}{of} finished ({escape(counts)})"),
        ("elapsed", duration(snap.elapsed)),
        ("best", "-" if b is None else
         f"trial {b.trial_id}: <b>{num(b.value(st.metric_name), 6)}</b> {escape(params_text(b.params))}"),
        ("created", f"{local_time(st.created_at)} (seed {st.seed})"),
    ]
    if st.group_stop is not None:
        rows.append(("stopped by", escape(f"{st.group_stop.policy}: {st.group_stop.reason}")))
    return "<table>" + "".join(f'<tr><th class="l">{k}</th><td class="l">{v}</td></tr>' for k, v in rows) + "</table>"


def leaderboard_html(state: GroupState) -> str:
    ranking = rank(state)
    head = ["#", "trial", "status", *ranking.metrics, *map(ranking.param_label, ranking.params),
            "step", "time"]
    restarted = any("origin_trial" in t.meta for t in ranking.trials)
    if restarted:
        head.append("from trial")
    bad = {t.trial_id: bad_lines(t) for t in ranking.trials}
    if any(bad.values()):
        head.append("bad report lines")
    rows = []
    for t in ranking.trials[:MAX_TABLE_ROWS]:
        cells = [str(ranking.rank_of(t) or "-"), str(t.trial_id), f'<span class="{STATUS_CLASS.get(t.status, "")}">{t.status}</span>']
        cells += [num(t.metrics.get(m)) for m in ranking.metrics]
        cells += [escape(num(t.params.get(p))) for p in ranking.params]
        cells += [str(t.last_step) if t.reports else "-", duration(sort_value(t, "duration", "builtin"))]
        if restarted:
            cells.append(str(t.meta.get("origin_trial", "-")))
        if any(bad.values()):
            cells.append(f'<span class="bad">{bad[t.trial_id]}</span>' if bad[t.trial_id] else "")
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    more = len(ranking.trials) - MAX_TABLE_ROWS
    note = f"<p class='meta'>… {more} more (hpo trials)</p>" if more > 0 else ""
    return ('<div class="scroll"><table class="leaderboard"><tr>' + "".join(f"<th>{escape(h)}</th>" for h in head)
            + "</tr>" + "".join(rows) + "</table></div>" + note)


def importance_html(state: GroupState) -> tuple[str, dict[str, Any] | None]:
    """Each param's share of what explains the metric, as bars (see ``hpo importance``)."""
    from hpo.views.importance import ImportanceError, importances

    try:
        imp = importances(state)
    except ImportanceError as exc:
        return _empty(str(exc)), None
    note = ""
    if imp.explains_little:
        note = '<p class="meta">the forest explains little of the metric: the shares may be noise</p>'
    return chart("importance", state) + note, imp.to_json()


def failures_html(snap: Overview) -> str:
    if not snap.failures:
        return _empty("no trial failed")
    items = []
    for t in snap.failures[:50]:
        tail = "\n".join(t.output_tail.splitlines()[-8:])
        items.append(f"<h3>trial {t.trial_id}: {escape(t.reason or 'failed')}</h3>"
                     + (f"<pre>{escape(tail, newlines=True)}</pre>" if tail else ""))
    return "".join(items)


def report_html(state: GroupState, plan: Plan, now: float | None = None) -> str:
    """The whole report as one HTML string."""
    snap = overview(state, plan, now)
    importance, importance_data = importance_html(state)
    data = {"group": state.group_id, "name": state.name, "metric": state.metric, **chart_data(state),
            "importance": importance_data}
    sections = [
        ("search space", space_html(state)),
        ("command", command_html(state)),
        ("algorithm", algorithm_html(state)),
        ("stopping rules", stopping_html(state)),
        ("optimization history", chart("history", state)),
        ("parallel coordinates", chart("parallel", state)),
        ("learning curves", chart("curves", state)),
    ]
    if data["brackets"]:
        sections.append(("hyperband brackets", chart("brackets", state)))
    sections += [("param importance", importance), ("trials", leaderboard_html(state)),
                 ("failures", failures_html(snap))]
    body = "".join(f'<section><h2>{escape(title)}</h2>{html}</section>' for title, html in sections)
    body = re.sub(r"<metadata>.*?</metadata>", "", body, flags=re.S)  # matplotlib's, naming its licence URLs
    payload = json.dumps(json_ready(data), default=str, allow_nan=False).replace("</", "<\\/")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>hpo report: {escape(state.name)}</title><style>{CSS}</style></head><body>"
        f"<h1>{escape(state.name)} <span class='meta'>({escape(state.group_id)})</span></h1>"
        f"{summary_html(snap)}{body}"
        f'<script type="application/json" id="hpo-data">{payload}</script>'
        "<p class='meta'>made by hpo report from the event log</p></body></html>\n"
    )
