"""Register plugins in-process, for tests: ``with registered(plugin_of(MySearcher)): ...``."""

from __future__ import annotations

import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pluggy

from hpo.contracts.hookspecs import hookimpl
from hpo.contracts.registry import Registry, default_plugin_manager
from hpo.contracts.runner import Runner
from hpo.contracts.searcher import Searcher
from hpo.contracts.stopper import Stopper

KINDS = (("searchers", Searcher), ("runners", Runner), ("stoppers", Stopper))


def plugin_of(*classes: type, name: str | None = None) -> Any:
    """A plugin object whose ``hpo_register_*`` hooks register ``classes`` (by base class)."""
    label = name or "+".join(getattr(c, "name", c.__name__) for c in classes)
    plugin = types.SimpleNamespace(__name__=label)
    for kind, base in KINDS:
        members = tuple(c for c in classes if issubclass(c, base))
        if members:
            setattr(plugin, f"hpo_register_{kind}", hookimpl(_registrar(members)))
    unknown = [c for c in classes if not issubclass(c, (Searcher, Runner, Stopper))]
    if unknown:
        raise TypeError(f"not a Searcher, Runner or Stopper subclass: {unknown!r}")
    return plugin


def _registrar(members: tuple[type, ...]):
    def register_all(register):
        for cls in members:
            register(cls)

    return register_all


@contextmanager
def registered(*plugins: Any, pm: pluggy.PluginManager | None = None) -> Iterator[Registry]:
    """Register ``plugins`` (modules or objects with ``hpo_*`` hooks) for the block's duration.

    By default on the process's own plugin manager, so the engine, the API and the CLI entry
    point (``hpo.cli.main``) all see them; yields a :class:`Registry` over it.
    """
    pm = pm or default_plugin_manager()
    done = []
    try:
        for plugin in plugins:
            pm.register(plugin)
            done.append(plugin)
        yield Registry(pm)
    finally:
        for plugin in done:
            pm.unregister(plugin)
