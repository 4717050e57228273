"""What a starting engine does with the trials the log says are running.

The engine before it may have crashed or been killed: each attempt still running is reattached
(the runner follows its process again from the recorded output offset); an attempt whose
process is gone is recorded as interrupted (stopped, resumable), so the slot filler launches the
trial again as a new attempt, within the concurrency and the runner's room.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpo.contracts.searcher import RUNNING
from hpo.eventlog import events as ev

if TYPE_CHECKING:
    from hpo.engine.loop import Engine


def recover(engine: Engine) -> None:
    """Reattach the trials that still run; mark the others interrupted, to run again.

    A trial whose stop the log records (``Stopped``) but whose end it does not was being stopped
    when the engine died, maybe before the runner was told: the stop is carried out now, and a
    trial lost that way is not run again.
    """
    for tr in sorted(engine.state.trials.values(), key=lambda t: t.trial_id):
        if tr.status != RUNNING:
            continue
        launch = engine.launch_spec(tr, tr.attempts)
        decided = tr.stop_decision
        if engine.runner.reattach(launch, tr.handle, tr.offset):
            engine.append([ev.TrialReattached(trial_id=tr.trial_id, attempt=tr.attempts)])
            if decided is not None:
                engine.runner.stop(tr.trial_id, tr.attempts, decided["reason"])
        elif decided is not None:
            engine.append([ev.TrialFinished(
                trial_id=tr.trial_id, attempt=tr.attempts, status="stopped",
                reason=f"{decided['reason']} (the attempt was lost with the engine while being stopped)",
            )])
        else:
            engine.append([ev.TrialFinished(
                trial_id=tr.trial_id, attempt=tr.attempts, status="stopped", resumable=True,
                reason="the attempt was lost with the engine (process gone); running it again",
            )])
