"""Stopping: requests from ``hpo stop``, the stoppers' decisions, and failed plugins.

Every way a trial or the group stops goes through here, so each is recorded the same way: a
``Stopped`` event with the policy and its evidence first, then the runner is told. A plugin that
fails (a searcher, a stopper, the runner) is a ``PluginFailed`` event and a group stop with
policy ``engine`` and status ``failed``; the log stays intact.
"""

from __future__ import annotations

import logging
import time
import traceback
from typing import TYPE_CHECKING

from hpo.contracts import guard
from hpo.contracts.searcher import RUNNING
from hpo.contracts.stopper import StopDecision
from hpo.engine.collect import collect
from hpo.engine.decided_stops import LET_FINISH
from hpo.engine.signals import pause_on_signals
from hpo.engine.stop_view import stop_view
from hpo.errors import PluginError
from hpo.eventlog import events as ev

if TYPE_CHECKING:
    from hpo.engine.loop import Engine

log = logging.getLogger(__name__)
STOPPERS_EVERY = 1.0  # seconds: time-based rules (max_duration) fire without new reports


class Stops:
    """Carries out stops for one engine."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.ran_at = 0.0  # monotonic time the stoppers last judged the group
        self.runner_broken = False  # the runner raised: it is not asked again

    # -- requests from other processes -------------------------------------------------------

    def requests(self) -> bool:
        """Act on ``StopRequested`` events (``hpo stop``); True if there was anything to do."""
        eng, st, busy = self.engine, self.engine.state, False
        if st.stop_group_requested is not None:
            req = st.stop_group_requested
            self.pause(req.reason or f"stopped by {req.requested_by}", req.requested_by)
            return True
        for tid, req in list(st.stop_trial_requests.items()):
            tr = st.trials.get(tid)
            if tr is None or tr.status != RUNNING or tr.stop_decision is not None:
                continue
            reason = req.reason or f"stopped by {req.requested_by}"
            eng.append([ev.Stopped(scope="trial", trial_id=tid, reason=reason, policy="user",
                                   evidence={"requested_by": req.requested_by})])
            self.tell_runner(tid, tr.attempts, reason)
            busy = True
        return busy

    def pause(self, reason: str, requested_by: str, policy: str = "user",
              evidence: dict | None = None) -> None:
        """Stop every running trial (to run again on resume) and end the group as ``stopped``.
        A SIGTERM or SIGHUP meanwhile is ignored: it would start the pause over."""
        with pause_on_signals(pausing=True):
            self._pause(reason, requested_by, policy, evidence)

    def _pause(self, reason: str, requested_by: str, policy: str, evidence: dict | None) -> None:
        eng = self.engine
        eng.append([ev.Stopped(scope="group", reason=reason, policy=policy, group_status="stopped",
                               evidence={"requested_by": requested_by, **(evidence or {})})])
        for tid, attempt in set(eng.runner.running()):
            self.tell_runner(tid, attempt, reason)
        deadline = time.monotonic() + 30
        while eng.runner.running() and time.monotonic() < deadline:
            collect(eng, resumable=True)
            time.sleep(0.02)
        close_runner(eng)
        collect(eng, resumable=True)
        eng.append([ev.GroupFinished(status="stopped", reason=reason)])

    # -- the stoppers --------------------------------------------------------------------------

    def due(self) -> bool:
        """Whether time alone calls for the stoppers (no report woke them for a while)."""
        return bool(self.engine.plugins.stoppers) and time.monotonic() - self.ran_at > STOPPERS_EVERY

    def run(self) -> None:
        """Ask every stopper for decisions and carry them out.

        After a group decision, trial rules still judge the trials it let finish.
        """
        eng = self.engine
        if not eng.plugins.stoppers:
            return
        eng.slots.record_launches()  # stoppers judge started trials as running (a budget counts them)
        if eng.state.group_stop is not None and not eng.state.running():
            return
        self.ran_at = time.monotonic()
        view = stop_view(eng.state, eng.searcher.planned_trials())
        decided: set[int] = set()
        for stopper in eng.plugins.stoppers:
            try:
                decisions = stopper.decide(view)
            except Exception as exc:
                self.plugin_failed(f"stopper {stopper.name}", exc)
                return
            for d in decisions:
                if d.scope == "group":
                    if eng.state.group_stop is None:
                        self.stop_group(d)
                elif self._stop_trial(d, decided):
                    decided.add(d.trial_id)

    def _stop_trial(self, d: StopDecision, decided: set[int]) -> bool:
        """Stop the decision's trial unless it is not running or already judged; True if stopped."""
        eng = self.engine
        tr = eng.state.trials.get(d.trial_id)
        if tr is None or tr.status != RUNNING or tr.stop_decision or d.trial_id in decided:
            return False
        eng.append([ev.Stopped(scope="trial", trial_id=d.trial_id, reason=d.reason,
                               policy=d.policy, evidence=d.evidence)])
        self.tell_runner(d.trial_id, tr.attempts, d.reason)
        return True

    def stop_group(self, d: StopDecision) -> None:
        """End the search: record the decision, stop running trials (unless the decision lets
        them finish) and close the trials that never started."""
        eng = self.engine
        evidence = dict(d.evidence)
        if not d.stop_running:
            evidence["running_trials"] = LET_FINISH
        eng.append([ev.Stopped(scope="group", reason=d.reason, policy=d.policy,
                               group_status=d.group_status, evidence=evidence)])
        for tr in eng.state.running() if d.stop_running else []:
            self.tell_runner(tr.trial_id, tr.attempts, f"the group stopped: {d.reason}")
        for tr in eng.state.pending():
            eng.append([ev.TrialFinished(trial_id=tr.trial_id, attempt=tr.attempts, status="stopped",
                                         reason=f"never started: the group stopped: {d.reason}")])

    # -- failures ------------------------------------------------------------------------------

    def plugin_failed(self, plugin: str, exc: BaseException) -> None:
        """Record the failure, with the trial it concerned and the plugin's traceback, and fail
        the group (the trials a failed searcher suggested before still ran)."""
        dist = getattr(exc, "distribution", "")
        self.engine.append([ev.PluginFailed(plugin=plugin, distribution=dist,
                                            error=f"{type(exc).__name__}: {exc}",
                                            trial_id=getattr(exc, "trial_id", None),
                                            traceback=plugin_traceback(exc))])
        self.stop_group(StopDecision(scope="group", reason=f"{plugin} failed: {exc}", policy="engine",
                                     group_status="failed"))

    def tell_runner(self, trial_id: int, attempt: int, reason: str) -> None:
        """``runner.stop``: a runner that raises has failed (:meth:`runner_failed`)."""
        if self.runner_broken:
            return
        try:
            self.engine.runner.stop(trial_id, attempt, reason)
        except Exception as exc:
            self.runner_failed(exc)

    def runner_failed(self, exc: BaseException) -> None:
        """A runner that raised (in ``poll``, ``stop``, ``capacity``...) cannot say how its trials
        end: record the failure once, let go of its trials (recorded as stopped) and let the
        group finish as failed."""
        eng = self.engine
        if self.runner_broken:
            return
        self.runner_broken = True
        self.plugin_failed(f"runner {eng.runner.name}", exc)
        close_runner(eng)
        for tr in eng.state.running():
            eng.append([ev.TrialFinished(trial_id=tr.trial_id, attempt=tr.attempts, status="stopped",
                                         reason=f"the {eng.runner.name} runner failed: {exc}")])


def close_runner(eng: Engine) -> None:
    """``runner.close(stop_running=True)``; a runner that raises is named in a warning (the group
    is recorded by then; a resumed engine kills what its trials left)."""
    try:
        eng.runner.close(stop_running=True)
    except Exception as exc:
        log.warning("runner %s failed to close (its trials may still run): %s", eng.runner.name, exc)


def plugin_traceback(exc: BaseException) -> str:
    """Where the plugin raised: the traceback of the exception it raised (the guards wrap it, so
    it is the wrapper's cause), or empty for a result a guard or the engine refused."""
    cause = exc.__cause__
    if cause is None:
        if isinstance(exc, PluginError):
            return ""
        cause = exc
    tb = cause.__traceback__
    while tb is not None and tb.tb_frame.f_globals.get("__name__") == guard.__name__:
        tb = tb.tb_next  # the guard's own frames say nothing about the plugin
    if tb is None:
        return ""
    return "".join(traceback.format_exception(type(cause), cause, tb))
