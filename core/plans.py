"""What the search algorithm plans for a group: the number of trials and, for hyperband, the
brackets. Asked of the searcher the spec selects (built the way the engine builds it), so a view
knows the plan without any state of its own. A searcher that cannot be built here (its plugin is
not installed on this machine) just leaves the plan unknown.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from hpo.groups import build_searcher
from hpo.pluginmanager import Registry, default_registry
from hpo.search import Searcher
from hpo.spec import GroupSpec
from hpo.state import GroupState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    planned: int | None = None  # trials the algorithm plans in total, when it knows
    # hyperband: [{"bracket": s, "rungs": [{"n": planned trials, "resource": r}, ...]}, ...]
    brackets: list[dict[str, Any]] = field(default_factory=list)
    resource: str | None = None  # the name of hyperband's resource param


def plan_of(state: GroupState, registry: Registry | None = None) -> Plan:
    """The plan of the searcher the group's spec selects (empty if it cannot be built here)."""
    if not state.spec:
        return Plan()
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
