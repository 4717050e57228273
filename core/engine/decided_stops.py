"""The stop the log records for a running attempt: what the engine carries out, even across a
crash.

A stop is written (``Stopped``) before the runner is told, so an engine killed in between leaves
the next one a running attempt whose stop was decided. A trial's own decision applies to it, and
so does a group stop that stops running trials. A pause is undone by resume, but an attempt it
was stopping when its engine died (``GroupState.pause_cut``) and that died of its signal was
interrupted, to run again, as a pause records it.
"""

from __future__ import annotations

from typing import NamedTuple

from hpo.eventlog.state import GroupState, TrialState

LET_FINISH = "allowed to finish"  # a group stop's evidence["running_trials"] when it lets them end


class DecidedStop(NamedTuple):
    reason: str
    resumable: bool  # a pause's: the attempt runs again, and a live one is left to run


def decided_stop(state: GroupState, tr: TrialState) -> DecidedStop | None:
    """The stop the log records for ``tr``'s current attempt, or None."""
    if tr.stop_decision is not None:
        return DecidedStop(tr.stop_decision["reason"], False)
    stop = state.group_stop
    if stop is not None and stop.group_status != "stopped" and stop.evidence.get("running_trials") != LET_FINISH:
        return DecidedStop(f"the group stopped: {stop.reason}", False)
    paused = state.pause_cut.get((tr.trial_id, tr.attempts))
    return None if paused is None else DecidedStop(paused, True)
