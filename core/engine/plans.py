"""What the search algorithm plans for a group: the number of trials and, for hyperband, the
brackets. The engine records it in the log when it starts (``EngineStarted.plan``); for a group
no engine has driven yet, or one logged by hpo 0.1, it is asked of the searcher the spec selects
(built the way the engine builds it). A searcher that cannot be built here (its plugin is not
installed on this machine) just leaves the plan unknown.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hpo.eventlog.state import GroupState

if TYPE_CHECKING:
    from hpo.contracts.registry import Registry
    from hpo.contracts.searcher import Searcher

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    planned: int | None = None  # trials the algorithm plans in total, when it knows
    # hyperband: [{"bracket": s, "rungs": [{"n": planned trials, "resource": r}, ...]}, ...]
    brackets: list[dict[str, Any]] = field(default_factory=list)
    resource: str | None = None  # the name of hyperband's resource param

    def to_json(self) -> dict[str, Any]:
        return {"planned": self.planned, "brackets": self.brackets, "resource": self.resource}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Plan":
        return cls(data.get("planned"), list(data.get("brackets") or []), data.get("resource"))


def plan_of(state: GroupState, registry: Registry | None = None) -> Plan:
    """The group's plan: as its engine recorded it in the log (``EngineStarted.plan``), else
    asked of the searcher the spec selects (empty if that cannot be built here).

    The recorded plan spares read-only commands loading every installed plugin; a caller that
    hands in its own ``registry`` asks that registry's searcher instead.
    """
    if state.plan is not None and registry is None:
        return Plan.from_json(state.plan)
    if not state.spec:
        return Plan()
    from hpo.engine.composition import build_searcher
    from hpo.contracts.registry import default_registry
    from hpo.spec import GroupSpec

    try:
        spec = GroupSpec.from_json(state.spec)
        return plan_from(build_searcher(spec, state.seed, registry or default_registry()))
    except Exception as exc:  # a view must work without the plugin that ran the group
        log.debug("no plan for group %s: %s", state.group_id, exc)
        return Plan()


def plan_from(searcher: Searcher) -> Plan:
    """The plan of a searcher already built (the engine's)."""
    planned = searcher.planned_trials()
    brackets = [
        {"bracket": b.s, "rungs": [{"n": r.n, "resource": r.resource} for r in b.rungs]}
        for b in getattr(searcher, "brackets", None) or []
    ]
    resource = getattr(getattr(searcher, "resource", None), "name", None)
    return Plan(planned, brackets, resource)
