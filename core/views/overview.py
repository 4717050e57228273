"""A :class:`Overview`: everything the live view and ``hpo status`` show, computed from a
:class:`GroupState` and the algorithm's :class:`Plan` at one moment. Pure: no I/O, no clock
unless ``now`` is left out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from hpo.runkit.procs import engine_alive
from hpo.contracts.searcher import FAILED, PENDING, RUNNING, STOPPED, SUCCEEDED
from hpo.eventlog.state import GroupState, TrialState
from hpo.engine.plans import Plan

LIVE = ("created", "running")


@dataclass
class RungProgress:
    bracket: int
    rung: int
    resource: Any
    planned: int | None  # trials the plan puts in this rung (None: not known)
    started: int = 0
    finished: int = 0
    running: int = 0


@dataclass
class Overview:
    state: GroupState
    plan: Plan
    now: float
    counts: dict[str, int] = field(default_factory=dict)
    done: int = 0  # finished trials
    started_at: float | None = None
    elapsed: float | None = None
    remaining: float | None = None  # estimate, while the group runs and the plan is known
    running: list[TrialState] = field(default_factory=list)
    best: TrialState | None = None
    failures: list[TrialState] = field(default_factory=list)  # newest first
    rungs: list[RungProgress] = field(default_factory=list)  # hyperband only
    current: RungProgress | None = None  # the rung the newest trial belongs to
    engine_gone: bool = False  # seen now, "running", but no engine holds the lease any more
    seen_now: bool = True  # False for a past moment (--as-of): process checks make no sense then

    @staticmethod
    def running_since(t: TrialState) -> float | None:
        """When the trial's current attempt started (``started_at`` is its first attempt's)."""
        return t.attempt_started_at or t.started_at

    @property
    def live(self) -> bool:
        return self.state.status in LIVE

    @property
    def fraction(self) -> float | None:
        if self.plan.planned:
            return min(self.done / self.plan.planned, 1.0)
        return None


def overview(state: GroupState, plan: Plan, now: float | None = None) -> Overview:
    """The overview at ``now`` (default: the clock while the group runs, else its last event)."""
    seen_now = now is None
    if now is None:
        now = time.time() if state.status in LIVE else (state.finished_at or state.last_ts or 0.0)
    snap = Overview(state, plan, now, seen_now=seen_now)
    if seen_now and state.status == "running":
        snap.engine_gone = state.engine is None or not engine_alive(state.engine, now)
    trials = sorted(state.trials.values(), key=lambda t: t.trial_id)
    counts, done, finished = snap.counts, 0, (SUCCEEDED, FAILED, STOPPED)
    running, failures = snap.running, []
    for t in trials:  # one pass: `hpo status` walks 10,000 trials with this
        status = t.status
        counts[status] = counts.get(status, 0) + 1
        if status in finished:
            done += not t.resumable  # a trial a pause interrupted runs again on resume
            if status == FAILED:
                failures.append(t)
        elif status == RUNNING:
            running.append(t)
    snap.done = done
    snap.started_at = state.created_at
    end = state.finished_at if state.finished_at and state.status not in LIVE else now
    if snap.started_at is not None:
        snap.elapsed = max(end - snap.started_at, 0.0)
    snap.remaining = _remaining(snap, trials)
    snap.best = state.best()
    snap.failures = sorted(failures, key=lambda t: (t.finished_at or 0, t.trial_id), reverse=True)
    snap.rungs = rung_progress(state, plan)
    snap.current = _current_rung(snap.rungs, trials)
    return snap


def _remaining(snap: Overview, trials: list[TrialState]) -> float | None:
    """Time left: the trials still to run, at the mean duration of the finished ones, spread
    over the group's concurrency (so a pause in the group's past does not inflate it)."""
    if not snap.live:
        return 0.0 if snap.state.status != "created" else None
    if snap.engine_gone:  # nothing drives the group: no time left to estimate until a resume
        return None
    planned = snap.plan.planned
    if not planned or not snap.done:
        return None
    took = [t.finished_at - since for t in trials
            if t.finished and not t.resumable and t.finished_at is not None
            and (since := snap.running_since(t)) is not None]
    if not took:
        return None
    engine = snap.state.engine or {}
    slots = max(int(engine.get("concurrency") or snap.state.spec.get("concurrency") or 1), 1)
    left = max(planned - snap.done, 0)
    running_for = [snap.now - s for t in snap.running if (s := snap.running_since(t)) is not None]
    mean = sum(took) / len(took)
    # the running ones are part way through; the rest start as slots free up
    partial = sum(max(mean - r, 0.0) for r in running_for)
    waiting = max(left - len(running_for), 0)
    return (partial + waiting * mean) / min(slots, max(left, 1))


def rung_progress(state: GroupState, plan: Plan) -> list[RungProgress]:
    """Hyperband's brackets and rungs: planned, started, finished and running trials of each."""
    rows: dict[tuple[int, int], RungProgress] = {}
    for b in plan.brackets:
        for i, r in enumerate(b["rungs"]):
            rows[(b["bracket"], i)] = RungProgress(b["bracket"], i, r["resource"], r["n"])
    for t in state.trials.values():
        if "bracket" not in t.meta or "rung" not in t.meta:
            continue
        key = (int(t.meta["bracket"]), int(t.meta["rung"]))
        row = rows.get(key)
        if row is None:
            row = rows[key] = RungProgress(key[0], key[1], t.meta.get("resource"), None)
        row.started += 1
        row.finished += t.finished
        row.running += t.status in (RUNNING, PENDING)
    # run order: the largest bracket first (hyperband's s_max .. 0), rungs upwards
    return sorted(rows.values(), key=lambda r: (-r.bracket, r.rung))


def _current_rung(rungs: list[RungProgress], trials: list[TrialState]) -> RungProgress | None:
    for t in reversed(trials):
        if "bracket" in t.meta and "rung" in t.meta:
            key = (int(t.meta["bracket"]), int(t.meta["rung"]))
            return next((r for r in rungs if (r.bracket, r.rung) == key), None)
    return None


def progress_record(snap: Overview) -> dict[str, Any]:
    """The JSON form of the progress part of an overview."""
    cur = snap.current
    return {
        "done": snap.done,
        "planned": snap.plan.planned,
        "running": [t.trial_id for t in snap.running],
        "elapsed": snap.elapsed,
        "remaining": snap.remaining,
        "current_rung": None if cur is None else {
            "bracket": cur.bracket, "rung": cur.rung, "resource": cur.resource,
        },
    }
