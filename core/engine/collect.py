"""Reading the runner: what it saw since the last poll (reports, exits, notices) becomes events.

One poll is one transaction, however many messages it brought. New reports then wake the
stoppers, which judge the curves just recorded. A message about an attempt the runner does not
follow (a trial the group does not have, an attempt not started, or one whose exit it already
sent) breaks the runner contract: what came before it is recorded, then the runner has failed.
"""

from __future__ import annotations

import json
import logging
import signal
from typing import TYPE_CHECKING

from hpo.contracts.runner import Exited, Rejected, Reported, RunnerNotice
from hpo.contracts.searcher import RUNNING
from hpo.engine.decided_stops import DecidedStop, decided_stop
from hpo.eventlog import events as ev
from hpo.eventlog.state import MAX_REJECTED_EXAMPLES
from hpo.engine.retries import retry
from hpo.errors import PluginError
from hpo.trial.outcome import missing_metric_reason

if TYPE_CHECKING:
    from hpo.engine.loop import Engine

log = logging.getLogger(__name__)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGKILL)  # what a stop sends


def collect(engine: Engine, resumable: bool = False) -> bool:
    """Record what the runner saw; True if it saw anything. ``resumable``: trials it reports
    stopped were interrupted by a pause and run again on resume."""
    try:
        messages = engine.runner.poll()
    except Exception as exc:
        engine.stops.runner_failed(exc)
        return True
    if not messages:
        return False
    messages, breach = _followed(engine, messages)
    if messages:
        engine.append(_events(engine, messages, resumable))
        engine.faults.hit("collected")
    if breach is not None:
        engine.stops.runner_failed(breach)
        return True
    if any(isinstance(m, Reported) for m in messages):
        engine.stops.run()
    return True


def _followed(engine: Engine, messages: list) -> tuple[list, PluginError | None]:
    """The messages up to the first about an attempt the runner does not follow, and the error
    that names that one (None when every message is about a running attempt)."""
    state, ended = engine.state, set()
    launched = {(e.trial_id, e.attempt) for e in engine.slots.unrecorded if isinstance(e, ev.TrialLaunched)}
    launched -= {(e.trial_id, e.attempt) for e in engine.slots.unrecorded if isinstance(e, ev.TrialFinished)}
    for i, m in enumerate(messages):
        if isinstance(m, RunnerNotice):
            continue
        key, tr = (m.trial_id, m.attempt), state.trials.get(m.trial_id)
        running = tr is not None and tr.status == RUNNING and tr.attempts == m.attempt
        if key in ended or not (running or key in launched):
            why = ("the group has no such trial" if tr is None else "its exit came already"
                   if key in ended or tr.attempts >= m.attempt else "it was never started")
            origin = getattr(type(engine.runner), "hpo_origin", None)
            error = PluginError(f"the runner's poll() returned {m!r}, about trial {m.trial_id} "
                                f"attempt {m.attempt}, which it does not follow ({why}): each "
                                "attempt's reports come before its one exit", engine.runner.name,
                                origin.distribution if origin is not None else "")
            error.trial_id = m.trial_id  # type: ignore[attr-defined]
            return messages[:i], error
        if isinstance(m, Exited):
            ended.add(key)
    return messages, None


