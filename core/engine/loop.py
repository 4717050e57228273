"""The engine: the only writer that decides for a group, while it holds the group's lease.

One tick: read what other processes appended (stop requests), collect what the runner saw
(reports, exits), ask the stoppers, fill free slots with the searcher's suggestions, launch them.
Every fact becomes an event first; the in-memory :class:`GroupState` is only ever updated by
folding the events just committed, so the engine's view and the log cannot drift apart.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import time
import uuid
from pathlib import Path
from collections.abc import Set as AbstractSet
from typing import Callable, Iterator

from hpo.eventlog import events as ev
from hpo.eventlog import snapshots
from hpo.runkit.procs import engine_alive
from hpo.errors import ConcurrencyError, HpoError, LeaseHeld
from hpo.engine.composition import build_plugins
from hpo.engine.attempts import LaunchPlanner
from hpo.contracts.registry import Registry, default_registry
from hpo.engine.plans import plan_from
from hpo.contracts.runner import Exited, Launch, Reported, RunnerNotice
from hpo.contracts.searcher import (
    PENDING, RUNNING, STOPPED, Exhausted, SearchHistory, Suggestion, TrialRecord, Wait, params_key,
)
from hpo.spec import GroupSpec
from hpo.eventlog.state import GroupState, TrialState
from hpo.engine.stop_view import stop_view
from hpo.eventlog.store import EventStore, Stored

log = logging.getLogger(__name__)
Listener = Callable[[Stored, GroupState], None]
FAULT_ENV = "HPO_FAULT"  # testing aid: "point:n" kills the engine (SIGKILL) at the n-th `point`


class _Faults:
    """Crash the engine at a precise point, for the crash-recovery tests. Off unless HPO_FAULT is set."""

    def __init__(self) -> None:
        point, _, n = os.environ.get(FAULT_ENV, "").partition(":")
        self.point, self.left = point, int(n or 1)

    def hit(self, point: str) -> None:
        if point == self.point:
            self.left -= 1
            if self.left == 0:
                os.kill(os.getpid(), signal.SIGKILL)


class LeaseLost(HpoError):
    """Another engine took the group over (our lease had expired)."""


class Engine:
    def __init__(
        self,
        store: EventStore,
        group_id: str,
        *,
        registry: Registry | None = None,
        concurrency: int | None = None,
        lease_seconds: float = 15.0,
        poll_interval: float = 0.05,
        listeners: list[Listener] | None = None,
    ):
        self.store, self.group_id = store, group_id
        self.registry = registry or default_registry()
        self.state = snapshots.load_state(store, group_id)
        self.spec = GroupSpec.from_json(self.state.spec)
        self.plugins = build_plugins(self.spec, self.state.seed, self.registry)
        self.searcher, self.runner = self.plugins.searcher, self.plugins.runner
        self.concurrency = concurrency or self.spec.concurrency
        self.lease_seconds, self.poll_interval = lease_seconds, poll_interval
        self.listeners = list(listeners or [])
        self.engine_id = uuid.uuid4().hex[:12]
        self.exhausted: str | None = None
        self._renewed = 0.0
        self._stoppers_at = 0.0
        self._faults = _Faults()
        self._idle = 0.0005
        self._since_snapshot = 0
        self.planner = LaunchPlanner(self.spec, self.state, store.folder)
        # TrialLaunched events of attempts already started, not yet written: they go into the
        # log with the next append (one transaction per launch round instead of one per trial)
        self._unrecorded: list[ev.Event] = []
        # ids of the trials still to run or running (pending, running, or interrupted to run
        # again): what a tick looks at, kept up to date in _apply, so a tick never scans every
        # trial of a long group
        self._open: set[int] = {tid for tid, tr in self.state.trials.items() if _is_open(tr)}

    # -- the log ---------------------------------------------------------------------------

    def _append(self, events: list[ev.Event], record_launches: bool = True, retry: bool = True) -> list[Stored]:
        if self._unrecorded and record_launches:  # they happened before whatever follows
            events, self._unrecorded = self._unrecorded + list(events), []
        while True:
            try:
                stored = self.store.append(self.group_id, events, self.state.version)
            except ConcurrencyError:
                if not retry:
                    raise
                self._sync()
                continue
            for s in stored:
                self._apply(s)
            return stored

    def _sync(self) -> None:
        for s in self.store.read(self.group_id, after_version=self.state.version):
            self._apply(s)
        eng = self.state.engine
        if self._renewed and (eng is None or eng["engine_id"] != self.engine_id):
            raise LeaseLost(f"group {self.group_id} was taken over by engine {eng and eng['engine_id']}")

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
            while not self.tick():
                pass
        except KeyboardInterrupt:
            self.pause("interrupted by the user (Ctrl-C)", requested_by="keyboard")
        except LeaseLost:
            self.runner.close(stop_running=False)
            raise
        except BaseException:
            self.runner.close(stop_running=False)  # trials outlive a crashed engine; resume finds them
            raise
        return self.state

    def start(self, mode: str) -> None:
        st, now = self.state, time.time()
        if st.status in ("succeeded", "failed"):
            raise HpoError(
                f"group {st.name} ({self.group_id}) already {st.status}: {st.reason}. "
                "Use `hpo restart` for a new group with the same spec."
            )
        took_over = None
        if st.engine is not None:
            if engine_alive(st.engine, now):
                eng = st.engine
                raise LeaseHeld(
                    f"group {self.group_id} is being driven by engine {eng['engine_id']} "
                    f"(pid {eng['pid']} on {eng['host']}); its lease is alive. Use `hpo stop` "
                    "to stop it, or wait for its lease to expire if it is stuck."
                )
            took_over = st.engine["engine_id"]
        self._append([
            ev.EngineStarted(
                engine_id=self.engine_id, host=socket.gethostname(), pid=os.getpid(),
                lease_seconds=self.lease_seconds, mode="resume" if mode == "resume" else "run",
                took_over_from=took_over, concurrency=self.concurrency, plan=self._plan(),
            )
        ])
        self._renewed = time.monotonic()
        self._recover()

    def _plan(self) -> dict | None:
        """The searcher's plan, recorded so views show it without loading any plugin."""
        try:
            plan = plan_from(self.searcher).to_json()
            json.dumps(plan, allow_nan=False)
        except Exception as exc:  # only a display aid: never a reason to stop the engine
            log.debug("no plan recorded for group %s: %s", self.group_id, exc)
            return None
        return plan

    def _recover(self) -> None:
        """Reattach trials that still run; relaunch the ones a crash or a pause interrupted."""
        for tr in sorted(self.state.trials.values(), key=lambda t: t.trial_id):
            if tr.status == RUNNING:
                launch = self._launch_spec(tr, tr.attempts)
                if self.runner.reattach(launch, tr.handle, tr.offset):
                    self._append([ev.TrialReattached(trial_id=tr.trial_id, attempt=tr.attempts)])
                else:  # launched again by _fill_slots, within the concurrency and the runner's room
                    self._append([ev.TrialFinished(
                        trial_id=tr.trial_id, attempt=tr.attempts, status="stopped", resumable=True,
                        reason="the attempt was lost with the engine (process gone); running it again",
                    )])

    def pause(self, reason: str, requested_by: str) -> None:
        """Stop every running trial (to run again on resume) and end as ``stopped``."""
        running = {key for key in self.runner.running()}
        for tid, attempt in running:
            self.runner.stop(tid, attempt, reason)
        self._append([ev.Stopped(scope="group", reason=reason, policy="user", group_status="stopped",
                                 evidence={"requested_by": requested_by})])
        deadline = time.monotonic() + 30
        while self.runner.running() and time.monotonic() < deadline:
            self._collect(resumable=True)
            time.sleep(0.02)
        self.runner.close(stop_running=True)
        self._collect(resumable=True)
        self._append([ev.GroupFinished(status="stopped", reason=reason)])

    # -- one tick --------------------------------------------------------------------------

    def tick(self) -> bool:
        """One round of the loop; True when the group has finished."""
        self._sync()
        busy = self._handle_requests()
        if self.state.status == "stopped":
            return True
        busy |= self._collect()
        if self.plugins.stoppers and time.monotonic() - self._stoppers_at > 1.0:
            self._run_stoppers()  # time-based rules (max_duration) fire without new reports
        if self.state.group_stop is None:  # an exhausted searcher still has its pending trials to run
            busy |= self._fill_slots()
        if self._stopping() and not self._active() and (self.state.group_stop or not self._interrupted()):
            self._finish()
            return True
        self._renew_lease()
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
        return False

    def _stopping(self) -> bool:
        return self.state.group_stop is not None or self.exhausted is not None

    def _interrupted(self) -> list[TrialState]:
        """Trials stopped by a pause or lost with a crashed engine, to run again."""
        trials = self.state.trials
        return [trials[i] for i in sorted(self._open) if trials[i].status == STOPPED]

    def _active(self) -> list[TrialState]:
        trials = self.state.trials
        return [trials[i] for i in self._open if trials[i].status in (PENDING, RUNNING)]

    def _pending(self) -> list[TrialState]:
        trials = self.state.trials
        return [trials[i] for i in sorted(self._open) if trials[i].status == PENDING]

    def _handle_requests(self) -> bool:
        st, busy = self.state, False
        if st.stop_group_requested is not None:
            req = st.stop_group_requested
            self.pause(req.reason or f"stopped by {req.requested_by}", req.requested_by)
            return True
        for tid, req in list(st.stop_trial_requests.items()):
            tr = st.trials.get(tid)
            if tr is None or tr.status != RUNNING or tr.stop_decision is not None:
                continue
            reason = req.reason or f"stopped by {req.requested_by}"
            self._append([ev.Stopped(scope="trial", trial_id=tid, reason=reason, policy="user",
                                     evidence={"requested_by": req.requested_by})])
            self.runner.stop(tid, tr.attempts, reason)
            busy = True
        return busy

    def _collect(self, resumable: bool = False) -> bool:
        try:
            messages = self.runner.poll()
        except Exception as exc:
            self._runner_failed(exc)
            return True
        if not messages:
            return False
        batch: list[ev.Event] = []
        steps: dict[int, int] = {}
        last_notice = self.state.notices[-1]["message"] if self.state.notices else None
        for m in messages:
            if isinstance(m, Reported):
                tr = self.state.trials[m.trial_id]
                steps[m.trial_id] = steps.get(m.trial_id, tr.reports) + 1
                step = m.step if m.step is not None else steps[m.trial_id]
                batch.append(ev.MetricReported(trial_id=m.trial_id, attempt=m.attempt, step=step,
                                               metrics=m.metrics, offset=m.offset))
            elif isinstance(m, Exited):
                batch.append(ev.TrialFinished(
                    trial_id=m.trial_id, attempt=m.attempt, status=m.status, exit_code=m.exit_code,
                    signal=m.signal, reason=m.reason, output_tail=m.output_tail,
                    resumable=resumable and m.status == "stopped",
                ))
            elif isinstance(m, RunnerNotice):
                log.warning("runner: %s", m.message)
                if m.message != last_notice:  # a host that stays down is one event, not one a poll
                    batch.append(ev.RunnerNoticed(runner=self.runner.name, message=m.message,
                                                  details=_plain(m.details)))
                    last_notice = m.message
        self._append(batch)
        self._faults.hit("collected")
        if any(isinstance(m, Reported) for m in messages):
            self._run_stoppers()
        return True

    def _run_stoppers(self) -> None:
        # after a group decision, trial rules still judge the trials it let finish
        if not self.plugins.stoppers:
            return
        self._record_launches()  # stoppers judge started trials as running (a budget counts them)
        if self.state.group_stop is not None and not self.state.running():
            return
        self._stoppers_at = time.monotonic()
        view = stop_view(self.state, self.searcher.planned_trials())
        decided: set[int] = set()
        for stopper in self.plugins.stoppers:
            try:
                decisions = stopper.decide(view)
            except Exception as exc:
                self._plugin_failed(f"stopper {stopper.name}", exc)
                return
            for d in decisions:
                if d.scope == "group":
                    if self.state.group_stop is None:
                        self._stop_group(d)
                    continue
                tr = self.state.trials.get(d.trial_id)
                if tr is None or tr.status != RUNNING or tr.stop_decision or d.trial_id in decided:
                    continue
                decided.add(d.trial_id)
                self._append([ev.Stopped(scope="trial", trial_id=d.trial_id, reason=d.reason,
                                         policy=d.policy, evidence=d.evidence)])
                self.runner.stop(d.trial_id, tr.attempts, d.reason)

    def _stop_group(self, d) -> None:
        evidence = dict(d.evidence)
        stop_running = getattr(d, "stop_running", True)
        if not stop_running:
            evidence["running_trials"] = "allowed to finish"
        self._append([ev.Stopped(scope="group", reason=d.reason, policy=d.policy,
                                 group_status=d.group_status, evidence=evidence)])
        for tr in self.state.running() if stop_running else []:
            self.runner.stop(tr.trial_id, tr.attempts, f"the group stopped: {d.reason}")
        for tr in self.state.pending():
            self._append([ev.TrialFinished(trial_id=tr.trial_id, attempt=tr.attempts, status="stopped",
                                           reason=f"never started: the group stopped: {d.reason}")])

    def _fill_slots(self) -> bool:
        try:
            return self._fill_slots_unrecorded()
        finally:
            self._record_launches()

    def _record_launches(self) -> None:
        """Write the TrialLaunched events of the attempts this round started (one transaction)."""
        if self._unrecorded:
            self._append([])

    def _fill_slots_unrecorded(self) -> bool:
        """Launch what fits; the launches are recorded with the next append (or by the caller).

        Each ``Suggested`` is written before its trial starts (a resumed engine must know every
        trial that may be running); the ``TrialLaunched`` events of the round are written together
        after the last start (or before anything else is appended, e.g. a stopper's decision).
        The next suggestion of the round is written before them, so a searcher sees the trials it
        just suggested as pending, and the log says so at the version it records
        (``seen_version``), which is what ``hpo replay --check`` rebuilds. A crash before they
        are written leaves the trials pending: the next engine finds their processes by their
        attempt folders (``Runner.discard``) and launches them again.
        """
        busy = False
        capacity = self.runner.capacity()
        slots = self.concurrency if capacity is None else min(self.concurrency, capacity)
        # first the trials already suggested: pending ones (they hold a slot), then the ones a
        # crash or a pause interrupted (they need one); only then new suggestions
        for tr in self._pending() + self._interrupted():
            if tr.status != PENDING and len(self._active()) >= slots:
                return busy
            if not self._launch_if_room(tr):
                return busy
            busy = True
        active = len(self._active())
        while active < slots and not self._stopping():
            if self.plugins.stoppers:
                self._run_stoppers()  # a budget or a failure rule may forbid the next trial
                if self._stopping():
                    break
            # stoppers judge between suggestions; without them a round's suggestions are asked
            # for together and recorded in one transaction
            limit = 1 if self.plugins.stoppers else slots - active
            new, halt, failure = self._suggest(limit)
            busy |= bool(new) or failure is not None
            active += len(new)
            for tr in new:
                if not self._launch_if_room(tr):
                    halt = True  # it waits as pending, with the others of its round
                    break
            if failure is not None:
                self._plugin_failed(f"searcher {self.searcher.name}", failure)
                return True
            if halt:
                break
        return busy

    def _suggest(self, limit: int) -> tuple[list[TrialState], bool, BaseException | None]:
        """Ask the searcher for up to ``limit`` trials; record them in one transaction.

        Returns the new trials, whether to stop asking (the searcher waits or is exhausted), and
        the searcher's failure, if any (the trials it suggested before failing still run). The
        n-th suggestion of a round sees the ones before it as pending trials, exactly as the log
        has them at the version it records (``seen_version``), which is what
        ``hpo replay --check`` rebuilds; if another process appended meanwhile, the round is
        asked again on the new state.
        """
        while True:
            base, version = self.state.history(), self.state.version
            events: list[ev.Suggested] = []
            records: list[TrialRecord] = []
            keys: set[str] = set()
            halt, failure = False, None
            history = base
            while len(events) < limit:
                try:
                    decision = self.searcher.suggest(history)
                except Exception as exc:
                    failure = exc
                    break
                if isinstance(decision, Wait):
                    halt = True
                    break
                if isinstance(decision, Exhausted):
                    self.exhausted, halt = decision.reason, True
                    break
                if not isinstance(decision, Suggestion):
                    failure = TypeError(f"suggest() returned {decision!r}")
                    break
                trial_id = history.next_trial_id
                params = json.loads(json.dumps(decision.params, default=_jsonable))
                e = ev.Suggested(
                    trial_id=trial_id, params=params, meta=decision.meta, searcher=self.searcher.name,
                    searcher_version=self.searcher.version, seed=self.searcher.derived_seed(trial_id),
                    seen_version=version + len(events),
                )
                events.append(e)
                if len(events) < limit:  # what the state will hold once ``e`` is folded
                    records.append(TrialRecord(trial_id, dict(e.params), PENDING, None, dict(e.meta)))
                    keys.add(params_key(e.params))
                    history = SearchHistory(base.trials + tuple(records),
                                            keys=_Union(base.param_keys(), keys))
            if not events:
                return [], halt, failure
            try:
                self._append(events, record_launches=False, retry=False)
            except ConcurrencyError:
                self._sync()  # e.g. a stop request arrived: ask again, on the new state
                continue
            for _ in events:
                self._faults.hit("suggested")
            return [self.state.trials[e.trial_id] for e in events], halt, failure

    def _launch_if_room(self, tr: TrialState) -> bool:
        """Launch ``tr`` unless the runner has no room yet (e.g. its GPUs are held): it waits."""
        launch = self._launch_spec(tr, tr.attempts + 1)
        try:
            room = self.runner.can_start(launch)
        except Exception:  # let start() fail the trial with the runner's own error
            room = True
        if not room:
            return False
        self._launch(tr, launch)
        return True

    def _plugin_failed(self, plugin: str, exc: BaseException) -> None:
        dist = getattr(exc, "distribution", "")
        self._append([ev.PluginFailed(plugin=plugin, distribution=dist, error=f"{type(exc).__name__}: {exc}")])
        self._stop_group(_Decision(f"{plugin} failed: {exc}", "engine", "failed"))

    def _runner_failed(self, exc: BaseException) -> None:
        """A runner that cannot poll cannot say how its trials end: record the failure once, let
        go of its trials (recorded as stopped) and let the group finish as failed."""
        self._plugin_failed(f"runner {self.runner.name}", exc)
        try:
            self.runner.close(stop_running=True)
        except Exception as close_exc:  # it is broken: nothing more to learn from it
            log.warning("runner %s failed to close: %s", self.runner.name, close_exc)
        for tr in self.state.running():
            self._append([ev.TrialFinished(trial_id=tr.trial_id, attempt=tr.attempts, status="stopped",
                                           reason=f"the {self.runner.name} runner failed: {exc}")])

    def _finish(self) -> None:
        st = self.state
        if st.group_stop is not None:
            status, reason = st.group_stop.group_status, st.group_stop.reason
        else:
            ok = [t for t in st.trials.values() if t.status == "succeeded"]
            status = "succeeded" if ok or not st.trials else "failed"
            reason = self.exhausted or ""
            if not ok and st.trials:
                reason = f"all {len(st.trials)} trials failed or were stopped; {reason}"
        self._append([ev.GroupFinished(status=status, reason=reason)])
        self.runner.close(stop_running=True)

    def _renew_lease(self) -> None:
        if time.monotonic() - self._renewed >= self.lease_seconds / 3:
            self._append([ev.LeaseRenewed(engine_id=self.engine_id)])
            self._renewed = time.monotonic()

    # -- launching -------------------------------------------------------------------------

    def checkpoint_dir(self, tr: TrialState) -> Path:
        return self.planner.checkpoint_dir(tr)

    def _launch_spec(self, tr: TrialState, attempt: int) -> Launch:
        return self.planner.launch(tr, attempt)

    def _launch(self, tr: TrialState, launch: Launch | None = None) -> None:
        """Start an attempt of ``tr``; its TrialLaunched is recorded with the next append."""
        launch = launch or self._launch_spec(tr, tr.attempts + 1)
        if _make_attempt_dir(launch.trial_dir):
            self.runner.discard(launch)  # a crashed engine may have started it without recording
        trial_dir = str(launch.trial_dir)
        try:
            handle = self.runner.start(launch)
        except Exception as exc:
            self._unrecorded += [
                ev.TrialLaunched(trial_id=tr.trial_id, attempt=launch.attempt, runner=self.runner.name,
                                 handle={}, trial_dir=trial_dir),
                ev.TrialFinished(trial_id=tr.trial_id, attempt=launch.attempt, status="failed",
                                 reason=f"the {self.runner.name} runner could not start it: {exc}"),
            ]
            return
        self._faults.hit("started")
        self._unrecorded.append(ev.TrialLaunched(trial_id=tr.trial_id, attempt=launch.attempt,
                                                 runner=self.runner.name, handle=handle, trial_dir=trial_dir))


