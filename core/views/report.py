"""``hpo report``: one self-contained HTML file (inline CSS and SVG, no script, no network) with
the group's summary, optimization history, parallel coordinates, learning curves, hyperband
brackets, param importances, the leaderboard and the failures. The data behind the charts is
embedded as JSON (``<script type="application/json" id="hpo-data">``) for anyone who wants to
re-plot it.
"""

from __future__ import annotations

import json
import html
from typing import Any

from hpo.eventlog.state import GroupState
from hpo.views import series
from hpo.views.fmt import clean, direction, duration, local_time, num, params_text
from hpo.views.leaderboard import rank, sort_value
from hpo.engine.plans import Plan
from hpo.views.overview import Overview, overview
from hpo.views.svg import PALETTE, Chart, parallel_svg
from hpo.trial.outcome import protocol_errors

MAX_TABLE_ROWS = 500
CSS = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:960px;color:#222}
h1{font-size:20px;margin-bottom:4px} h2{font-size:16px;margin-top:28px;border-bottom:1px solid #ddd}
.meta{color:#555} .ok{color:#2a7f2a} .bad{color:#c0392b} .warn{color:#b7950b}
table{border-collapse:collapse;font-size:12px} td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:right}
th{background:#f4f4f4} td.l,th.l{text-align:left} .empty{color:#888;font-style:italic}
pre{background:#f7f7f7;padding:6px;font-size:11px;white-space:pre-wrap}
.bar{background:#4c78a8;height:10px}
"""
STATUS_CLASS = {"succeeded": "ok", "failed": "bad", "stopped": "warn"}


def escape(value: Any, newlines: bool = False) -> str:
    """User text for HTML: control characters and escape sequences removed, then escaped."""
    return html.escape(clean(value, newlines))


def _sign(state: GroupState) -> float:
    return 1.0 if (state.metric or {}).get("optimization", "maximize") == "maximize" else -1.0


def history_chart(state: GroupState) -> tuple[str, dict[str, Any]]:
    points = series.history(state)
    data = {"trial": [p.trial for p in points], "value": [p.value for p in points],
            "best": [p.best for p in points]}
    if not points:
        return _empty("no succeeded trial with a value yet"), data
    chart = Chart("optimization history", "trial", state.metric_name or "")
    chart.add(state.metric_name or "value",
              [(p.trial, p.value, f"trial {p.trial}: {p.value:.6g}") for p in points], "markers")
    chart.add("best so far", [(p.trial, p.best, f"best after trial {p.trial}: {p.best:.6g}")
                              for p in points], "steps", color="#2ca02c", width=2)
    return chart.render(), data


def parallel_chart(state: GroupState) -> tuple[str, dict[str, Any]]:
    par = series.parallel(state)
    data = {"axes": [{"name": a.name, "kind": a.kind, "low": a.low, "high": a.high,
                      "categories": a.categories} for a in par.axes],
            "lines": [{"trial": ln.trial, "value": ln.value, "points": list(ln.points)} for ln in par.lines]}
    if not par.lines:
        return _empty("no succeeded trial with a value yet"), data
    title = f"parallel coordinates ({len(par.lines)} trials; green = best)"
    return parallel_svg(par, title, best_high=_sign(state) > 0), data


def curves_chart(state: GroupState, best: int | None) -> tuple[str, dict[str, Any]]:
    metric = state.metric_name
    data = {str(k): v for k, v in series.curves(state, metric).items()}
    if not data:
        return _empty(f"no report of {metric or 'a metric'} yet"), data
    chart = Chart(f"{metric} by step, every trial" + (f" (trial {best} bold)" if best else ""),
                  "step", metric or "")
    for i, (trial, points) in enumerate(data.items()):
        is_best = best is not None and int(trial) == best
        chart.add(f"trial {trial}" if is_best else f"_trial {trial}",
                  [(s, v, f"trial {trial} step {s}: {v:.6g}") for s, v in points], "line",
                  color="#000" if is_best else PALETTE[i % len(PALETTE)], width=2.5 if is_best else 1)
    return chart.render(), data


def brackets_chart(state: GroupState) -> tuple[str, list[dict[str, Any]]]:
    points = series.brackets(state)
    data = [p.__dict__ for p in points]
    valued = [p for p in points if p.value is not None]
    if not valued:
        return "", data
    resources = [p.resource for p in valued]
    chart = Chart(f"hyperband: {state.metric_name} by resource, one colour per bracket "
                  "(lines: promotions)", "resource", state.metric_name or "",
                  log_x=min(resources) > 0 and max(resources) / min(resources) >= 20)
    by_id = {p.trial: p for p in valued}
    segments = []
    for p in valued:
        parent = by_id.get(p.parent) if p.parent is not None else None
        if parent is not None:
            segments += [(parent.resource, parent.value, ""), (p.resource, p.value, "")]
    if segments:
        chart.add("_promotions", segments, "segments", color="#999", width=1)
    for i, b in enumerate(sorted({p.bracket for p in valued}, reverse=True)):
        chart.add(f"bracket {b}", [(p.resource, p.value, f"trial {p.trial} (bracket {b}, rung {p.rung}):"
                                    f" {p.value:.6g}") for p in valued if p.bracket == b],
                  "markers", color=PALETTE[i % len(PALETTE)])
    return chart.render(), data


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
    bad_lines = {t.trial_id: len(protocol_errors(t.output_tail)) for t in ranking.trials}
    if any(bad_lines.values()):
        head.append("bad report lines")
    rows = []
    for t in ranking.trials[:MAX_TABLE_ROWS]:
        cells = [str(ranking.rank_of(t) or "-"), str(t.trial_id), f'<span class="{STATUS_CLASS.get(t.status, "")}">{t.status}</span>']
        cells += [num(t.metrics.get(m)) for m in ranking.metrics]
        cells += [escape(num(t.params.get(p))) for p in ranking.params]
        cells += [str(t.last_step) if t.reports else "-", duration(sort_value(t, "duration", "builtin"))]
        if restarted:
            cells.append(str(t.meta.get("origin_trial", "-")))
        if any(bad_lines.values()):
            cells.append(f'<span class="bad">{bad_lines[t.trial_id]}</span>' if bad_lines[t.trial_id] else "")
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    more = len(ranking.trials) - MAX_TABLE_ROWS
    note = f"<p class='meta'>… {more} more (hpo trials)</p>" if more > 0 else ""
    return ('<table class="leaderboard"><tr>' + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>"
            + "".join(rows) + "</table>" + note)


def importance_html(state: GroupState) -> tuple[str, dict[str, Any] | None]:
    """Each param's share of what explains the metric, as bars (see ``hpo importance``)."""
    from hpo.views.importance import ImportanceError, importances

    try:
        imp = importances(state)
    except ImportanceError as exc:
        return _empty(str(exc)), None
    rows = "".join(
        f'<tr><td class="l">{escape(p.name)}</td><td>{100 * p.share:.1f}%</td>'
        f'<td class="l" style="width:320px"><div class="bar" style="width:{100 * p.share:.1f}%"></div></td>'
        f'<td class="l meta">{p.axis}</td></tr>'
        for p in imp.params
    )
    fit = "could not be estimated" if imp.r2 is None else f"{imp.r2:.2f}"
    note = f"random forest on {imp.trials} succeeded trials, out-of-bag R² {fit}"
    if imp.explains_little:
        note += " — it explains little of the metric: the shares may be noise"
    return (f'<table>{rows}</table><p class="meta">{escape(note)}</p>', imp.to_json())


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
    history_svg, history_data = history_chart(state)
    parallel_svg_, parallel_data = parallel_chart(state)
    curves_svg, curves_data = curves_chart(state, snap.best.trial_id if snap.best else None)
    brackets_svg, brackets_data = brackets_chart(state)
    importance_table, importance_data = importance_html(state)
    data = {"group": state.group_id, "name": state.name, "metric": state.metric,
            "history": history_data, "parallel": parallel_data, "curves": curves_data,
            "brackets": brackets_data, "importance": importance_data}
    sections = [
        ("optimization history", history_svg),
        ("parallel coordinates", parallel_svg_),
        ("learning curves", curves_svg),
    ]
    if brackets_svg:
        sections.append(("hyperband brackets", brackets_svg))
    sections += [("param importance", importance_table), ("trials", leaderboard_html(state)),
                 ("failures", failures_html(snap))]
    body = "".join(f'<section><h2>{escape(title)}</h2>{html}</section>' for title, html in sections)
    payload = json.dumps(data, default=str).replace("</", "<\\/")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>hpo report: {escape(state.name)}</title><style>{CSS}</style></head><body>"
        f"<h1>{escape(state.name)} <span class='meta'>({escape(state.group_id)})</span></h1>"
        f"{summary_html(snap)}{body}"
        f'<script type="application/json" id="hpo-data">{payload}</script>'
        "<p class='meta'>made by hpo report from the event log</p></body></html>\n"
    )
