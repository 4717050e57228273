"""The plugin manager: one ``pluggy.PluginManager("hpo")``, loaded from the ``hpo`` entry points.

Built-in plugins are registered through the same entry points as third-party ones.
``HPO_LOAD_PLUGINS`` (comma-separated entry-point names) loads only those;
``HPO_DISABLE_PLUGINS`` skips the ones it names.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from typing import Any

import pluggy

from hpo import hookspecs
from hpo.errors import PluginError

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "hpo"
_DISTRIBUTIONS: dict[str, tuple[str, str]] = {}  # entry-point name -> (distribution, version)


@dataclass(frozen=True)
class Registered:
    """One registered class and where it came from."""

    kind: str  # searcher | runner | stopper
    name: str
    cls: type
    plugin: str  # the entry-point name of the module that registered it
    distribution: str
    version: str


def _names(env: str) -> set[str] | None:
    raw = os.environ.get(env)
    if raw is None:
        return None
    return {n.strip() for n in raw.split(",") if n.strip()}


def get_plugin_manager() -> pluggy.PluginManager:
    """A fresh plugin manager with every enabled ``hpo`` entry point registered."""
    pm = pluggy.PluginManager("hpo")
    pm.add_hookspecs(hookspecs)
    only, disabled = _names("HPO_LOAD_PLUGINS"), _names("HPO_DISABLE_PLUGINS") or set()
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if (only is not None and ep.name not in only) or ep.name in disabled:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        dist = ep.dist.name if ep.dist else "?"
        try:
            module = ep.load()
        except Exception as exc:  # a broken third-party plugin must not break hpo
            log.warning("plugin %s (from %s) failed to load: %s", ep.name, dist, exc)
            continue
        pm.register(module, name=ep.name)
        _DISTRIBUTIONS[ep.name] = (dist, ep.dist.version if ep.dist else "")
    pm.check_pending()
    return pm


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
                    name = getattr(cls, "name", None)
                    if not isinstance(name, str) or not name:
                        raise PluginError(f"registered {cls!r} without a `name`", _p, _d)
                    self._items[(_kind, name)] = Registered(_kind, name, cls, _p, _d, _v)

                try:
                    impl.function(register=register)
                except PluginError:
                    raise
                except Exception as exc:
                    raise PluginError(f"registration failed: {exc}", plugin_name, dist) from exc

    def _distribution(self, plugin_name: str) -> tuple[str, str]:
        return _DISTRIBUTIONS.get(plugin_name, ("(in-process)", ""))

    def get(self, kind: str, name: str) -> Registered:
        try:
            return self._items[(kind, name)]
        except KeyError:
            known = ", ".join(sorted(n for k, n in self._items if k == kind)) or "none"
            raise PluginError(
                f"no {kind} named {name!r} is installed (installed: {known}); "
                "see `hpo plugins`"
            ) from None

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
