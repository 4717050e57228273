"""``hpo status``: the dashboard, then why the group stopped (with the evidence), which trials
stoppers ended, who holds the lease, and where the group came from."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from hpo.runkit.procs import engine_alive
from hpo.views.dashboard import dashboard
from hpo.views.fmt import clean, duration, local_time, num
from hpo.views.overview import Overview

MAX_TRIAL_STOPS = 5


def evidence_text(evidence: dict[str, Any]) -> str:
    """``metric=accuracy value=0.95 threshold=0.9 step=8 compared_trials=[1, 2]`` (no config)."""
    skip = {"policy", "config"}
    return clean(" ".join(f"{k}={num(v) if not isinstance(v, (list, dict)) else v}"
                          for k, v in evidence.items() if k not in skip))


def stop_lines(snap: Overview) -> list[Text]:
    st, out = snap.state, []
    if st.group_stop is not None:
        stop = st.group_stop
        line = Text("stopped ", style="bold")
        line.append(clean(f"by {stop.policy}: {stop.reason}"))
        out.append(line)
        if stop.evidence:
            out.append(Text(f"  evidence: {evidence_text(stop.evidence)}", style="dim"))
            config = stop.evidence.get("config")
            if config:
                out.append(Text(clean(f"  config: {config}"), style="dim"))
    stopped = [t for t in sorted(st.trials.values(), key=lambda t: t.trial_id) if t.stop_decision]
    if stopped:
        by_policy: dict[str, int] = {}
        for t in stopped:
            policy = t.stop_decision.get("policy", "?")  # type: ignore[union-attr]
            by_policy[policy] = by_policy.get(policy, 0) + 1
        counts = clean(", ".join(f"{n} by {p}" for p, n in sorted(by_policy.items())))
        out.append(Text(f"trials stopped early: {counts}", style="bold"))
        for t in stopped[-MAX_TRIAL_STOPS:]:
            d = t.stop_decision or {}
            out.append(Text(clean(f"  trial {t.trial_id}: {d.get('reason', '')}")))
            if d.get("evidence"):
                out.append(Text(f"    evidence: {evidence_text(d['evidence'])}", style="dim"))
    return out


def retry_lines(snap: Overview) -> list[Text]:
    """The trials that ran again after an attempt was lost (or exited non-zero, on request)."""
    retried = [t for t in sorted(snap.state.trials.values(), key=lambda t: t.trial_id) if t.retries]
    if not retried:
        return []
    total = sum(t.retries for t in retried)
    out = [Text(f"retried {total} time{'s' if total != 1 else ''} in {len(retried)} "
                f"trial{'s' if len(retried) != 1 else ''}", style="bold yellow")]
    for t in retried[-MAX_TRIAL_STOPS:]:
        out.append(Text(clean(f"  trial {t.trial_id} ({t.retries}x, now {t.status}): {t.retry_reasons[-1]}")))
    return out


def lease_line(snap: Overview) -> Text:
    st = snap.state
    eng = st.engine
    if eng is None:
        who = f"no engine holds the lease ({st.engines} engine run{'s' if st.engines != 1 else ''} so far)"
        return Text(f"lease   {who}")
    age = snap.now - eng["seen_at"]
    if snap.seen_now:
        alive = engine_alive(eng, snap.now)
    else:  # a past moment: only the lease's clock tells
        alive = age < eng["lease_seconds"]
    text = Text("lease   ", style="bold")
    text.append(clean(f"engine {eng['engine_id']} pid {eng['pid']} on {eng['host']}, "
                      f"last seen {duration(age)} ago, "))
    if alive:
        text.append("alive", style="green")
    else:
        text.append("expired: `hpo resume` takes over", style="yellow")
    return text


def status_view(snap: Overview, tracebacks: bool = False) -> RenderableType:
    """The status; ``tracebacks`` adds where each failed plugin raised."""
    st = snap.state
    parts: list[RenderableType] = [dashboard(snap)]
    parts += stop_lines(snap)
    if not snap.live and st.reason and st.group_stop is None:
        parts.append(Text(clean(f"reason  {st.reason}")))
    if st.exhausted and st.status not in ("succeeded", "failed"):  # a finished group's reason says it
        parts.append(Text(clean(f"search  exhausted: {st.exhausted}")))
    parts += retry_lines(snap)
    parts.append(lease_line(snap))
    for f in st.plugin_failures:
        parts.append(Text(clean(f"plugin failure  {f.plugin}: {f.error}"), style="red"))
        if f.traceback and tracebacks:
            # unwrapped: a traceback's lines stay whole (a terminal wraps them; a pipe keeps them)
            parts.append(Text(clean(f.traceback.rstrip(), newlines=True), style="dim", no_wrap=True,
                              overflow="ignore"))
        elif f.traceback:
            parts.append(Text(f"  `hpo status {st.name or st.group_id} --traceback` shows where "
                              "it raised", style="dim"))
    if st.notices:  # the runner's latest word on the group (a host down, docker unreachable)
        n = st.notices[-1]
        parts.append(Text(clean(f"runner  {local_time(n['at'])} {n['runner']}: {n['message']}"), style="yellow"))
    created = f"created {local_time(st.created_at)}, seed {st.seed}"
    if st.finished_at and not snap.live:
        created += f", finished {local_time(st.finished_at)}"
    parts.append(Text(created, style="dim"))
    if st.origin:
        o = st.origin
        said = f"origin  {o.get('kind')} of group {o.get('group')}"
        if o.get("at_seq") is not None:
            said += f" at seq {o['at_seq']}"
        if o.get("trials"):
            said += f": trials {', '.join(map(str, o['trials']))}"
        parts.append(Text(clean(said)))
    return Group(*parts)
