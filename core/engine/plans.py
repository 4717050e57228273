"""What the search algorithm plans for a group (:class:`~hpo.contracts.searcher.Plan`: the number
of trials and, for a multi-fidelity algorithm, its brackets), as the searcher's ``plan()`` says.
The engine records it in the log when it starts (``EngineStarted.plan``); for a group no engine
has driven yet, or one logged by hpo 0.1, it is asked of the searcher the spec selects (built the
way the engine builds it). A searcher that cannot be built here (its plugin is not installed on
this machine) just leaves the plan unknown.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from hpo.contracts.searcher import Plan
from hpo.errors import PluginError
from hpo.eventlog.state import GroupState

if TYPE_CHECKING:
    from hpo.contracts.registry import Registry
    from hpo.contracts.searcher import Searcher

__all__ = ["Plan", "plan_from", "plan_of"]
log = logging.getLogger(__name__)


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
    from hpo.engine.composition import build_searcher, from_log
    from hpo.contracts.registry import default_registry
    from hpo.spec import GroupSpec

    try:
        registry = registry or default_registry()
        spec = from_log(GroupSpec.from_json(state.spec), registry)
        return plan_from(build_searcher(spec, state.seed, registry))
    except Exception as exc:  # a view must work without the plugin that ran the group
        log.debug("no plan for group %s: %s", state.group_id, exc)
        return Plan()


def plan_from(searcher: Searcher) -> Plan:
    """The plan of a searcher already built (the engine's), checked to be a :class:`Plan`."""
    plan = searcher.plan()
    if not isinstance(plan, Plan):
        origin = getattr(type(searcher), "hpo_origin", None)
        raise PluginError(f"the searcher's plan() returned {plan!r}; expected a hpo.search.Plan",
                          searcher.name, origin.distribution if origin else "")
    return plan
