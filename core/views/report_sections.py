"""The report's sections about how the group was set up, from its recorded spec: the search
space (each param with its kind and bounds in value space), the command, the algorithm's
settings, and the stopping rules with the decisions they took."""

from __future__ import annotations

import html
from typing import Any

from hpo.eventlog.state import GroupState
from hpo.views.fmt import clean, num


def escape(value: Any, newlines: bool = False) -> str:
    """User text for HTML: control characters and escape sequences removed, then escaped."""
    return html.escape(clean(value, newlines))


def _table(head: list[str], rows: list[list[str]]) -> str:
    """A table whose cells are already HTML; it scrolls inside its box rather than widening the page."""
    th = "".join(f'<th class="l">{escape(h)}</th>' for h in head)
    body = "".join("<tr>" + "".join(f'<td class="l">{c}</td>' for c in r) + "</tr>" for r in rows)
    return f'<div class="scroll"><table><tr>{th}</tr>{body}</table></div>'


def _values(values: list[Any], shown: int = 12) -> str:
    text = ", ".join(num(v, 6) for v in values[:shown])
    return f"[{text}{', …' if len(values) > shown else ''}] ({len(values)} values)"


def param_range(entry: dict[str, Any]) -> str:
    """A param's values or bounds in value space (``loguniform`` bounds are exponents: shown
    as the values they stand for)."""
    from hpo.spec.matrix import param_from_json
    from hpo.spec.params import Categorical

    param = param_from_json("p", entry)
    if param.discrete:
        return _values(param.values())
    domain = param.domain()
    if isinstance(domain, Categorical):
        weights = domain.weights or [None] * len(domain.choices)
        return ", ".join(f"{num(c)}" + (f" (p={w:g})" if w is not None else "") for c, w in zip(domain.choices, weights))
    args = ", ".join(f"{k}={num(v, 6)}" for k, v in entry.get("args", {}).items())
    if not domain.bounded:
        return f"unbounded: {args}"
    text = f"{num(domain.low, 6)} … {num(domain.high, 6)}"
    extras = [label for flag, label in ((domain.log, "log scale"), (domain.q, f"step {num(domain.q, 6)}"),
                                        (domain.integer, "integers")) if flag]
    return text + (f" ({', '.join(extras)})" if extras else "")


def space_html(state: GroupState) -> str:
    matrix = state.spec.get("matrix") or {}
    rows = []
    for name, entry in matrix.items():
        try:
            where = param_range(entry)
        except Exception as exc:  # noqa: BLE001 - a spec a newer version wrote: show what it says
            where = f"(cannot read: {exc})"
        rows.append([f"<b>{escape(name)}</b>", escape(entry.get("kind", "?")), escape(where)])
    for name, value in (state.spec.get("declarations") or {}).items():
        rows.append([f"<b>{escape(name)}</b>", "declaration", escape(num(value))])
    return _table(["param", "kind", "values or bounds (in value space)"], rows)


def command_html(state: GroupState) -> str:
    run = state.spec.get("run") or {}
    runner = state.spec.get("runner") or {}
    parts = [f"<pre>{escape(run.get('cmd', ''), newlines=True)}</pre>"]
    facts = []
    if runner.get("kind") and (runner["kind"] != "local" or runner.get("options")):
        facts.append(f"runner {runner['kind']}" + (f" {runner.get('options')}" if runner.get("options") else ""))
    for key in ("workdir", "timeout", "gpus"):
        if run.get(key):
            facts.append(f"{key} {run[key]}")
    if facts:
        parts.append(f'<p class="meta">{escape(", ".join(facts))}</p>')
    return "".join(parts)


def algorithm_html(state: GroupState) -> str:
    search = state.spec.get("search") or {}
    metric = state.spec.get("metric") or {}
    rows = [["algorithm", escape(search.get("algorithm", "-"))],
            ["metric", escape(f"{metric.get('name')} ({metric.get('optimization', 'maximize')})" if metric else "none")],
            ["concurrency", escape(state.spec.get("concurrency", "-"))],
            ["seed", escape(state.seed)]]
    rows += [[escape(k), escape(_option(v))] for k, v in (search.get("options") or {}).items()]
    return _table(["setting", "value"], rows)


def _option(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_option(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + ", ".join(_option(v) for v in value) + "]"
    return num(value, 6)


def stopping_html(state: GroupState) -> str:
    rules = [[escape("early_stopping"), escape(f"{e.get('metric')} {'>=' if e.get('optimization') == 'maximize' else '<='} "
                                                 f"{e.get('value')}")]
             for e in state.spec.get("early_stopping") or []]
    rules += [[escape(s.get("kind")), escape(_option(s.get("options") or {}) or "defaults")]
              for s in state.spec.get("stoppers") or []]
    parts = [_table(["rule", "settings"], rules) if rules else '<p class="empty">no stopping rule</p>']
    if state.group_stop is not None:
        stop = state.group_stop
        parts.append(f"<p><b>the group was stopped by {escape(stop.policy)}</b>: {escape(stop.reason)}</p>")
    stopped = [t for t in sorted(state.trials.values(), key=lambda t: t.trial_id) if t.stop_decision]
    if stopped:
        rows = [[str(t.trial_id), escape(t.stop_decision.get("policy", "?")), escape(t.stop_decision.get("reason", ""))]
                for t in stopped[:200]]
        parts.append(f"<p>{len(stopped)} trial{'s' if len(stopped) != 1 else ''} stopped early:</p>"
                     + _table(["trial", "rule", "why"], rows))
    elif rules:
        parts.append('<p class="meta">no rule stopped a trial</p>')
    return "".join(parts)
