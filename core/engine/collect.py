"""Reading the runner: what it saw since the last poll (reports, exits, notices) becomes events.

One poll is one transaction, however many messages it brought. New reports then wake the
stoppers, which judge the curves just recorded.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hpo.contracts.runner import Exited, Reported, RunnerNotice
from hpo.eventlog import events as ev

if TYPE_CHECKING:
    from hpo.engine.loop import Engine

log = logging.getLogger(__name__)


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
    engine.append(_events(engine, messages, resumable))
    engine.faults.hit("collected")
    if any(isinstance(m, Reported) for m in messages):
        engine.stops.run()
    return True


def _events(engine: Engine, messages: list, resumable: bool) -> list[ev.Event]:
    state, batch = engine.state, []
    steps: dict[int, int] = {}  # a report without a step is the attempt's n-th report
    last_notice = state.notices[-1]["message"] if state.notices else None
    for m in messages:
        if isinstance(m, Reported):
            steps[m.trial_id] = steps.get(m.trial_id, state.trials[m.trial_id].reports) + 1
            step = m.step if m.step is not None else steps[m.trial_id]
            batch.append(ev.MetricReported(trial_id=m.trial_id, attempt=m.attempt, step=step,
                                           metrics=m.metrics, offset=m.offset))
        elif isinstance(m, Exited):
            batch.append(ev.TrialFinished(
                trial_id=m.trial_id, attempt=m.attempt, status=m.status, exit_code=m.exit_code,
                signal=m.signal, reason=engine.planner.mask(m.reason),
                output_tail=engine.planner.mask(m.output_tail),
                resumable=resumable and m.status == "stopped",
            ))
        elif isinstance(m, RunnerNotice):
            message = engine.planner.mask(m.message)
            log.warning("runner: %s", message)
            if message != last_notice:  # a host that stays down is one event, not one a poll
                batch.append(ev.RunnerNoticed(runner=engine.runner.name, message=message,
                                              details=_plain(m.details)))
                last_notice = message
    return batch


def _plain(details: dict) -> dict:
    """A runner notice's details as JSON values (anything else as its text)."""
    return {str(k): v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
            for k, v in details.items()}
