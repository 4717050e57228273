"""Lifecycle operations over the log: replay with proof, restart, fork.

Nothing here rewrites history: ``restart`` and ``fork`` create new groups whose
``GroupCreated.origin`` points at the group they came from.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from hpo.eventlog import events as ev
from hpo.errors import HpoError, SpecError
from hpo.engine.compare import differences
from hpo.engine.composition import build_searcher, create_group, from_log
from hpo.engine.environment import changes as env_changes
from hpo.engine.environment import environment
from hpo.engine.names import free_name
from hpo.contracts.registry import Registry, default_registry
from hpo.contracts.searcher import Suggestion
from hpo.spec import GroupSpec
from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore


@dataclass(frozen=True)
class Mismatch:
    seq: int
    trial_id: int
    logged: dict[str, Any]
    replayed: dict[str, Any]
    differences: list[str] = field(default_factory=list)  # each key that differs, with both values


@dataclass
class Replayed:
    """What ``hpo replay --check`` found: real divergences, and differences within float noise
    (:mod:`hpo.engine.compare`) with the version changes that explain them."""

    checked: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    noise: list[Mismatch] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # "numpy 2.4.6 → 2.5.5", for the noisy ones
    unrecorded: bool = False  # a noisy suggestion was made by an engine that recorded no versions


def replay_check(store: EventStore, group_id: str, registry: Registry | None = None) -> tuple[int, list[Mismatch]]:
    """``(suggestions checked, real mismatches)``: :func:`replay` without the float noise."""
    found = replay(store, group_id, registry)
    return found.checked, found.mismatches


def replay(store: EventStore, group_id: str, registry: Registry | None = None) -> Replayed:
    """Re-run the searcher at every ``Suggested`` event against the history it had then.

    A suggestion matches when its params and meta equal what was logged; numbers that differ
    only by float noise (``hpo.engine.compare.REL_TOL``) are reported apart, with what changed
    between the environment the engine recorded then and this one.
    """
    registry = registry or default_registry()
    stored = store.read(group_id, trusted=False)
    state = GroupState()
    searcher, now, then = None, None, None
    found = Replayed()
    changes: set[str] = set()
    for s in stored:
        if s.type == "EngineStarted":
            then = s.event.environment  # type: ignore[attr-defined]
        if s.type == "Suggested":
            e: ev.Suggested = s.event  # type: ignore[assignment]
            if (state.origin or {}).get("kind") == "fork" and state.version != e.seen_version:
                state.apply(s)  # inherited from the origin group: checked there
                continue
            if searcher is None:
                spec = from_log(GroupSpec.from_json(state.spec), registry)
                searcher, now = build_searcher(spec, state.seed, registry), environment(spec, registry)
            if state.version != e.seen_version:
                raise HpoError(
                    f"seq {s.seq}: Suggested says it saw version {e.seen_version}, "
                    f"but the log had {state.version} before it"
                )
            decision = searcher.suggest(state.history())
            logged = _normalise_logged({"params": e.params, "meta": e.meta})
            replayed = _normalise(decision)
            found.checked += 1
            diff = differences(logged, replayed)
            if diff.real:
                found.mismatches.append(Mismatch(s.seq, e.trial_id, logged, replayed, diff.real))
            elif diff.noise:
                found.noise.append(Mismatch(s.seq, e.trial_id, logged, replayed, diff.noise))
                changes.update(env_changes(then, now or {}))
                found.unrecorded |= not then
        state.apply(s)
    found.changes = sorted(changes)
    return found


def _normalise(decision: Any) -> dict[str, Any]:
    if not isinstance(decision, Suggestion):
        return {"decision": type(decision).__name__, "reason": getattr(decision, "reason", "")}
    return json.loads(json.dumps({"params": decision.params, "meta": decision.meta}, default=_item))


def _normalise_logged(logged: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(logged))


def _item(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(repr(value))


def restart(
    store: EventStore, group_id: str, failed_only: bool = False, registry: Registry | None = None,
    seed: int | None = None, trials: list[int] | None = None, sets: list[str] = (),
) -> str:
    """A new group with the same spec, or only some trials' configs, linked to its origin.

    ``failed_only`` restarts the failed trials, ``trials`` the ones named; each restarted trial's
    ``Suggested`` meta names the trial it restarts (``origin_trial``). ``sets`` (``name=value``,
    read as YAML) override a param of the restarted configs, or a declaration of any restart.
    """
    state = GroupState.fold(store.iter_events(group_id))
    data = copy.deepcopy(state.spec)
    chosen = _chosen_trials(state, group_id, failed_only, trials)
    overrides = _param_sets(data, list(sets), restarting_configs=chosen is not None)
    kind = "restart"
    if chosen is not None:
        kind = "restart-failed" if failed_only else "restart-trials"
        algorithm, option = configs_searcher(registry or default_registry())
        data["search"] = {  # a searcher's configs_option comes with origin_trials (the contract)
            "algorithm": algorithm,
            "options": {option: [{**t.params, **overrides} for t in chosen],
                        "origin_trials": [t.trial_id for t in chosen]},
            "path": "search",
        }
    spec = GroupSpec.from_json(data)
    origin: dict[str, Any] = {"group": group_id, "kind": kind}
    if chosen is not None:
        origin["trials"] = [t.trial_id for t in chosen]
    return create_group(
        store, spec, name=free_name(store, f"{state.name}-restart"),
        seed=state.seed if seed is None else seed, source=state.source,
        source_path=state.source_path, registry=registry, origin=origin,
    )


def _chosen_trials(state: GroupState, group_id: str, failed_only: bool,
                   trials: list[int] | None) -> list | None:
    """The trials a restart runs again (None: the whole group)."""
    if failed_only and trials:
        raise HpoError("restart takes --failed-only or --trials, not both")
    if failed_only:
        failed = [t for t in sorted(state.trials.values(), key=lambda t: t.trial_id) if t.status == "failed"]
        if not failed:
            raise HpoError(f"group {state.name} ({group_id}) has no failed trials to restart")
        return failed
    if not trials:
        return None
    unknown = [i for i in trials if i not in state.trials]
    if unknown:
        raise HpoError(f"--trials: group {state.name} ({group_id}) has no trial "
                       f"{', '.join(map(str, unknown))} (its trials are 1 to {len(state.trials)})")
    return [state.trials[i] for i in dict.fromkeys(trials)]


def _param_sets(data: dict[str, Any], sets: list[str], restarting_configs: bool) -> dict[str, Any]:
    """``--set name=value`` for a restart: a declaration is changed in ``data``; a matrix param
    is returned as an override of the restarted configs (a whole restart searches it)."""
    overrides: dict[str, Any] = {}
    matrix, declarations = data.get("matrix") or {}, data.setdefault("declarations", {})
    for item in sets:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise SpecError(f"expected name=value, got {item!r}", "--set")
        value = yaml.safe_load(raw) if raw else None
        if name in matrix:
            if not restarting_configs:
                raise SpecError(f"{name} is searched by the matrix; restart chosen trials (--trials, "
                                "--failed-only) to set it", "--set")
            overrides[name] = value
        elif name in declarations:
            declarations[name] = value
        else:
            known = ", ".join([*matrix, *declarations]) or "none"
            raise SpecError(f"{name!r} is not a param of the group (its params: {known})", "--set")
    return overrides


def configs_searcher(registry: Registry) -> tuple[str, str]:
    """An installed searcher that runs a list of configs (``Searcher.configs_option``), and the
    option that takes them; the first by name when several can."""
    for name in registry.names("searcher"):
        option = registry.get("searcher", name).cls.configs_option
        if option:
            return name, option
    raise HpoError("no installed searcher runs a list of configs (a searcher with a "
                   "`configs_option`), which `hpo restart --failed-only` needs; see `hpo plugins`")


def apply_sets(data: dict[str, Any], sets: list[str]) -> dict[str, Any]:
    """``--set search.options.n_experiments=20``: dotted paths into the normalised spec."""
    data = copy.deepcopy(data)
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise SpecError(f"--set expects key=value, got {item!r}", "--set")
        value = yaml.safe_load(raw) if raw else None
        target, parts = data, key.split(".")
        for part in parts[:-1]:
            if not isinstance(target.get(part), dict):
                target[part] = {}
            target = target[part]
        target[parts[-1]] = value
    return data


FORKED_TYPES = {"Suggested", "TrialLaunched", "TrialReattached", "MetricReported", "TrialFinished"}


def fork(
    store: EventStore, group_id: str, at_seq: int, *, algorithm: str | None = None,
    options: dict[str, Any] | None = None, sets: list[str] = (), registry: Registry | None = None,
) -> str:
    """A new group sharing the history up to ``at_seq`` and continuing with other settings.

    Trials finished by ``at_seq`` are copied with their results; trials suggested but not
    finished by then are copied as pending, so the fork runs them afresh.
    """
    stored = store.read(group_id, until_seq=at_seq)
    if not stored:
        raise HpoError(f"group {group_id} has no events up to seq {at_seq}")
    state = GroupState.fold(stored)
    data = copy.deepcopy(state.spec)
    if algorithm is not None:
        metric = data.get("metric")
        data["search"] = {"algorithm": algorithm, "options": options or {}, "path": "search"}
        data["metric"] = metric
    data = apply_sets(data, list(sets))
    try:
        spec = GroupSpec.from_json(data)
    except Exception as exc:
        raise SpecError(f"the forked spec is invalid: {exc}", "--set") from None
    new_id = create_group(
        store, spec, name=free_name(store, f"{state.name}-fork"), seed=state.seed, source=state.source,
        source_path=state.source_path, registry=registry,
        origin={"group": group_id, "kind": "fork", "at_seq": at_seq},
    )
    finished = {t.trial_id for t in state.trials.values() if t.finished}
    copied = [
        s.event for s in stored
        if s.type in FORKED_TYPES
        and (s.type == "Suggested" or s.event.trial_id in finished)  # type: ignore[attr-defined]
    ]
    for start in range(0, len(copied), 500):
        store.append(new_id, copied[start:start + 500], store.version(new_id))
    return new_id
