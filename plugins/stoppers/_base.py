"""What the trial-level stoppers (median, truncation, threshold, asha) share.

Each one judges every *running* trial that has a usable curve for the target metric and returns
at most one decision per trial. Trials of any status (finished, stopped, failed) are still data
the running ones are compared with. The subclasses only write :meth:`TrialStopper.judge`.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from hpo.errors import SpecError
from hpo.contracts.searcher import RUNNING
from hpo.spec.metric import MetricSpec
from hpo.contracts.stopper import StopDecision, Stopper, StopView

from ._curves import Series, series_of


class MetricOptions(BaseModel):
    """Options every trial-level stopper takes: the metric to judge, if not the group's."""

    model_config = ConfigDict(extra="forbid")

    metric: str | None = None
    optimization: Literal["maximize", "minimize"] | None = None


def resolve_metric(policy: str, options: MetricOptions, group: MetricSpec | None) -> MetricSpec:
    """The metric a stopper judges: its own ``metric``/``optimization`` options over the group's."""
    name = options.metric or (group.name if group else None)
    if name is None:
        raise SpecError(
            f"the {policy!r} stopper needs a metric: give it a `metric:` option "
            "or give the group a metric",
            "stopping",
        )
    optimization = options.optimization
    if optimization is None:
        if group is None or group.name != name:
            raise SpecError(
                f"the {policy!r} stopper judges {name!r}, which is not the group's metric: "
                "give it `optimization: maximize` or `optimization: minimize` too",
                "stopping",
            )
        optimization = group.optimization
    return MetricSpec(name=name, optimization=optimization)


class SeriesTable:
    """Every trial's :class:`Series` for one metric, with per-step populations memoised."""

    def __init__(self, view: StopView, metric: MetricSpec):
        sign = metric.sign()
        self.series: dict[int, Series] = {}
        for trial in view.trials:
            series = series_of(trial.curves.get(metric.name), sign)
            if series is not None:
                self.series[trial.trial_id] = series
        self._at: dict[int, list[tuple[int, float]]] = {}

    def scores_at(self, step: int) -> list[tuple[int, float]]:
        """``(trial_id, score)`` of every trial that has a value at ``step``, in trial order."""
        if step not in self._at:
            at = []
            for trial_id, series in self.series.items():
                score = series.score_at(step)
                if score is not None:
                    at.append((trial_id, score))
            self._at[step] = at
        return self._at[step]


class TrialStopper(Stopper):
    """Base of the stoppers that stop single running trials by comparing metric curves."""

    Config: ClassVar[type[MetricOptions]] = MetricOptions

    def __init__(self, config: BaseModel, metric: MetricSpec | None):
        super().__init__(config, metric)
        self.target = resolve_metric(self.name, config, metric)  # type: ignore[arg-type]

    def decide(self, view: StopView) -> list[StopDecision]:
        table = SeriesTable(view, self.target)
        decisions = []
        for trial in view.trials:
            series = table.series.get(trial.trial_id)
            if trial.status != RUNNING or series is None:
                continue
            decision = self.judge(trial.trial_id, series, table)
            if decision is not None:
                decisions.append(decision)
        return decisions

    @abstractmethod
    def judge(self, trial_id: int, series: Series, table: SeriesTable) -> StopDecision | None:
        """Decide for one running trial; ``None`` keeps it running."""

    def value(self, score: float) -> float:
        """A score back in the metric's own units."""
        return self.target.sign() * score

    def stop(
        self,
        trial_id: int,
        reason: str,
        step: int,
        value: float,
        threshold: float,
        compared: list[int],
        **extra: Any,
    ) -> StopDecision:
        evidence = {
            "policy": self.name,
            "config": self.config.model_dump(),
            "metric": self.target.name,
            "optimization": self.target.optimization,
            "step": step,
            "value": value,
            "threshold": threshold,
            "compared_trials": sorted(compared),
            **extra,
        }
        return StopDecision(
            scope="trial", reason=reason, policy=self.name, trial_id=trial_id, evidence=evidence
        )


def fmt(value: float) -> str:
    """A number as reasons show it."""
    return f"{value:.6g}"
