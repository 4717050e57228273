"""``GroupState``: a pure fold over a group's events. Nothing else is the truth.

``GroupState.fold(stored_events)`` builds the state from scratch; the engine keeps one and calls
:meth:`GroupState.apply` for each new event, which gives the same result.
"""

from __future__ import annotations

import gc
import json
import math
import threading
from contextlib import contextmanager
from array import array
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from hpo.eventlog import events as ev
from hpo.eventlog import ranking
from hpo.contracts.searcher import (
    FAILED, PENDING, RUNNING, STOPPED, SUCCEEDED, SearchHistory, TrialRecord, params_key,
)
from hpo.eventlog.store import Stored, parse_ts


NOTICES_KEPT = 20  # runner notices a state keeps (the log keeps them all)
MAX_REJECTED_EXAMPLES = 5  # rejected report lines a trial's state keeps word for word


class _Pickling(threading.local):
    without_curves = False


_PICKLING = _Pickling()


@contextmanager
def pickled_without_curves() -> Iterator[None]:
    """Pickle trial states without their curves (snapshots store those apart)."""
    _PICKLING.without_curves = True
    try:
        yield
    finally:
        _PICKLING.without_curves = False


@dataclass
class TrialState:
    trial_id: int
    params: dict[str, Any]
    meta: dict[str, Any]
    searcher: str = ""
    seed: int = 0
    suggested_at: float | None = None
    status: str = PENDING
    attempts: int = 0  # attempts launched so far
    handle: dict[str, Any] = field(default_factory=dict)  # the current attempt's runner handle
    trial_dir: str = ""
    metrics: dict[str, float | None] = field(default_factory=dict)  # last value of each
    curves: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    last_step: int = 0
    reports: int = 0  # reports of the current attempt
    offset: int = 0  # stdout offset after the last recorded report of the current attempt
    started_at: float | None = None  # the first attempt's launch
    attempt_started_at: float | None = None  # the current attempt's launch
    finished_at: float | None = None
    exit_code: int | None = None
    signal: int | None = None
    reason: str = ""
    output_tail: str = ""
    stop_decision: dict[str, Any] | None = None  # the Stopped event that targeted it
    resumable: bool = False  # stopped by a pause, to run again on resume
    # (metrics, curves, last_step) of the attempt before, while this one has reported nothing: an
    # attempt resumed from a final checkpoint may have nothing left to report, and a re-run never
    # replaces what the trial recorded with nothing
    previous: tuple | None = None
    retries: int = 0  # attempts run again after being lost (TrialRetried)
    retry_reasons: tuple[str, ...] = ()  # why, one per retry
    rejected: int = 0  # report lines that did not parse, all attempts together
    rejected_examples: tuple[str, ...] = ()  # the first few of them, word for word

    # Pickling (snapshots) packs the curves into two flat arrays per metric; unpickling leaves
    # them packed until something reads ``curves``: `hpo status` on a group with a million
    # reports then loads in milliseconds instead of rebuilding a million tuples. Snapshots pickle
    # the curves apart from the rest (see ``pickled_without_curves``), so views that never look
    # at a curve need not read them at all.
    def packed_curves(self) -> dict[str, tuple[bytes, bytes]]:
        """The curves as two flat arrays (steps, values) per metric."""
        if "curves" not in self.__dict__:
            return self.__dict__.get("_packed_curves", {})
        return {
            name: (array("q", [s for s, _ in c]).tobytes(), array("d", [v for _, v in c]).tobytes())
            for name, c in self.curves.items()
        }

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("curves", None)
        state.pop("_packed_curves", None)
        if not _PICKLING.without_curves:
            state["_packed_curves"] = self.packed_curves()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __getattr__(self, name: str) -> Any:
        if name != "curves" or "_packed_curves" not in self.__dict__:
            raise AttributeError(name)
        curves = {}
        for metric, (steps_b, values_b) in self.__dict__.pop("_packed_curves").items():
            steps, values = array("q"), array("d")
            steps.frombytes(steps_b)
            values.frombytes(values_b)
            curves[metric] = list(zip(steps.tolist(), values.tolist()))
        self.curves = curves
        return curves

    def value(self, metric: str | None) -> float | None:
        if metric is None:
            return None
        v = self.metrics.get(metric)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        return v

    @property
    def finished(self) -> bool:
        return self.status in (SUCCEEDED, FAILED, STOPPED)


