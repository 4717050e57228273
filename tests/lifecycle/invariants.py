"""The invariants the engine keeps under every fault (docs/lifecycle.md "Guarantees"), checked
on a group's log after the fact: what every chaos run must satisfy."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from hpo.engine.lifecycle import replay_check
from hpo.eventlog.chain import verify
from hpo.eventlog.store import EventStore


def check_invariants(db: Path, group: str, concurrency: int) -> dict:
    """Assert every invariant on ``group``'s log; returns a few counts for the caller."""
    store = EventStore(db)
    try:
        gid = store.resolve(group)
        events = list(store.read(gid))
        _concurrency_kept(events, concurrency)
        ids = [s.event.trial_id for s in events if s.type == "Suggested"]
        assert ids == list(range(1, len(ids) + 1)), f"trial ids not each once and in order: {ids}"
        _no_report_twice(events)
        _finished_once(events)
        _group_stop_kept(events)
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
        checked, mismatches = replay_check(store, gid)
        assert mismatches == [], f"replay --check: {mismatches}"
        verdict = verify(store, gid)
        assert verdict.ok, f"hpo verify: {verdict.broken}"
        engines = sum(1 for s in events if s.type == "EngineStarted")
        return {"trials": len(ids), "engines": engines, "checked": checked}
    finally:
        store.close()


def most_running(events) -> int:
    """The most attempts running at once, counted from the log: a ``TrialLaunched`` starts an
    attempt, its ``TrialFinished`` ends it."""
    running: set[tuple[int, int]] = set()
    most = 0
    for s in events:
        if s.type == "TrialLaunched":
            running.add((s.event.trial_id, s.event.attempt))
        elif s.type == "TrialFinished":
            running.discard((s.event.trial_id, s.event.attempt))
        most = max(most, len(running))
    return most


def _concurrency_kept(events, concurrency: int) -> None:
    most = most_running(events)
    assert most <= concurrency, f"{most} attempts ran at once at concurrency {concurrency}"


def _no_report_twice(events) -> None:
    seen: set[tuple[int, int, int]] = set()
    for s in events:
        if s.type == "MetricReported":
            key = (s.event.trial_id, s.event.attempt, s.event.offset)
            assert key not in seen, f"report recorded twice: trial {key[0]} attempt {key[1]} offset {key[2]}"
            seen.add(key)


def _finished_once(events) -> None:
    """An attempt that exited 0 is recorded once and the trial never runs again after it."""
    succeeded: set[int] = set()
    for s in events:
        e = s.event
        if s.type == "TrialLaunched" and e.trial_id in succeeded:
            raise AssertionError(f"trial {e.trial_id} ran again after it succeeded (seq {s.seq})")
        if s.type == "TrialFinished":
            assert not (e.status == "stopped" and e.exit_code == 0 and e.resumable), (
                f"trial {e.trial_id} exited 0 yet was recorded stopped to run again: "
                f"{json.dumps(e.model_dump())}")
            if e.status == "succeeded":
                assert e.trial_id not in succeeded, f"trial {e.trial_id} succeeded twice"
                succeeded.add(e.trial_id)


def _group_stop_kept(events) -> None:
    """A group stop the log records (other than a pause, which resume undoes) ends the group:
    decided once, and no attempt launched after it."""
    stop = None  # the Stored group stop in force
    for s in events:
        e = s.event
        if s.type == "Stopped" and e.scope == "group":
            assert stop is None, (f"the group stop at seq {s.seq} decided again what seq {stop.seq} "
                                  f"had: {e.reason}")
            stop = s if e.group_status != "stopped" else None
        elif s.type == "TrialLaunched" and stop is not None:
            raise AssertionError(f"trial {e.trial_id} launched (seq {s.seq}) after the group stopped "
                                 f"(seq {stop.seq}: {stop.event.reason})")
