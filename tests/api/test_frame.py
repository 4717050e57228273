"""``Group.trials_dataframe()`` has Optuna's columns beside hpo's: number, value, datetimes,
a timedelta duration, params_<name> and Optuna's trial states."""

from __future__ import annotations

import math
import sys
from datetime import datetime, timedelta

import pytest

import hpo

from .conftest import RANDOM


def _group(db):
    group = hpo.create_group(RANDOM, db=db, seed=1)
    told = []
    for status in ("succeeded", "failed", "stopped"):
        trial = group.ask()
        trial.report(step=1, loss=0.25 * (len(told) + 1))
        group.tell(trial, status=status)
        told.append(trial)
    running = group.ask()  # asked, never told
    return group, told, running


def test_optuna_columns_with_pandas(db):
    pandas = pytest.importorskip("pandas")
    group, told, running = _group(db)
    frame = group.trials_dataframe().set_index("number")
    assert {"trial", "status", "param.x", "metric.loss", "rank"} <= set(frame.columns)  # hpo's, kept
    assert {"value", "datetime_start", "datetime_complete", "duration", "params_x", "params_k",
            "state"} <= set(frame.columns)
    assert list(frame["state"]) == ["COMPLETE", "FAIL", "PRUNED", "RUNNING"]
    assert frame.loc[1, "value"] == 0.25 and frame.loc[3, "value"] == 0.75  # a pruned trial keeps its last
    assert math.isnan(frame.loc[2, "value"]) and math.isnan(frame.loc[4, "value"])
    assert pandas.api.types.is_datetime64_any_dtype(frame["datetime_start"]) and str(frame["datetime_start"].dt.tz) == "UTC"
    assert pandas.api.types.is_timedelta64_dtype(frame["duration"])
    assert frame.loc[1, "duration"] == frame.loc[1, "datetime_complete"] - frame.loc[1, "datetime_start"]
    assert pandas.isna(frame.loc[4, "datetime_complete"]) and not pandas.isna(frame.loc[4, "datetime_start"])
    assert frame.loc[1, "params_x"] == told[0].params["x"] and frame.loc[4, "params_k"] == running.params["k"]
    group.close()


def test_without_pandas_the_rows_hold_the_same_columns(db, monkeypatch):
    group, _, _ = _group(db)
    monkeypatch.setitem(sys.modules, "pandas", None)
    rows = group.trials_dataframe()
    assert isinstance(rows, list) and [r["state"] for r in rows] == ["COMPLETE", "FAIL", "PRUNED", "RUNNING"]
    assert isinstance(rows[0]["datetime_start"], datetime) and rows[0]["datetime_start"].tzinfo is not None
    assert isinstance(rows[0]["duration"], timedelta) and rows[3]["duration"] is None
    assert rows[0]["number"] == rows[0]["trial"] == 1
    group.close()
