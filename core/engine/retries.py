"""Which ended attempts run again: those the infrastructure lost, and non-zero exits on request.

An attempt lost to the runner (its Dask worker or SSH host lost, a start that failed before the
command ran) says nothing about its configuration, so the trial runs again as a new attempt, up
to ``run.max_retries`` times (2 by default, as Ray Tune's ``max_failures`` and Polyaxon's
``max_retries``), and counts as failed only once they are spent. A trial's own non-zero exit is
run again only with ``run.retry_on: [exit]``. Nothing is retried once the search is stopping by
a stop decision (a user's stop, a failure rule), and a relaunch on resume is not a retry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpo.eventlog import events as ev

if TYPE_CHECKING:
    from hpo.engine.loop import Engine


def retry(engine: Engine, finished: ev.TrialFinished, lost: bool) -> tuple[ev.TrialFinished, ev.TrialRetried | None]:
    """The attempt's ``TrialFinished`` and, when it runs again, its ``TrialRetried``; when its
    retries are spent the reason says so."""
    run = engine.spec.run
    if finished.status != "failed":
        return finished, None
    exit_retry = "exit" in run.retry_on and finished.exit_code not in (None, 0)
    if not (lost or exit_retry) or engine.state.group_stop is not None:
        return finished, None
    tr = engine.state.trials.get(finished.trial_id)
    if tr is None:
        return finished, None
    if tr.retries >= run.max_retries:
        spent = "its 1 retry is" if run.max_retries == 1 else f"its {run.max_retries} retries are"
        why = "lost to the runner" if lost else "non-zero exit"
        reason = f"{finished.reason} ({why}; not run again: {spent} spent)"
        return finished.model_copy(update={"reason": reason}), None
    return finished, ev.TrialRetried(trial_id=finished.trial_id, attempt=finished.attempt,
                                     reason=finished.reason, retry=tr.retries + 1,
                                     max_retries=run.max_retries)