def _events(engine: Engine, messages: list, resumable: bool) -> list[ev.Event]:
    state, batch = engine.state, []
    steps: dict[int, int] = {}  # a report without a step is the attempt's n-th report
    reported: dict[tuple[int, int], set[str]] = {}  # metrics with a value, this poll, per attempt
    last_notice = state.notices[-1]["message"] if state.notices else None
    for m in messages:
        if isinstance(m, Reported):
            steps[m.trial_id] = steps.get(m.trial_id, state.trials[m.trial_id].reports) + 1
            step = m.step if m.step is not None else steps[m.trial_id]
            batch.append(ev.MetricReported(trial_id=m.trial_id, attempt=m.attempt, step=step,
                                           metrics=m.metrics, offset=m.offset))
            reported.setdefault((m.trial_id, m.attempt), set()).update(
                k for k, v in m.metrics.items() if v is not None)
        elif isinstance(m, Exited):
            status, reason, again = m.status, m.reason, resumable and m.status == "stopped"
            if again and (own := _own_stop(state, m)) is not None:
                reason, again = own, False  # stopped as decided before the pause came
            if status == "succeeded":
                missing = _missing_metric(state, m, reported.get((m.trial_id, m.attempt), set()))
                if missing:
                    status, reason = "failed", missing
            elif status == "failed" and (decided := _killed_as_decided(state, m)) is not None:
                status, reason, again = "stopped", decided.reason, decided.resumable
            finished, retried = retry(engine, ev.TrialFinished(
                trial_id=m.trial_id, attempt=m.attempt, status=status, exit_code=m.exit_code,
                signal=m.signal, reason=engine.planner.mask(reason),
                output_tail=engine.planner.mask(m.output_tail), resumable=again,
                details=_json(m.details),
            ), lost=m.lost is True)
            batch += [finished] if retried is None else [finished, retried]
        elif isinstance(m, Rejected):
            if m.count > 0:
                batch.append(ev.ReportsRejected(
                    trial_id=m.trial_id, attempt=m.attempt, count=m.count,
                    examples=[engine.planner.mask(x) for x in m.examples[:MAX_REJECTED_EXAMPLES]]))
        elif isinstance(m, RunnerNotice):
            message = engine.planner.mask(m.message)
            log.warning("runner: %s", message)
            if message != last_notice:  # a host that stays down is one event, not one a poll
                batch.append(ev.RunnerNoticed(runner=engine.runner.name, message=message,
                                              details=_plain(m.details)))
                last_notice = message
    return batch


def _own_stop(state, m: Exited) -> str | None:
    """The reason of the stop a stopping rule or ``hpo stop`` decided for this attempt, if any: a
    pause that comes while it is being stopped does not make it run again."""
    tr = state.trials.get(m.trial_id)
    if tr is None or tr.attempts != m.attempt or tr.stop_decision is None:
        return None
    return tr.stop_decision["reason"]


def _killed_as_decided(state, m: Exited) -> DecidedStop | None:
    """The recorded stop when a stop's signal (SIGTERM, then SIGKILL) ended an attempt the log
    says was being stopped: the engine that sent it died before recording the exit, and the
    runner that reattached the attempt found only its exit status, not why it came."""
    tr = state.trials.get(m.trial_id)
    if tr is None or tr.attempts != m.attempt:
        return None
    sig = m.signal
    if sig is None and m.exit_code is not None and m.exit_code > 128:
        sig = m.exit_code - 128  # as a shell reports death by a signal
    return decided_stop(state, tr) if sig in STOP_SIGNALS else None


def _missing_metric(state, m: Exited, this_poll: set[str]) -> str:
    """The failure reason of an attempt that exited 0 without the group's metric ('' if it
    reported it, or the group has no metric)."""
    metric = state.metric_name
    tr = state.trials.get(m.trial_id)
    if metric is None or tr is None:
        return ""
    names = set(this_poll)
    if tr.attempts == m.attempt:
        names.update(k for k, v in tr.metrics.items() if v is not None)
        if not tr.reports and not this_poll and tr.previous is not None:
            # resumed from its last checkpoint with nothing left to do: the earlier attempt's
            # values stand (the fold keeps them)
            names.update(k for k, v in tr.previous[0].items() if v is not None)
    if metric in names:
        return ""
    return missing_metric_reason(metric, names, m.output_tail)


def _json(details: dict) -> dict:
    """An exit's details as JSON data (anything JSON cannot hold as its text)."""
    return json.loads(json.dumps(details, default=str)) if details else {}


def _plain(details: dict) -> dict:
    """A runner notice's details as JSON values (anything else as its text)."""
    return {str(k): v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
            for k, v in details.items()}
