"""Build searcher histories by hand, and simulate groups without an engine."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import numpy as np

from hpo.contracts.guard import check_decision
from hpo.contracts.searcher import (
    RUNNING,
    Decision,
    Exhausted,
    SearchHistory,
    Searcher,
    Suggestion,
    TrialRecord,
    Wait,
)
from hpo.spec.params import Param


def record(
    trial_id: int, params: dict[str, Any], status: str = "succeeded", value: float | None = None,
    meta: dict[str, Any] | None = None,
) -> TrialRecord:
    return TrialRecord(trial_id, dict(params), status, value, dict(meta or {}))


def history(*records: TrialRecord) -> SearchHistory:
    return SearchHistory(tuple(records))


def score(params: dict[str, Any]) -> float:
    """A deterministic stand-in objective: a number in [0, 1) from the params alone."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def as_logged(data: Any) -> Any:
    """What the log gives back for ``data``: JSON round-tripped (numpy scalars become Python)."""
    return json.loads(json.dumps(data, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def normalised(decision: Decision) -> dict[str, Any]:
    """A decision as comparable data (what ``hpo replay --check`` compares)."""
    if isinstance(decision, Suggestion):
        return as_logged({"params": decision.params, "meta": decision.meta})
    return {"decision": type(decision).__name__, "reason": getattr(decision, "reason", "")}


def simulate(
    searcher: Searcher,
    max_trials: int,
    *,
    concurrency: int = 1,
    objective: Callable[[dict[str, Any]], float] = score,
    fail_every: int = 0,
) -> tuple[list[TrialRecord], Decision | None]:
    """Drive ``searcher`` like the engine does, finishing the oldest running trial when no slot
    is free or the searcher waits. Trials whose id is a multiple of ``fail_every`` fail.

    Returns the trials (params and meta as the log would hold them) and the last decision that
    was not a suggestion (None when ``max_trials`` was reached first). Every decision is checked
    against the contract: a searcher that waits with nothing running, or that suggests or waits
    after it said ``Exhausted`` (while trials still ran), fails the simulation.
    """
    trials: list[TrialRecord] = []
    exhausted: Exhausted | None = None
    for _ in range(4 * max_trials + 10):
        active = [t for t in trials if t.active]
        if len(active) < concurrency and len(trials) < max_trials:
            decision = check_decision(searcher.suggest(history(*trials)), searcher.spec.matrix)
            if exhausted is not None and not isinstance(decision, Exhausted):
                raise AssertionError(
                    f"after {exhausted!r}, with {len(trials)} trials, the searcher returned "
                    f"{decision!r}: Exhausted is forever (answer Wait while an active trial's "
                    "end can still change the answer)")
            if isinstance(decision, Exhausted):
                exhausted = decision
            if isinstance(decision, Suggestion):
                trials.append(record(len(trials) + 1, as_logged(decision.params), RUNNING,
                                     meta=as_logged(decision.meta)))
                continue
            if not active:
                if isinstance(decision, Wait):
                    raise AssertionError(f"the searcher waits with no trial running or pending: "
                                         f"{decision!r} after {len(trials)} trials; the group "
                                         "would hang (the engine fails it)")
                return trials, decision
        elif not active:
            return trials, None
        trials[active[0].trial_id - 1] = _finish(active[0], objective, fail_every)
    raise AssertionError(f"the simulation did not end: {len(trials)} trials")


def _finish(t: TrialRecord, objective: Callable, fail_every: int) -> TrialRecord:
    if fail_every and t.trial_id % fail_every == 0:
        return record(t.trial_id, t.params, "failed", None, t.meta)
    return record(t.trial_id, t.params, "succeeded", float(objective(t.params)), t.meta)


def inside(param: Param, value: Any) -> bool:
    """Whether ``value`` is one ``param`` can take (bounds, quantisation, listed values): the
    check the engine makes of every suggestion (:meth:`hpo.spec.params.Param.check_value`)."""
    return param.contains(value)


def fingerprint(obj: Any, depth: int = 8, _seen: frozenset[int] = frozenset()) -> Any:
    """Comparable data for an object's whole state (to prove a call changed nothing)."""
    if obj is None or isinstance(obj, (bool, int, float, str, bytes)):
        return obj
    if id(obj) in _seen or depth == 0:
        return ("...", type(obj).__name__)
    seen = _seen | {id(obj)}
    if isinstance(obj, np.ndarray):
        return ("ndarray", obj.shape, str(obj.dtype), obj.tobytes())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.random.Generator):
        return ("Generator", fingerprint(obj.bit_generator.state, depth - 1, seen))
    if isinstance(obj, dict):
        return tuple((fingerprint(k, depth - 1, seen), fingerprint(v, depth - 1, seen)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, tuple(fingerprint(v, depth - 1, seen) for v in obj))
    if isinstance(obj, (set, frozenset)):
        return (type(obj).__name__, tuple(sorted(repr(v) for v in obj)))
    if hasattr(obj, "model_dump"):
        return (type(obj).__name__, fingerprint(obj.model_dump(), depth - 1, seen))
    if hasattr(obj, "__dict__") and not callable(obj):
        return (type(obj).__name__, fingerprint(vars(obj), depth - 1, seen))
    if hasattr(obj, "__slots__"):
        slots = {s: getattr(obj, s, None) for s in obj.__slots__}
        return (type(obj).__name__, fingerprint(slots, depth - 1, seen))
    return (type(obj).__name__, repr(obj))
