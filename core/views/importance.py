"""Which params matter: a random forest fitted on a group's finished trials.

``importances`` fits scikit-learn's ``RandomForestRegressor`` on the params of the succeeded
trials (each on its plot axis: numbers on a linear or log scale, choices by position) against a
metric, and reads each param's share of the forest's impurity decrease (mean decrease in
impurity, as Optuna's ``MeanDecreaseImpurityImportanceEvaluator``). The out-of-bag R² says how
much of the metric the forest explains at all: when it is near zero or negative, the shares
describe noise, and the views say so.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

from hpo.errors import HpoError
from hpo.contracts.searcher import SUCCEEDED
from hpo.eventlog.state import GroupState
from hpo.views.series import param_axes

MIN_TRIALS = 8  # fewer finished trials than this cannot support a forest's out-of-bag estimate
N_TREES = 64
SEED = 0  # the same log always gives the same shares


class ImportanceError(HpoError):
    """The group cannot support an importance estimate (no metric, too few trials...)."""


@dataclass(frozen=True)
class ParamImportance:
    name: str
    share: float  # of the forest's total impurity decrease; the shares sum to 1
    axis: str  # linear | log | category: how the param was laid out for the forest


@dataclass(frozen=True)
class Importances:
    metric: str
    trials: int  # succeeded trials with a value, the forest's data
    r2: float | None  # out-of-bag R² of the forest (None when it could not be estimated)
    params: list[ParamImportance]  # most important first

    @property
    def explains_little(self) -> bool:
        return self.r2 is None or self.r2 < 0.1

    def to_json(self) -> dict:
        return {
            "metric": self.metric,
            "trials": self.trials,
            "oob_r2": self.r2,
            "params": [{"name": p.name, "importance": p.share, "axis": p.axis} for p in self.params],
        }


def importances(state: GroupState, metric: str | None = None) -> Importances:
    """Each param's share of what explains ``metric`` (default: the group's) across its trials."""
    metric = metric or state.metric_name
    if not metric:
        raise ImportanceError(
            f"group {state.name} has no metric: name one with --metric (e.g. --metric loss)"
        )
    trials = [t for t in sorted(state.trials.values(), key=lambda t: t.trial_id)
              if t.status == SUCCEEDED and t.value(metric) is not None
              and math.isfinite(float(t.value(metric)))]  # type: ignore[arg-type]
    if len(trials) < MIN_TRIALS:
        known = sorted({m for t in state.trials.values() for m in t.metrics})
        hint = "" if metric in known else f" (metrics reported: {', '.join(known) or 'none'})"
        raise ImportanceError(
            f"group {state.name} has {len(trials)} succeeded trial(s) with a value of "
            f"{metric!r}{hint}; importances need at least {MIN_TRIALS}"
        )
    varying = [a for a in param_axes(state, trials) if _varies(a, trials)]
    if not varying:
        raise ImportanceError(f"no param of group {state.name} takes more than one value")

    import numpy as np
    from sklearn.ensemble import RandomForestRegressor

    X = np.array([[_scaled(a, t.params.get(a.name)) for a in varying] for t in trials])
    y = np.array([float(t.value(metric)) for t in trials])  # type: ignore[arg-type]
    forest = RandomForestRegressor(
        n_estimators=N_TREES, min_samples_leaf=2, oob_score=True, random_state=SEED, n_jobs=1
    )
    with warnings.catch_warnings():  # few trials: some may be in no tree's out-of-bag sample
        warnings.simplefilter("ignore")
        forest.fit(X, y)
    r2 = float(forest.oob_score_) if np.isfinite(forest.oob_score_) else None
    shares = forest.feature_importances_
    params = sorted(
        (ParamImportance(a.name, float(s), a.kind) for a, s in zip(varying, shares)),
        key=lambda p: (-p.share, p.name),
    )
    return Importances(metric, len(trials), r2, params)


def _scaled(axis, value) -> float:
    """A param on its axis; NaN where a trial lacks it (the forest routes missing values)."""
    x = axis.scale(value)
    return float("nan") if x is None else x


def _varies(axis, trials) -> bool:
    seen = {axis.scale(t.params.get(axis.name)) for t in trials}
    return len(seen) > 1
