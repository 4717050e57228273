"""``Group.trials_dataframe()``: one row per trial, with hpo's columns (the rows of ``hpo
export``) and Optuna's beside them, so code written for ``study.trials_dataframe()`` reads it.

Optuna's columns: ``number`` (the trial id: hpo's start at 1, Optuna's at 0), ``value`` (the
group metric's last value for complete and pruned trials, as Optuna keeps a pruned trial's last
intermediate value; NaN otherwise), ``datetime_start`` and ``datetime_complete`` (timezone-aware
UTC datetimes), ``duration`` (a timedelta: the attempt that finished), ``params_<name>`` and
``state``, mapped from hpo's status.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from hpo.eventlog.state import GroupState
from hpo.views.records import flat_record, trial_records

# hpo's status -> Optuna's TrialState name
STATES = {"succeeded": "COMPLETE", "stopped": "PRUNED", "failed": "FAIL", "running": "RUNNING",
          "pending": "WAITING"}


def _moment(iso: str | None) -> datetime | None:
    return None if iso is None else datetime.fromisoformat(iso).astimezone(timezone.utc)


def trial_rows(state: GroupState) -> list[dict[str, Any]]:
    """The rows: hpo's columns, then Optuna's; times as datetimes, durations as timedeltas."""
    metric = state.metric_name
    rows = []
    for rec in trial_records(state):
        row = flat_record(rec)
        row["started_at"], row["finished_at"] = _moment(rec["started_at"]), _moment(rec["finished_at"])
        seconds = rec["duration"]
        row["duration"] = None if seconds is None else timedelta(seconds=seconds)
        value = rec["metrics"].get(metric) if metric and rec["status"] in ("succeeded", "stopped") else None
        row.update({
            "number": rec["trial"],
            "value": float("nan") if value is None else value,
            "datetime_start": row["started_at"],
            "datetime_complete": row["finished_at"] if rec["status"] in ("succeeded", "stopped", "failed") else None,
            "state": STATES.get(rec["status"], rec["status"].upper()),
        })
        row.update({f"params_{k}": v for k, v in rec["params"].items()})
        rows.append(row)
    return rows


def trials_frame(state: GroupState) -> Any:
    """A pandas DataFrame of :func:`trial_rows` when pandas is installed, else the rows."""
    rows = trial_rows(state)
    try:
        import pandas
    except ImportError:
        return rows
    frame = pandas.DataFrame(rows)
    for column in ("started_at", "finished_at", "datetime_start", "datetime_complete"):
        if column in frame:
            frame[column] = pandas.to_datetime(frame[column], utc=True)
    if "duration" in frame:
        frame["duration"] = pandas.to_timedelta(frame["duration"])
    return frame
