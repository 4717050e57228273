"""What a starting engine does with the trials the log says are running.

The engine before it may have crashed or been killed: each attempt still running is reattached
(the runner follows its process again from the recorded output offset); an attempt whose
process is gone is recorded as interrupted (stopped, resumable), so the slot filler launches the
trial again as a new attempt, within the concurrency and the runner's room.

Then one pass over this machine's processes kills what the group's ended attempts left running
(found by their marker, :mod:`hpo.runkit.markers`): a runner kills it when an attempt ends, but
an engine killed between recording an end and that sweep leaves it to the next engine. The
attempts the log does not say ended (reattached, or started but never recorded, which the slot
filler adopts) are left alone.

A stop the log records (:mod:`~hpo.engine.decided_stops`) but did not see through was being
carried out when the engine died, maybe before the runner was told: it is carried out now. A
reattached attempt is stopped, a lost one is recorded stopped and not run again, and after a
group stop the trials that never started are closed, as the stop itself does. A pause is not
carried out: resuming undoes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpo.contracts.searcher import PENDING, RUNNING
from hpo.engine.decided_stops import decided_stop
from hpo.eventlog import events as ev
from hpo.eventlog.state import TrialState
from hpo.runkit.markers import kill_where, parse_token

if TYPE_CHECKING:
    from hpo.engine.loop import Engine


def recover(engine: Engine) -> None:
    """Reattach the trials that still run; mark the others interrupted, to run again; carry
    out the stops the log records; kill what ended attempts left."""
    state = engine.state
    for tr in sorted(state.trials.values(), key=lambda t: t.trial_id):
        if tr.status != RUNNING:
            continue
        launch = engine.launch_spec(tr, tr.attempts)
        decided = decided_stop(state, tr)
        if decided is not None and decided.resumable:
            decided = None  # a pause, which this resume undoes
        if engine.runner.reattach(launch, tr.handle, tr.offset):
            engine.append([ev.TrialReattached(trial_id=tr.trial_id, attempt=tr.attempts)])
            if decided is not None:
                engine.stops.tell_runner(tr.trial_id, tr.attempts, decided.reason)
        elif decided is not None:
            engine.append([ev.TrialFinished(
                trial_id=tr.trial_id, attempt=tr.attempts, status="stopped",
                reason=f"{decided.reason} (the attempt was lost with the engine while being stopped)",
            )])
        else:
            engine.append([ev.TrialFinished(
                trial_id=tr.trial_id, attempt=tr.attempts, status="stopped", resumable=True,
                reason="the attempt was lost with the engine (process gone); running it again",
            )])
    stop = state.group_stop
    if stop is not None:
        for tr in sorted(state.trials.values(), key=lambda t: t.trial_id):
            if tr.status == PENDING:
                engine.append([ev.TrialFinished(trial_id=tr.trial_id, attempt=tr.attempts, status="stopped",
                                                reason=f"never started: the group stopped: {stop.reason}")])
    if any(tr.attempts for tr in engine.state.trials.values()):  # a new group has left nothing
        kill_leftovers(engine.group_id, engine.state.trials)


def kill_leftovers(group_id: str, trials: dict[int, TrialState]) -> int:
    """Kill the processes that carry the marker of an attempt of this group the log says ended;
    how many."""

    def ended(token: str) -> bool:
        parsed = parse_token(token)
        if parsed is None or parsed[0] != group_id or parsed[1] not in trials:
            return False
        tr, attempt = trials[parsed[1]], parsed[2]
        return 1 <= attempt <= tr.attempts and not (attempt == tr.attempts and tr.status == RUNNING)

    return kill_where(ended)
