"""Register plugins in-process, for tests: ``with registered(plugin_of(MySearcher)): ...``."""

from __future__ import annotations

import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pluggy

from hpo.contracts.hookspecs import hookimpl
from hpo.errors import PluginError
from hpo.contracts.registry import Registry, default_plugin_manager
from hpo.contracts.runner import Runner
from hpo.contracts.searcher import Searcher
from hpo.contracts.stopper import Stopper

KINDS = (("searchers", Searcher), ("runners", Runner), ("stoppers", Stopper))


def plugin_of(*classes: type, name: str | None = None) -> Any:
    """A plugin object whose ``hpo_register_*`` hooks register ``classes`` (by base class)."""
    label = name or "+".join(getattr(c, "name", c.__name__) for c in classes)
    plugin = types.SimpleNamespace(__name__=label, hpo_classes=classes)
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
            _check_clash(plugin, pm)
            pm.register(plugin)
            done.append(plugin)
        yield Registry(pm)
    finally:
        for plugin in done:
            pm.unregister(plugin)


def _check_clash(plugin: Any, pm: pluggy.PluginManager) -> None:
    """A clear error when ``plugin`` would register a name another plugin already holds with a
    different class (an installed copy of the plugin under test, say): the group would run one of
    the two, and pluggy alone says only "Plugin name already registered"."""
    registry = Registry(pm)
    for cls in getattr(plugin, "hpo_classes", ()):
        kind = next(k[:-1] for k, base in KINDS if issubclass(cls, base))
        held = registry.origin(kind, cls.name)
        if held is None or held.plugin_class is cls:
            continue
        where = f"{held.distribution} {held.version}".strip()
        theirs = f"{held.plugin_class.__module__}.{held.plugin_class.__qualname__}"
        raise PluginError(
            f"the {kind} name {cls.name!r} of {cls.__module__}.{cls.__qualname__} is already "
            f"registered by the plugin {held.plugin!r} ({where}) with another class, {theirs}; "
            f"a group would not run the class under test. Disable that entry point for the tests "
            f"(HPO_DISABLE_PLUGINS={held.plugin}), install this working copy in its place "
            f"(pip install -e .), or give the class another name"
        )
    label = getattr(plugin, "__name__", None)
    if label and pm.get_plugin(label) is not None and pm.get_plugin(label) is not plugin:
        raise PluginError(f"a plugin named {label!r} is already registered (an installed entry "
                          "point?); pass plugin_of(..., name=...) another name")
