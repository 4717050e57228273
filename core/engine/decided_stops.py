"""The stop the log records for a running attempt: what the engine carries out, even across a
crash.

A stop is written (``Stopped``) before the runner is told, so an engine killed in between leaves
the next one a running attempt whose stop was decided. A trial's own decision applies to it, and
so does a group stop that stops running trials (a pause does not count: resume undoes it).
"""

from __future__ import annotations

from hpo.eventlog.state import GroupState, TrialState

LET_FINISH = "allowed to finish"  # a group stop's evidence["running_trials"] when it lets them end


def decided_stop(state: GroupState, tr: TrialState) -> str | None:
    """The reason of the stop the log records for ``tr``'s current attempt, or None."""
    if tr.stop_decision is not None:
        return tr.stop_decision["reason"]
    stop = state.group_stop
    if stop is not None and stop.group_status != "stopped" and stop.evidence.get("running_trials") != LET_FINISH:
        return f"the group stopped: {stop.reason}"
    return None
