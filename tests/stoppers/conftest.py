"""Builders for hand-made metric streams.

``trial(3, "running", acc=[0.1, 0.2])`` reports acc at steps 1 and 2;
``trial(3, acc=[(0, 0.1), (10, 0.2)])`` gives the steps explicitly.
"""

from __future__ import annotations

import pytest

from hpo.spec.metric import MetricSpec
from hpo.contracts.stopper import StopView, TrialCurves


def make_trial(trial_id: int, status: str = "running", **curves) -> TrialCurves:
    built = {}
    for name, reports in curves.items():
        built[name] = tuple(
            (int(r[0]), float(r[1])) if isinstance(r, tuple) else (i + 1, float(r))
            for i, r in enumerate(reports)
        )
    return TrialCurves(trial_id=trial_id, status=status, params={}, curves=built)


def make_view(*trials: TrialCurves, metric: MetricSpec | None = None, now: float = 0.0,
              started_at: float = 0.0) -> StopView:
    return StopView(trials=tuple(trials), metric=metric, started_at=started_at, now=now)


@pytest.fixture
def trial():
    return make_trial


@pytest.fixture
def view():
    return make_view


@pytest.fixture
def acc():
    return MetricSpec(name="acc", optimization="maximize")


@pytest.fixture
def loss():
    return MetricSpec(name="loss", optimization="minimize")