class _Decision:
    def __init__(self, reason: str, policy: str, group_status: str):
        self.reason, self.policy, self.group_status, self.evidence = reason, policy, group_status, {}
        self.stop_running = True


class _Union(AbstractSet[str]):
    """The params keys of the state plus those of a round's suggestions, without copying."""

    def __init__(self, base: AbstractSet[str], extra: set[str]):
        self.base, self.extra = base, extra

    def __contains__(self, key: object) -> bool:
        return key in self.extra or key in self.base

    def __iter__(self) -> Iterator[str]:
        yield from self.base
        yield from (k for k in self.extra if k not in self.base)

    def __len__(self) -> int:
        return len(self.base) + sum(1 for k in self.extra if k not in self.base)


def _is_open(tr: TrialState) -> bool:
    """Whether a trial still needs the engine: pending, running, or interrupted to run again."""
    return tr.status in (PENDING, RUNNING) or (tr.status == STOPPED and tr.resumable)


def _make_attempt_dir(path: Path) -> bool:
    """Create an attempt's folder (and its trial's); True when it was there already.

    Two ``mkdir`` calls for a trial's first attempt, one for the next: creating a folder is the
    dearest file-system call on many disks, and ``Path.exists`` + ``mkdir(parents=True)`` made
    three or four calls.
    """
    try:
        os.mkdir(path)
        return False
    except FileExistsError:
        return True
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(path)
        return False
    except FileExistsError:
        return True


def _jsonable(value):
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{value!r} is not JSON-serialisable")


def _plain(details: dict) -> dict:
    """A runner notice's details as JSON values (anything else as its text)."""
    return {str(k): v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
            for k, v in details.items()}
