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
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpo.contracts.searcher import RUNNING
from hpo.eventlog import events as ev
from hpo.eventlog.state import TrialState
from hpo.runkit.markers import kill_where, parse_token

if TYPE_CHECKING:
    from hpo.engine.loop import Engine


def recover(engine: Engine) -> None:
    """Reattach the trials that still run; mark the others interrupted, to run again; kill what
    ended attempts left."""
    for tr in sorted(engine.state.trials.values(), key=lambda t: t.trial_id):
        if tr.status != RUNNING:
            continue
        launch = engine.launch_spec(tr, tr.attempts)
        if engine.runner.reattach(launch, tr.handle, tr.offset):
            engine.append([ev.TrialReattached(trial_id=tr.trial_id, attempt=tr.attempts)])
        else:
            engine.append([ev.TrialFinished(
                trial_id=tr.trial_id, attempt=tr.attempts, status="stopped", resumable=True,
                reason="the attempt was lost with the engine (process gone); running it again",
            )])
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
