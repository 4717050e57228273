"""The plugin manager: one ``pluggy.PluginManager("hpo")``, loaded from the ``hpo`` entry points.

Built-in plugins are registered through the same entry points as third-party ones.
``HPO_LOAD_PLUGINS`` (comma-separated entry-point names) loads only those;
``HPO_DISABLE_PLUGINS`` skips the ones it names.

A plugin that fails to import, implements a hook that does not exist, or fails while registering
is skipped with a warning naming it and its distribution (so is one that registers a name another
plugin holds with another class), and the error for a spec that needs
what it would have registered says why it is missing. The classes the registry hands out are
guarded (:mod:`hpo.contracts.guard`): what a plugin raises or returns wrong at run time becomes a
:class:`PluginError` naming the plugin and its distribution.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from typing import Any

import pluggy

from hpo.contracts import hookspecs
from hpo.errors import PluginError
from hpo.contracts.guard import guard
from hpo.contracts.runner import Runner
from hpo.contracts.searcher import Searcher
from hpo.contracts.stopper import Stopper

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "hpo"
_DISTRIBUTIONS: dict[str, tuple[str, str]] = {}  # entry-point name -> (distribution, version)


@dataclass(frozen=True)
class Registered:
    """One registered class and where it came from."""

    kind: str  # searcher | runner | stopper
    name: str
    cls: type  # the plugin's class, guarded (a subclass; see hpo.contracts.guard)
    plugin: str  # the entry-point name of the module that registered it
    distribution: str
    version: str

    @property
    def plugin_class(self) -> type:
        """The class exactly as the plugin wrote it."""
        return getattr(self.cls, "hpo_plugin_class", self.cls)


# each contract's base class, and the stable path plugin authors import it from
_BASES = {"searcher": (Searcher, "hpo.search.Searcher"), "runner": (Runner, "hpo.running.Runner"),
          "stopper": (Stopper, "hpo.stopping.Stopper")}


def _names(env: str) -> set[str] | None:
    raw = os.environ.get(env)
    if raw is None:
        return None
    return {n.strip() for n in raw.split(",") if n.strip()}


def get_plugin_manager() -> pluggy.PluginManager:
    """A fresh plugin manager with every enabled ``hpo`` entry point registered."""
    pm = pluggy.PluginManager("hpo")
    pm.add_hookspecs(hookspecs)
    pm.hpo_skipped = {}  # type: ignore[attr-defined]  # plugin name -> why it was skipped
    only, disabled = _names("HPO_LOAD_PLUGINS"), _names("HPO_DISABLE_PLUGINS") or set()
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if (only is not None and ep.name not in only) or ep.name in disabled:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        dist = ep.dist.name if ep.dist else "?"
        version = ep.dist.version if ep.dist else ""
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
            pm.check_pending()  # a misspelt hook name fails here, naming the hook
        except Exception as exc:  # a broken third-party plugin must not break hpo
            if pm.get_plugin(ep.name) is not None:
                pm.unregister(name=ep.name)
            _skip(pm, ep.name, f"{dist} {version}".strip(), "failed to load", exc)
            continue
        _DISTRIBUTIONS[ep.name] = (dist, version)
    return pm


def _skip(pm: pluggy.PluginManager, plugin: str, distribution: str, what: str, exc: BaseException) -> None:
    why = f"plugin {plugin!r} (from {distribution}) {what}: {type(exc).__name__}: {exc}"
    skipped(pm)[plugin] = why
    skipped_from(pm)[plugin] = distribution
    log.warning("%s; it is skipped", why)


def skipped_from(pm: pluggy.PluginManager) -> dict[str, str]:
    """The distribution (name and version) of each plugin ``pm`` skipped."""
    if not hasattr(pm, "hpo_skipped_from"):
        pm.hpo_skipped_from = {}  # type: ignore[attr-defined]
    return pm.hpo_skipped_from  # type: ignore[attr-defined]


def skipped(pm: pluggy.PluginManager) -> dict[str, str]:
    """The plugins ``pm`` skipped because they failed to load or register, with why."""
    if not hasattr(pm, "hpo_skipped"):
        pm.hpo_skipped = {}  # type: ignore[attr-defined]
    return pm.hpo_skipped  # type: ignore[attr-defined]


def failed_plugins(pm: pluggy.PluginManager | None = None) -> dict[str, str]:
    """The plugins skipped because they failed to load or register, with why."""
    return dict(skipped(pm or default_plugin_manager()))


class Registry:
    """The searchers, runners and stoppers that the plugins registered, by name."""

    def __init__(self, pm: pluggy.PluginManager | None = None):
        self.pm = pm or default_plugin_manager()
        self._items: dict[tuple[str, str], Registered] = {}
        for kind, hook in (
            ("searcher", self.pm.hook.hpo_register_searchers),
            ("runner", self.pm.hook.hpo_register_runners),
            ("stopper", self.pm.hook.hpo_register_stoppers),
        ):
            for impl in hook.get_hookimpls():
                plugin_name = self.pm.get_name(impl.plugin) or repr(impl.plugin)
                dist, version = self._distribution(plugin_name)

                def register(cls: type, _kind=kind, _p=plugin_name, _d=dist, _v=version) -> None:
                    self._register(_kind, cls, _p, _d, _v)

                try:
                    impl.function(register=register)
                except Exception as exc:
                    _skip(self.pm, plugin_name, f"{dist} {version}".strip(), "failed to register", exc)

    def _register(self, kind: str, cls: Any, plugin: str, dist: str, version: str) -> None:
        base, public = _BASES[kind]
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise PluginError(f"registered {cls!r} as a {kind}; expected a subclass of {public}",
                              plugin, dist)
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"registered {cls!r} without a `name`", plugin, dist)
        held = self._items.get((kind, name))
        if held is not None and held.plugin_class is not cls:  # never shadow a plugin silently
            theirs = f"{held.plugin_class.__module__}.{held.plugin_class.__qualname__}"
            raise PluginError(
                f"registered {cls!r}, but the {kind} name {name!r} is held by the plugin "
                f"{held.plugin!r} (from {f'{held.distribution} {held.version}'.strip()}) with "
                f"{theirs}; disable one of the two (HPO_DISABLE_PLUGINS=NAME)", plugin, dist)
        guarded = guard(cls, kind, name, dist, version)
        self._items[(kind, name)] = Registered(kind, name, guarded, plugin, dist, version)

    def _distribution(self, plugin_name: str) -> tuple[str, str]:
        return _DISTRIBUTIONS.get(plugin_name, ("(in-process)", ""))

    def get(self, kind: str, name: str) -> Registered:
        try:
            return self._items[(kind, name)]
        except KeyError:
            known = ", ".join(sorted(n for k, n in self._items if k == kind)) or "none"
            why = "".join(f"; {why}" for why in skipped(self.pm).values())
            raise PluginError(
                f"no {kind} named {name!r} is installed (installed: {known}); "
                f"see `hpo plugins`{why}"
            ) from None

    def origin(self, kind: str, name: str) -> Registered | None:
        """The registration of ``name``, or None."""
        return self._items.get((kind, name))

    def names(self, kind: str) -> list[str]:
        return sorted(n for k, n in self._items if k == kind)

    def all(self) -> list[Registered]:
        return sorted(self._items.values(), key=lambda r: (r.kind, r.name))

    def observe(self, **kwargs: Any) -> None:
        """Call ``hpo_event_recorded`` on every observer; a failing observer is logged, skipped."""
        for impl in self.pm.hook.hpo_event_recorded.get_hookimpls():
            try:
                impl.function(**kwargs)
            except Exception as exc:
                log.warning("observer %s failed and was skipped: %s", impl.plugin_name, exc)


@lru_cache(maxsize=1)
def default_plugin_manager() -> pluggy.PluginManager:
    return get_plugin_manager()


def default_registry() -> Registry:
    return Registry(default_plugin_manager())