@dataclass
class GroupState:
    group_id: str = ""
    name: str = ""
    spec: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    source_path: str | None = None
    seed: int = 0
    origin: dict[str, Any] | None = None
    created_at: float | None = None
    status: str = "created"  # created | running | succeeded | failed | stopped
    reason: str = ""
    finished_at: float | None = None
    version: int = 0
    last_seq: int = 0
    last_ts: float | None = None
    engine: dict[str, Any] | None = None  # {engine_id, host, pid, lease_seconds, seen_at}
    engines: int = 0  # how many engines have driven this group
    plan: dict[str, Any] | None = None  # the searcher's plan, as the last engine recorded it
    concurrency: int | None = None  # the last engine's (kept after the group ended, unlike engine)
    trials: dict[int, TrialState] = field(default_factory=dict)
    stop_group_requested: ev.StopRequested | None = None
    stop_trial_requests: dict[int, ev.StopRequested] = field(default_factory=dict)
    group_stop: ev.Stopped | None = None  # a stopper (or the user) ended the search
    # (trial, attempt) -> reason: attempts a dying engine's pause was stopping (rerun if they die of it)
    pause_cut: dict[tuple[int, int], str] = field(default_factory=dict)
    exhausted: str | None = None  # the searcher's reason, once it has nothing more to suggest
    plugin_failures: list[ev.PluginFailed] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)  # the runner's, newest last (at most 20)
    # caches for history(): rebuilt only for trials that changed (never part of equality)
    _records: dict[int, TrialRecord] = field(default_factory=dict, compare=False, repr=False)
    _dirty: set[int] = field(default_factory=set, compare=False, repr=False)
    _keys: set[str] = field(default_factory=set, compare=False, repr=False)
    _last_ts_text: str | None = field(default=None, compare=False, repr=False)
    # loaded from a snapshot without its curves (`hpo status`): curves hold only what came after
    # the snapshot, so this state is never written back as one
    curves_partial: bool = field(default=False, compare=False, repr=False)

    # -- folding ---------------------------------------------------------------------------

    @classmethod
    def fold(cls, stored: Iterable[Stored]) -> "GroupState":
        state = cls()
        state.apply_all(stored)
        return state

    def apply_all(self, stored: Iterable[Stored]) -> int:
        """Apply many events; returns how many. The cyclic GC is paused meanwhile: a fold only
        allocates, and collecting a growing heap again and again would make it quadratic."""
        enabled, n = gc.isenabled(), 0
        gc.disable()
        try:
            for s in stored:
                self.apply(s)
                n += 1
        finally:
            if enabled:
                gc.enable()
        return n

    def apply_rows(self, rows: Iterable[tuple]) -> int:
        """Like :meth:`apply_all` over raw ``events`` rows (``EventStore.iter_rows``).

        Metric reports — nearly every event of a big group — are folded straight from their
        JSON, without building event objects; everything else goes through :meth:`apply`. A test
        checks that both paths give the same state.
        """
        enabled, n = gc.isenabled(), 0
        gc.disable()
        report_schema = ev.MetricReported.SCHEMA
        try:
            for seq, group_id, version, type_, schema, payload, ts, writer in rows:
                n += 1
                if type_ == "MetricReported" and schema == report_schema:
                    d = json.loads(payload)
                    self.version, self.last_seq, self._last_ts_text = version, seq, ts
                    self._dirty.add(d["trial_id"])
                    self._report(d["trial_id"], d["attempt"], d["step"], d["metrics"], d.get("offset", 0))
                else:
                    event = ev.decode(type_, schema, payload, trusted=True)
                    self.apply(Stored(seq, group_id, version, ts, writer, event))
        finally:
            if enabled:
                gc.enable()
        if self._last_ts_text is not None:
            self.last_ts, self._last_ts_text = parse_ts(self._last_ts_text), None
        return n

    def apply(self, s: Stored) -> None:
        e, t = s.event, parse_ts(s.ts)
        self.version, self.last_seq, self.last_ts, self._last_ts_text = s.version, s.seq, t, None
        trial_id = getattr(e, "trial_id", None)
        if trial_id is not None:
            self._dirty.add(trial_id)
        handler = getattr(self, "_on_" + e.type, None)  # type: ignore[attr-defined]
        if handler is not None:
            handler(e, t)

    def _on_GroupCreated(self, e: ev.GroupCreated, t: float) -> None:
        self.group_id, self.name, self.spec = e.group_id, e.name, e.spec
        self.source, self.source_path, self.seed, self.origin = e.source, e.source_path, e.seed, e.origin
        self.created_at = t

    def _on_EngineStarted(self, e: ev.EngineStarted, t: float) -> None:
        self.engine = {
            "engine_id": e.engine_id, "host": e.host, "pid": e.pid,
            "lease_seconds": e.lease_seconds, "seen_at": t, "concurrency": e.concurrency,
        }
        self.engines += 1
        self.concurrency = e.concurrency
        if e.plan is not None:
            self.plan = e.plan
        stop, self.pause_cut = self.group_stop, {}
        if stop is not None and stop.group_status == "stopped":
            self.group_stop = None  # a pause ends at resume; any other group stop ends the group
            if self.status == "running":  # its engine died before the pause ended the group
                self.pause_cut = {(tid, tr.attempts): stop.reason for tid, tr in self.trials.items()
                                  if tr.status == RUNNING}
        self.status, self.reason, self.finished_at = "running", "", None
        self.stop_group_requested = None

    def _on_LeaseRenewed(self, e: ev.LeaseRenewed, t: float) -> None:
        if self.engine and self.engine["engine_id"] == e.engine_id:
            self.engine["seen_at"] = t

    def _on_Suggested(self, e: ev.Suggested, t: float) -> None:
        self.trials[e.trial_id] = TrialState(
            e.trial_id, dict(e.params), dict(e.meta), e.searcher, e.seed, suggested_at=t
        )
        self._keys.add(params_key(e.params))

    def _on_SearchExhausted(self, e: ev.SearchExhausted, t: float) -> None:
        if self.exhausted is None:  # the first word stands (an engine records it only once)
            self.exhausted = e.reason

    def _on_TrialLaunched(self, e: ev.TrialLaunched, t: float) -> None:
        tr = self.trials[e.trial_id]
        tr.status, tr.attempts, tr.handle, tr.trial_dir = RUNNING, e.attempt, dict(e.handle), e.trial_dir
        tr.reports, tr.offset, tr.resumable = 0, 0, False
        if tr.metrics:
            tr.previous = (tr.metrics, tr.curves, tr.last_step)
        tr.metrics, tr.curves, tr.last_step = {}, {}, 0  # a new attempt reports afresh
        if tr.started_at is None:
            tr.started_at = t
        tr.attempt_started_at = t
        tr.finished_at = None

    def _on_MetricReported(self, e: ev.MetricReported, t: float) -> None:
        self._report(e.trial_id, e.attempt, e.step, e.metrics, e.offset)

    def _report(self, trial_id: int, attempt: int, step: int, metrics: dict, offset: int) -> None:
        tr = self.trials[trial_id]
        if attempt != tr.attempts:
            return
        tr.reports += 1
        tr.previous = None
        tr.offset = max(tr.offset, offset)
        tr.last_step = step
        for name, value in metrics.items():
            tr.metrics[name] = value
            if value is not None:
                tr.curves.setdefault(name, []).append((step, value))

    def _on_TrialFinished(self, e: ev.TrialFinished, t: float) -> None:
        tr = self.trials[e.trial_id]
        if e.attempt != tr.attempts:
            return
        tr.status, tr.exit_code, tr.signal = e.status, e.exit_code, e.signal
        tr.reason, tr.output_tail, tr.finished_at = e.reason, e.output_tail, t
        if tr.previous is not None and not tr.reports:  # it reported nothing: keep what was
            tr.metrics, tr.curves, tr.last_step = tr.previous
        tr.previous = None
        tr.resumable = e.resumable
        self.stop_trial_requests.pop(e.trial_id, None)

    def _on_TrialRetried(self, e: ev.TrialRetried, t: float) -> None:
        tr = self.trials[e.trial_id]
        if e.attempt != tr.attempts:
            return
        tr.status, tr.retries = PENDING, tr.retries + 1  # the slot filler launches it again
        tr.retry_reasons = tr.retry_reasons + (e.reason,)

    def _on_ReportsRejected(self, e: ev.ReportsRejected, t: float) -> None:
        tr = self.trials[e.trial_id]
        tr.rejected += e.count
        room = MAX_REJECTED_EXAMPLES - len(tr.rejected_examples)
        if room > 0 and e.examples:
            tr.rejected_examples = tr.rejected_examples + tuple(e.examples[:room])

    def _on_StopRequested(self, e: ev.StopRequested, t: float) -> None:
        if e.trial_id is None:
            self.stop_group_requested = e
        else:
            self.stop_trial_requests[e.trial_id] = e

    def _on_Stopped(self, e: ev.Stopped, t: float) -> None:
        if e.scope == "group":
            self.group_stop = e
            self.stop_group_requested = None
        elif e.trial_id is not None and e.trial_id in self.trials:
            self.trials[e.trial_id].stop_decision = e.model_dump()
            self.stop_trial_requests.pop(e.trial_id, None)

    def _on_PluginFailed(self, e: ev.PluginFailed, t: float) -> None:
        self.plugin_failures.append(e)

    def _on_RunnerNoticed(self, e: ev.RunnerNoticed, t: float) -> None:
        self.notices.append({"at": t, "runner": e.runner, "message": e.message, "details": dict(e.details)})
        del self.notices[:-NOTICES_KEPT]

    def _on_GroupFinished(self, e: ev.GroupFinished, t: float) -> None:
        self.status, self.reason, self.finished_at = e.status, e.reason, t
        self.engine = None

    # -- views -----------------------------------------------------------------------------

    @property
    def metric(self) -> dict[str, str] | None:
        return self.spec.get("metric")

    @property
    def metric_name(self) -> str | None:
        m = self.metric
        return m["name"] if m else None

    @property
    def next_trial_id(self) -> int:
        return len(self.trials) + 1

    def history(self) -> SearchHistory:
        """What searchers see, copied (changing it changes no state); only changed trials are rebuilt."""
        name, copy = self.metric_name, lambda data: json.loads(json.dumps(data))
        def record(t: TrialState) -> TrialRecord:
            return TrialRecord(t.trial_id, copy(t.params), t.status, t.value(name), copy(t.meta))
        for trial_id in sorted(self._dirty):  # new trials enter in id order (see _ascending)
            t = self.trials.get(trial_id)
            if t is not None:
                self._records[trial_id] = record(t)
        self._dirty.clear()
        records = self._records
        if len(records) != len(self.trials):  # e.g. a state unpickled from an older snapshot
            self._records = records = {i: record(t) for i, t in self.trials.items()}
        ordered = records.values() if _ascending(records) else [records[i] for i in sorted(records)]
        return SearchHistory(tuple(ordered), keys=self._keys)

    def by_status(self, *statuses: str) -> list[TrialState]:
        return [t for t in self.trials.values() if t.status in statuses]

    def running(self) -> list[TrialState]:
        return self.by_status(RUNNING)

    def pending(self) -> list[TrialState]:
        return sorted(self.by_status(PENDING), key=lambda t: t.trial_id)

    def best(self) -> TrialState | None:
        """The best trial, as :mod:`hpo.eventlog.ranking` defines it for every view."""
        return ranking.best(self)

    def lease_alive(self, now: float) -> bool:
        if self.engine is None:
            return False
        return now - self.engine["seen_at"] < self.engine["lease_seconds"]


def _ascending(records: dict[int, TrialRecord]) -> bool:
    """Trials are suggested in id order, so the dict is almost always already sorted."""
    n = len(records)
    return n == 0 or (next(iter(records)) == 1 and next(reversed(records)) == n)
