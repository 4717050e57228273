"""The contract between the engine and a stopping policy.

A stopper is a plain class registered through ``hpo_register_stoppers``. After new metrics are
recorded the engine folds a :class:`StopView` from the log and calls :meth:`Stopper.decide`; the
stopper returns decisions and the engine records each as a ``Stopped`` event carrying the
decision's evidence. Like searchers, stoppers keep no memory between calls: a decision is a pure
function of the config and the view, so ``hpo whatif`` can re-run a policy offline over a log.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from hpo.contracts.options import parse_options
from hpo.spec.metric import MetricSpec

Curve = tuple[tuple[int, float], ...]  # (step, value) in report order


@dataclass(frozen=True)
class TrialCurves:
    """What a stopper may know of one trial."""

    trial_id: int
    status: str  # pending | running | succeeded | failed | stopped
    params: dict[str, Any]
    curves: dict[str, Curve] = field(default_factory=dict)  # metric name -> reports
    started_at: float | None = None  # seconds since the epoch
    finished_at: float | None = None

    def last(self, metric: str) -> float | None:
        curve = self.curves.get(metric)
        return curve[-1][1] if curve else None


@dataclass(frozen=True)
class StopView:
    """The group as stoppers see it."""

    trials: tuple[TrialCurves, ...]
    metric: MetricSpec | None  # the group's metric, if the spec has one
    started_at: float  # group creation time, seconds since the epoch
    now: float
    planned_trials: int | None = None


@dataclass(frozen=True)
class StopDecision:
    """Stop one trial (``scope="trial"``) or the whole search (``scope="group"``).

    ``evidence`` carries what the decision was based on: at least the policy config, and for
    metric policies the step, the trial's value, the threshold and the trials it came from.
    ``group_status`` is the status a stopped group ends with (``succeeded`` for the seed's early
    stopping, ``failed`` for failure stopping). For a group decision, ``stop_running`` says
    whether trials still running are stopped (the default) or allowed to finish.
    """

    scope: Literal["trial", "group"]
    reason: str
    policy: str
    trial_id: int | None = None
    group_status: Literal["succeeded", "failed"] = "succeeded"
    evidence: dict[str, Any] = field(default_factory=dict)
    stop_running: bool = True  # group scope: stop running trials (False: let them finish)


class EmptyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Stopper(ABC):
    """Base class of stopping policies. Subclasses set ``name``, ``Config`` and ``decide``."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    Config: ClassVar[type[BaseModel]] = EmptyConfig

    def __init__(self, config: BaseModel, metric: MetricSpec | None):
        self.config = config
        self.metric = metric

    @classmethod
    def parse_config(cls, options: dict[str, Any], path: str) -> BaseModel:
        """Validate the block's options; errors name the YAML path."""
        return parse_options(cls.Config, options, path)

    @abstractmethod
    def decide(self, view: StopView) -> list[StopDecision]:
        """Return the stop decisions for the current view (may be empty). Must not mutate self."""
