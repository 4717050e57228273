"""The composition root: build a group's searcher, runner and stoppers from its spec.

Creating a group validates the spec against the installed plugins *before* anything is written,
so a bad spec never leaves a trace in the log.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from hpo.engine.faults import Faults
from hpo.eventlog import events as ev
from hpo.errors import PluginError, SpecError
from hpo.contracts.registry import Registry, default_registry
from hpo.contracts.runner import Runner
from hpo.contracts.searcher import Searcher
from hpo.spec import GroupSpec
from hpo.contracts.stopper import Stopper
from hpo.eventlog.store import EventStore


@dataclass
class Plugins:
    searcher: Searcher
    runner: Runner
    stoppers: list[Stopper]


def _lookup(registry: Registry, kind: str, name: str, path: str):
    try:
        return registry.get(kind, name)
    except PluginError as exc:
        raise SpecError(str(exc), path) from None


def build_searcher(spec: GroupSpec, seed: int, registry: Registry) -> Searcher:
    reg = _lookup(registry, "searcher", spec.search.algorithm, spec.search.path)
    try:
        return reg.cls(spec, seed)
    except SpecError:
        raise
    except Exception as exc:
        raise PluginError(f"could not be set up: {exc}", reg.name, reg.distribution) from exc


def build_runner(spec: GroupSpec, registry: Registry) -> Runner:
    reg = _lookup(registry, "runner", spec.runner.kind, f"{spec.runner.path}.kind")
    config = reg.cls.parse_config(spec.runner.options, spec.runner.path)
    return reg.cls(config)


def build_stoppers(spec: GroupSpec, registry: Registry) -> list[Stopper]:
    entries: list[tuple[str, dict[str, Any], str]] = []
    if spec.early_stopping:
        entries.append(
            ("early_stopping", {"entries": [e.model_dump() for e in spec.early_stopping]}, "early_stopping")
        )
    entries += [(s.kind, s.options, s.path) for s in spec.stoppers]
    out = []
    for kind, options, path in entries:
        reg = _lookup(registry, "stopper", kind, f"{path}.kind" if kind != "early_stopping" else path)
        config = reg.cls.parse_config(options, path)
        out.append(reg.cls(config, spec.metric))
    return out


def build_plugins(
    spec: GroupSpec, seed: int, registry: Registry | None = None, runner: Runner | None = None
) -> Plugins:
    """The spec's plugins; a ``runner`` given here replaces the spec's (which is not built)."""
    registry = registry or default_registry()
    return Plugins(
        build_searcher(spec, seed, registry),
        runner if runner is not None else build_runner(spec, registry),
        build_stoppers(spec, registry),
    )


def validate(spec: GroupSpec, registry: Registry | None = None) -> None:
    """Raise SpecError/PluginError unless every plugin the spec names accepts it."""
    build_plugins(spec, 0, registry)


def with_resolved_options(spec: GroupSpec, registry: Registry | None = None) -> GroupSpec:
    """``spec`` with its searcher's options resolved: every option the searcher's ``Config``
    knows, defaults included, as the searcher reads them now.

    Recorded in ``GroupCreated``, they make a group independent of later defaults: a release
    that changes a default (say, bo's kernel) never changes how an existing group resumes or
    replays. Options that do not survive the round trip (a third-party ``Config`` whose dump
    it cannot read back as the same options) are kept as written.
    """
    reg = _lookup(registry or default_registry(), "searcher", spec.search.algorithm, spec.search.path)
    try:
        config = reg.cls.parse_config(spec.search.options, spec.search.path)
        resolved = config.model_dump(mode="json", by_alias=True)
        if reg.cls.parse_config(resolved, spec.search.path) != config:
            return spec
    except Exception:  # validation already passed: the options as written stand
        return spec
    return spec.model_copy(update={"search": spec.search.model_copy(update={"options": resolved})})


def from_log(spec: GroupSpec, registry: Registry | None = None) -> GroupSpec:
    """A group's recorded ``spec`` as its searcher must read it: options added since the group
    was created take the value that keeps its old behaviour (``Searcher.recorded_defaults``).
    Every path that rebuilds a searcher from a log (the engine, replay, plans) goes through it."""
    try:
        reg = (registry or default_registry()).get("searcher", spec.search.algorithm)
    except PluginError:
        return spec  # building the searcher names the missing plugin
    options = reg.cls.options_from_log(spec.search.options)
    if options == spec.search.options:
        return spec
    return spec.model_copy(update={"search": spec.search.model_copy(update={"options": options})})


def new_group_id() -> str:
    return uuid.uuid4().hex[:12]


def create_group(
    store: EventStore,
    spec: GroupSpec,
    *,
    name: str | None = None,
    seed: int | None = None,
    source: str = "",
    source_path: str | None = None,
    origin: dict[str, Any] | None = None,
    registry: Registry | None = None,
) -> str:
    """Validate ``spec`` against the plugins, then record ``GroupCreated``; return the group id."""
    validate(spec, registry)
    spec = with_resolved_options(spec, registry)
    group_id = new_group_id()
    if seed is None:
        seed = spec.seed if spec.seed is not None else secrets.randbelow(2**31)
    event = ev.GroupCreated(
        group_id=group_id,
        name=name or spec.name or group_id,
        spec=spec.to_json(),
        source=source,
        source_path=source_path,
        seed=int(seed),
        origin=origin,
    )
    faults = Faults()  # a crash right before or after the group is created, for the chaos tests
    faults.before_append([event])
    store.append(group_id, [event], 0)
    faults.after_append([event])
    return group_id
