"""``StopperConformance``: the contract every stopping policy keeps (see ``docs/plugins/stoppers.md``).

A stopper is a pure function of (config, metric, view): the same view gives the same decisions,
from the same instance or a fresh one, and a call changes nothing. It only ever stops *running*
trials (finished, failed and pending ones are data, not targets). Every decision carries a
reason, the policy's name and JSON evidence. An empty view, NaN reports, trials without a curve
for the metric and pending trials never make it crash, and no trial is stopped on NaNs alone.
"""

from __future__ import annotations

import copy
import math
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from hpo.contracts.guard import check_stop_decisions
from hpo.spec.metric import MetricSpec
from hpo.contracts.stopper import StopDecision, Stopper, StopView, TrialCurves
from hpo.testing.histories import fingerprint

HOUR = 3600.0


def curve(values: list[float], start: int = 1) -> tuple[tuple[int, float], ...]:
    return tuple((start + i, float(v)) for i, v in enumerate(values))


def trial(trial_id: int, status: str, metric: str, values: list[float], **kw: Any) -> TrialCurves:
    curves = {metric: curve(values)} if values else {}
    return TrialCurves(trial_id=trial_id, status=status, params={"i": trial_id}, curves=curves, **kw)


def standard_views(metric: MetricSpec) -> dict[str, StopView]:
    """Views every stopper must handle; ``population`` is one where most policies decide."""
    sign = 1.0 if metric.optimization == "minimize" else -1.0  # lower loss = better

    def values(quality: float, steps: int) -> list[float]:
        """A learning curve: better (lower loss) with steps; ``quality`` 0 is best."""
        return [sign * (quality + 1.0 / s) for s in range(1, steps + 1)]

    m = metric.name
    finished = [trial(i, "succeeded", m, values(0.05 * i, 10)) for i in range(1, 9)]
    others = [trial(9, "failed", m, values(0.3, 2)), trial(10, "stopped", m, values(0.9, 4))]
    running = [
        trial(11, "running", m, values(0.0, 9)),  # the best so far
        trial(12, "running", m, values(0.2, 6)),
        trial(13, "running", m, values(3.0, 10)),  # far behind at every step
        trial(14, "running", m, values(2.0, 3)),
    ]
    pending = [TrialCurves(trial_id=15, status="pending", params={"i": 15})]
    nan = float("nan")
    return {
        "empty": StopView(trials=(), metric=metric, started_at=0.0, now=1.0),
        "first reports": StopView(
            trials=tuple(trial(i, "running", m, values(i, 1)) for i in (1, 2, 3)),
            metric=metric, started_at=0.0, now=60.0,
        ),
        "population": StopView(
            trials=tuple(finished + others + running + pending), metric=metric, started_at=0.0,
            now=30 * HOUR, planned_trials=20,
        ),
        "nan and missing curves": StopView(
            trials=(
                *finished[:4],
                trial(5, "running", m, [nan, nan, nan]),
                trial(6, "running", m, [sign * 9.0, nan, nan, sign * 9.5]),
                TrialCurves(trial_id=7, status="running", params={}),
                TrialCurves(trial_id=8, status="running", params={}, curves={"other": curve([1.0, 2.0])}),
            ),
            metric=metric, started_at=0.0, now=2 * HOUR,
        ),
        "only pending": StopView(trials=tuple(pending), metric=metric, started_at=0.0, now=5.0),
    }


class StopperConformance:
    """Subclass as ``TestMyStopper`` and set ``stopper`` and ``options`` (its spec options).

    ``metric`` is the group's metric the stopper gets. Set ``decides = False`` if the policy
    never decides anything on the kit's ``population`` view, or add views where it does by
    overriding :meth:`views`.
    """

    stopper: ClassVar[type[Stopper]]
    options: ClassVar[dict[str, Any]] = {}
    metric: ClassVar[MetricSpec | None] = MetricSpec(name="loss", optimization="minimize")
    decides: ClassVar[bool] = True

    def make(self) -> Stopper:
        cls = self.stopper
        return cls(cls.parse_config(copy.deepcopy(self.options), "stopping[0]"), self.metric)

    def views(self) -> dict[str, StopView]:
        return standard_views(self.metric or MetricSpec(name="loss", optimization="minimize"))

    def decisions(self) -> dict[str, list[StopDecision]]:
        return {name: check_stop_decisions(self.make().decide(view)) for name, view in self.views().items()}

    # -- the contract ---------------------------------------------------------------------------

    def test_declares_a_name_a_version_and_a_config(self):
        cls = self.stopper
        assert isinstance(cls.name, str) and cls.name, "set `name`: the `kind` in `stopping:`"
        assert isinstance(cls.version, str) and cls.version
        assert isinstance(cls.Config, type) and issubclass(cls.Config, BaseModel)
        self.make()

    def test_same_view_same_decisions_and_no_state_change(self):
        stopper = self.make()
        for name, view in self.views().items():
            before = fingerprint(vars(stopper))
            first = stopper.decide(view)
            assert stopper.decide(view) == first, f"two calls differ on the {name!r} view"
            assert fingerprint(vars(stopper)) == before, "decide() changed the stopper's state"
            assert self.make().decide(view) == first, f"a fresh instance differs on {name!r}"

    def test_only_running_trials_are_stopped(self):
        for name, decisions in self.decisions().items():
            status = {t.trial_id: t.status for t in self.views()[name].trials}
            for d in decisions:
                if d.scope == "trial":
                    assert status.get(d.trial_id) == "running", f"{name}: stopped {d.trial_id} ({d})"

    def test_decisions_carry_a_reason_and_evidence(self):
        made = [d for ds in self.decisions().values() for d in ds]
        if not made:
            if self.decides:
                pytest.fail("no decision on any view: add a decisive view (override views()) "
                            "or set decides = False")
            pytest.skip("decides = False")
        for d in made:
            assert d.policy == self.stopper.name, f"policy should be the stopper's name: {d}"
            assert d.reason.strip() and d.evidence, f"a decision needs a reason and evidence: {d}"

    def test_nothing_to_judge_decides_nothing_about_trials(self):
        decisions = self.decisions()
        for name in ("empty", "only pending"):
            assert all(d.scope == "group" for d in decisions[name]), name

    def test_nan_alone_never_stops_a_trial(self):
        decisions = self.decisions()["nan and missing curves"]
        targets = {d.trial_id for d in decisions if d.scope == "trial"}
        assert not targets & {5, 7, 8}, f"stopped a trial without a usable value: {targets}"
        for d in decisions:
            for key in ("value", "threshold"):
                value = d.evidence.get(key)
                assert not (isinstance(value, float) and math.isnan(value)), f"NaN {key}: {d}"
