"""The engine: the only writer that decides for a group, while it holds the group's lease.

One tick: read what other processes appended (stop requests), collect what the runner saw
(reports, exits), ask the stoppers, fill free slots with the searcher's suggestions, launch them.
Every fact becomes an event first; the in-memory :class:`GroupState` is only ever updated by
folding the events just committed, so the engine's view and the log cannot drift apart.

This module holds the :class:`Engine` (construction, the log, run/start/tick/finish); each step
of a tick is a collaborator in its own module: :mod:`~hpo.engine.lease`,
:mod:`~hpo.engine.recovery`, :mod:`~hpo.engine.collect`, :mod:`~hpo.engine.stops`,
:mod:`~hpo.engine.slots` (with :mod:`~hpo.engine.suggest`) and :mod:`~hpo.engine.faults`.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Callable

from hpo.contracts.registry import Registry, default_registry
from hpo.contracts.runner import Launch, Runner
from hpo.contracts.searcher import PENDING, RUNNING, STOPPED
from hpo.engine.backend import Backend
from hpo.engine.admit import Admission
from hpo.engine.attempts import LaunchPlanner
from hpo.engine.collect import collect
from hpo.engine.composition import build_plugins, from_log
from hpo.engine.faults import Faults
from hpo.engine.integrity import Integrity, unreadable
from hpo.engine.lease import Lease, LeaseLost
from hpo.engine.logfile import LogFileWatch
from hpo.engine.plans import plan_from
from hpo.engine.recovery import recover
from hpo.engine.signals import SignalInterrupt, held, pause_on_signals
from hpo.engine.slots import Slots
from hpo.engine.stops import Stops, close_runner
from hpo.engine.suggest import confirm_exhausted
from hpo.errors import ConcurrencyError, HpoError, LogFileGone, LogTampered, StoreError
from hpo.eventlog import events as ev
from hpo.eventlog import snapshots
from hpo.eventlog.state import GroupState, TrialState
from hpo.eventlog.store import EventStore, Stored
from hpo.spec import GroupSpec

__all__ = ["Engine", "LeaseLost", "Listener"]

log = logging.getLogger(__name__)
Listener = Callable[[Stored, GroupState], None]


class Engine:
    """Drives one group. ``runner``, when given, runs the trials instead of the spec's runner
    (the ask/tell API is the runner of its groups); the spec keeps naming the runner
    ``hpo resume`` builds."""

    def __init__(
        self,
        store: EventStore,
        group_id: str,
        *,
        registry: Registry | None = None,
        runner: Runner | None = None,
        concurrency: int | None = None,
        lease_seconds: float = 15.0,
        poll_interval: float = 0.05,
        listeners: list[Listener] | None = None,
    ):
        self.store, self.group_id = store, group_id
        self.registry = registry or default_registry()
        try:
            # the whole log, never a snapshot: they are a cache for views, and whoever can write
            # the database can forge one (the engine acts on its state)
            self.state = snapshots.load_state(store, group_id, cache=False)
        except StoreError as exc:  # an event it cannot read: the chain says whether it was changed
            raise unreadable(store, group_id, exc) from exc
        self.spec = from_log(GroupSpec.from_json(self.state.spec), self.registry)
        self.plugins = build_plugins(self.spec, self.state.seed, self.registry, runner=runner)
        self.searcher, self.runner = self.plugins.searcher, self.plugins.runner
        self.admission = Admission(self.searcher)
        # whether this engine recorded the searcher's Exhausted: it then asks once more when the
        # last trial is done (an engine that found it in the log never asks again)
        self.heard_exhausted = False
        # a --concurrency holds from then on: without one, the last engine's (then the spec's)
        self.concurrency = concurrency or self.state.concurrency or self.spec.concurrency
        self.lease_seconds, self.poll_interval = lease_seconds, poll_interval
        self.listeners = list(listeners or [])
        self.engine_id = uuid.uuid4().hex[:12]
        self.planner = LaunchPlanner(self.spec, self.state, store.folder, self.searcher.continues)
        self.faults = Faults()
        self.lease = Lease(self)
        self.log_file = LogFileWatch(store.path)
        self.integrity = Integrity(self)
        self.stops = Stops(self)
        self.slots = Slots(self)
        self.backend = Backend(self)
        self._idle = 0.0005
        self._since_snapshot = 0
        # ids of the trials still to run or running (pending, running, or interrupted to run
        # again): what a tick looks at, kept up to date in _apply, so a tick never scans every
        # trial of a long group
        self._open: set[int] = {tid for tid, tr in self.state.trials.items() if _is_open(tr)}

    # -- the log ---------------------------------------------------------------------------

    def append(self, events: list[ev.Event], launches: bool = True, retry: bool = True) -> list[Stored]:
        """Write ``events`` and fold them into the state.

        ``launches``: write the launches not yet recorded first (they happened before whatever
        follows). ``retry``: on a concurrent append, catch up and write again (else raise
        :class:`~hpo.errors.ConcurrencyError`, for writes that depend on the state they saw).
        """
        if launches and self.slots.unrecorded:
            events = self.slots.take_unrecorded() + list(events)
        self.faults.before_append(events)
        while True:
            try:
                with held():  # an interrupt waits until what is written is folded
                    stored = self.store.append(self.group_id, events, self.state.version,
                                               expected_head=self.integrity.expected_head())
                    self.faults.after_append(events)
                    self.integrity.wrote(stored)
                    for s in stored:
                        self._apply(s)
            except ConcurrencyError:
                if not retry:
                    raise
                self.sync()
                continue
            return stored

    def sync(self) -> None:
        """Fold what other processes appended; raises :class:`LeaseLost` if one took the group,
        :class:`~hpo.errors.LogFileGone` if the database file is no longer there,
        :class:`~hpo.errors.LogTampered` if what they appended is not theirs to write."""
        self.log_file.check()
        with held():
            rows = self.store.read_chained(self.group_id, self.state.version)
            for s in self.integrity.others(rows):
                self._apply(s)
            if rows:
                self.integrity.wrote([rows[-1][0]])
        self.lease.check()

    def _apply(self, s: Stored) -> None:
        self.state.apply(s)
        trial_id = getattr(s.event, "trial_id", None)
        if trial_id is not None:
            tr = self.state.trials.get(trial_id)
            if tr is not None and _is_open(tr):
                self._open.add(trial_id)
            else:
                self._open.discard(trial_id)
        self._since_snapshot += 1
        if self._since_snapshot >= snapshots.EVERY or s.type == "GroupFinished":
            snapshots.write_snapshot(self.store, self.state)
            self._since_snapshot = 0
        self.registry.observe(group_id=self.group_id, seq=s.seq, event=s.event)
        for listener in self.listeners:
            try:
                listener(s, self.state)
            except Exception as exc:  # a view must never break the engine
                log.warning("listener failed: %s", exc)

    # -- lifecycle -------------------------------------------------------------------------

    def run(self, mode: str = "run") -> GroupState:
        """Drive the group until it finishes, is stopped, or the user interrupts."""
        self.start(mode)
        try:
            with pause_on_signals():
                while not self.tick():
                    pass
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP (a SignalInterrupt)
            # the pause ignores SIGTERM and SIGHUP (the terminal closed after a Ctrl-C); a second
            # Ctrl-C still leaves at once (Stops.pause)
            if isinstance(exc, SignalInterrupt):
                self.pause(exc.reason, requested_by=exc.name)
            else:
                self.pause("interrupted by the user (Ctrl-C)", requested_by="keyboard")
        except LogFileGone as exc:  # a deleted log can record nothing: its trials stop with it
            self.runner.close(stop_running=exc.deleted)
            raise
        except BaseException:  # LeaseLost included
            self.runner.close(stop_running=False)  # trials outlive a crashed engine; resume finds them
            raise
        return self.state

    def start(self, mode: str) -> None:
        """Verify the log's chain, take the lease (``EngineStarted``) and recover the trials a
        previous engine left. A broken chain is recorded, the group paused and
        :class:`~hpo.errors.LogTampered` raised."""
        st = self.state
        if st.status in ("succeeded", "failed"):
            raise HpoError(
                f"group {st.name} ({self.group_id}) already {st.status}: {st.reason}. "
                "Use `hpo restart` for a new group with the same spec."
            )
        try:
            self.integrity.start()
            self.lease.take(mode, self._plan())
            recover(self)
        except LogTampered as exc:
            if self.integrity.new_finding(exc):  # recorded under the lease, like any decision
                self.integrity.tripped = True
                if not self.lease.renewed:
                    self.lease.take(mode, self._plan())
                    recover(self)
                self.integrity.stop_group(exc)
            raise

    def _plan(self) -> dict | None:
        """The searcher's plan, recorded so views show it without loading any plugin."""
        try:
            plan = plan_from(self.searcher).to_json()
            json.dumps(plan, allow_nan=False)
        except Exception as exc:  # only a display aid: never a reason to stop the engine
            log.debug("no plan recorded for group %s: %s", self.group_id, exc)
            return None
        return plan

    def pause(self, reason: str, requested_by: str) -> None:
        """Stop every running trial (to run again on resume) and end as ``stopped``."""
        self.stops.pause(reason, requested_by)

    def tick(self) -> bool:
        """One round of the loop; True when the group has finished. A change to the log that
        this engine did not make is recorded, the group paused, and
        :class:`~hpo.errors.LogTampered` raised."""
        try:
            return self._tick()
        except LogTampered as exc:
            self.integrity.stop_group(exc)
            raise

    def _tick(self) -> bool:
        self.sync()
        self.integrity.audit()
        busy = self.stops.requests()
        if self.state.status == "stopped" or self.backend.pause_if_expired():
            return True
        busy |= collect(self)
        if self.stops.due():
            self.stops.run()  # time-based rules (max_duration) fire without new reports
        if self.state.group_stop is None:  # an exhausted searcher still has its pending trials to run
            busy |= self.slots.fill()
        if self.stopping() and not self.active() and (self.state.group_stop or not self.interrupted()):
            if self.state.group_stop is None and self.heard_exhausted:  # Exhausted must hold
                failure = confirm_exhausted(self)
                if failure is not None:
                    self.stops.plugin_failed(f"searcher {self.searcher.name}", failure)
            self._finish()
            return True
        self.lease.renew()
        self._wait(busy)
        return False

    def _wait(self, busy: bool) -> None:
        if busy:
            self._idle = 0.0005
        elif getattr(self.runner, "wakes_on_exit", False):
            # exits wake the runner's wait() at once; reports, stop requests and timeouts can
            # wait for the next poll, so an idle engine costs a tick per poll_interval, not a
            # burst of fast ticks after every launch
            self.runner.wait(self.poll_interval)
        else:  # back off from 0.5 ms to poll_interval while nothing happens
            self.runner.wait(self._idle)
            self._idle = min(self._idle * 2, self.poll_interval)

    def _finish(self) -> None:
        self.log_file.check()  # never report success into a log that is gone
        st = self.state
        if st.group_stop is not None:
            status, reason = st.group_stop.group_status, st.group_stop.reason
        else:
            ok = [t for t in st.trials.values() if t.status == "succeeded"]
            status = "succeeded" if ok or not st.trials else "failed"
            reason = st.exhausted or ""
            if not ok and st.trials:
                reason = f"all {len(st.trials)} trials failed or were stopped; {reason}"
        self.append([ev.GroupFinished(status=status, reason=reason)])
        close_runner(self)

    # -- the trials a tick looks at ----------------------------------------------------------

    def stopping(self) -> bool:
        """No new suggestions: a stop ended the search, or the searcher is exhausted."""
        return self.state.group_stop is not None or self.state.exhausted is not None

    def interrupted(self) -> list[TrialState]:
        """Trials stopped by a pause or lost with a crashed engine, to run again."""
        trials = self.state.trials
        return [trials[i] for i in sorted(self._open) if trials[i].status == STOPPED]

    def active(self) -> list[TrialState]:
        trials = self.state.trials
        return [trials[i] for i in self._open if trials[i].status in (PENDING, RUNNING)]

    def pending(self) -> list[TrialState]:
        trials = self.state.trials
        return [trials[i] for i in sorted(self._open) if trials[i].status == PENDING]

    # -- launches ----------------------------------------------------------------------------

    def checkpoint_dir(self, tr: TrialState) -> Path:
        return self.planner.checkpoint_dir(tr)

    def launch_spec(self, tr: TrialState, attempt: int) -> Launch:
        return self.planner.launch(tr, attempt)


def _is_open(tr: TrialState) -> bool:
    """Whether a trial still needs the engine: pending, running, or interrupted to run again."""
    return tr.status in (PENDING, RUNNING) or (tr.status == STOPPED and tr.resumable)
