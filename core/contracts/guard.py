"""Guards around plugin classes, so what a plugin does wrong is named for the plugin.

The registry hands out a thin subclass of every registered searcher, runner and stopper. Its
methods call the plugin's own and check what comes back: an exception, or a result that breaks
the contract (a suggestion that is not JSON data, a stop decision without a reason...), becomes
a :class:`~hpo.errors.PluginError` naming the plugin and its distribution. The engine records it
as ``PluginFailed`` and fails the group before anything malformed reaches the log. A spec error
raised by a third-party plugin names the plugin too. Nothing else changes: ``isinstance``, the
class's name, module and docstring, and the ``hpo plugins`` listing are the plugin's own.
"""

from __future__ import annotations

import json
import numbers
import types
from typing import Any, Callable

from hpo.errors import PluginError, SpecError
from hpo.contracts.runner import Message, Runner
from hpo.contracts.searcher import Exhausted, Searcher, Suggestion, Wait
from hpo.contracts.stopper import StopDecision, Stopper

BUILTIN_DISTRIBUTION = "hpo-groups"


class Origin:
    """Where a registered class came from."""

    def __init__(self, kind: str, name: str, distribution: str, version: str):
        self.kind, self.name, self.distribution, self.version = kind, name, distribution, version

    def error(self, message: str) -> PluginError:
        return PluginError(f"the {self.kind}'s {message}", self.name, self.distribution)

    def spec_error(self, exc: SpecError) -> SpecError:
        """Third-party spec errors say which plugin complained (built-in ones stay as they are)."""
        if self.distribution == BUILTIN_DISTRIBUTION or getattr(exc, "plugin_named", False):
            return exc
        version = f" {self.version}" if self.version else ""
        where = f"the {self.kind} {self.name!r} from {self.distribution}{version}"
        if self.distribution.startswith("("):
            where = f"the {self.kind} {self.name!r}, registered in-process"
        named = SpecError(f"{exc.message} ({where})", exc.path, exc.file)
        named.plugin_named = True  # type: ignore[attr-defined]
        return named


def guard(cls: type, kind: str, name: str, distribution: str, version: str) -> type:
    """A subclass of ``cls`` whose contract methods are checked; see the module docstring."""
    origin = Origin(kind, name, distribution, version)
    methods = {"searcher": _searcher, "runner": _runner, "stopper": _stopper}[kind](cls, origin)

    def body(ns: dict[str, Any]) -> None:
        ns.update(methods)
        ns.update(__module__=cls.__module__, __qualname__=cls.__qualname__, __doc__=cls.__doc__,
                  hpo_origin=origin, hpo_plugin_class=cls)

    return types.new_class(cls.__name__, (cls,), exec_body=body)


def _calling(origin: Origin, what: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except (PluginError, SpecError):
        raise
    except Exception as exc:
        raise origin.error(f"{what} raised {type(exc).__name__}: {exc}") from exc


def _config_methods(cls: type, origin: Origin, init: Callable) -> dict[str, Any]:
    def parse_config(klass: type, options: Any, path: str) -> Any:
        try:
            return cls.parse_config(options, path)
        except SpecError as exc:
            raise origin.spec_error(exc) from None

    return {"parse_config": classmethod(parse_config), "__init__": init}


def _searcher(cls: type[Searcher], origin: Origin) -> dict[str, Any]:
    def __init__(self: Searcher, spec: Any, seed: int) -> None:
        try:
            cls.__init__(self, spec, seed)
        except SpecError as exc:
            raise origin.spec_error(exc) from None

    def suggest(self: Searcher, history: Any) -> Any:
        decision = _calling(origin, "suggest()", lambda: cls.suggest(self, history))
        return check_decision(decision, self.spec.matrix, origin)

    def extra_params(klass: type, config: Any) -> tuple[str, ...]:
        names = _calling(origin, "extra_params()", lambda: cls.extra_params(config))
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) and n for n in names):
            raise origin.error(f"extra_params() returned {names!r}; expected a tuple of param names")
        return tuple(names)

    def continues(self: Searcher, meta: dict[str, Any]) -> int | None:
        trial = _calling(origin, "continues()", lambda: cls.continues(self, meta))
        if trial is not None and (not isinstance(trial, int) or isinstance(trial, bool)):
            raise origin.error(f"continues() returned {trial!r}; expected a trial id or None")
        return trial

    def plan(self: Searcher) -> Any:
        return _calling(origin, "plan()", lambda: cls.plan(self))

    return {**_config_methods(cls, origin, __init__), "suggest": suggest, "plan": plan,
            "extra_params": classmethod(extra_params), "continues": continues}


def _stopper(cls: type[Stopper], origin: Origin) -> dict[str, Any]:
    def __init__(self: Stopper, config: Any, metric: Any) -> None:
        try:
            _calling(origin, "setup", lambda: cls.__init__(self, config, metric))
        except SpecError as exc:
            raise origin.spec_error(exc) from None

    def decide(self: Stopper, view: Any) -> list[StopDecision]:
        decisions = _calling(origin, "decide()", lambda: cls.decide(self, view))
        return check_stop_decisions(decisions, origin)

    return {**_config_methods(cls, origin, __init__), "decide": decide}


def _runner(cls: type[Runner], origin: Origin) -> dict[str, Any]:
    def __init__(self: Runner, config: Any) -> None:
        try:
            _calling(origin, "setup", lambda: cls.__init__(self, config))
        except SpecError as exc:
            raise origin.spec_error(exc) from None

    def poll(self: Runner) -> list[Message]:
        messages = _calling(origin, "poll()", lambda: cls.poll(self))
        return check_messages(messages, origin)

    return {**_config_methods(cls, origin, __init__), "poll": poll}


# -- the checks (also used by hpo.testing) ---------------------------------------------------


def _json(value: Any, what: str, origin: Origin | None) -> None:
    try:
        json.dumps(value, default=_item, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise _fail(origin, f"{what} is not JSON data: {exc}") from None


def _item(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{value!r} ({type(value).__name__})")


def _fail(origin: Origin | None, message: str) -> PluginError:
    return origin.error(message) if origin is not None else PluginError(message)


def check_decision(decision: Any, matrix: Any = (), origin: Origin | None = None) -> Any:
    """``decision`` as the engine needs it: a Suggestion of JSON params covering the matrix,
    a Wait or an Exhausted with a text reason."""
    if isinstance(decision, (Wait, Exhausted)):
        if not isinstance(decision.reason, str):
            raise _fail(origin, f"suggest() returned {decision!r}: its reason must be text")
        return decision
    if not isinstance(decision, Suggestion):
        raise _fail(origin, f"suggest() returned {decision!r}; expected a Suggestion, Wait or Exhausted")
    params, meta = decision.params, decision.meta
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise _fail(origin, f"suggest() returned params {params!r}; expected a dict by param name")
    missing = [name for name in matrix if name not in params]
    if missing:
        raise _fail(origin, f"suggest() returned params without {', '.join(missing)}: {params!r}")
    if not isinstance(meta, dict):
        raise _fail(origin, f"suggest() returned meta {meta!r}; expected a dict")
    _json(params, "suggest()'s params", origin)
    _json(meta, "suggest()'s meta", origin)
    return decision


def check_stop_decisions(decisions: Any, origin: Origin | None = None) -> list[StopDecision]:
    """A list of well-formed :class:`StopDecision` (with a reason and JSON evidence)."""
    if not isinstance(decisions, (list, tuple)):
        raise _fail(origin, f"decide() returned {decisions!r}; expected a list of StopDecision")
    for d in decisions:
        if not isinstance(d, StopDecision):
            raise _fail(origin, f"decide() returned {d!r} in its list; expected StopDecision")
        if d.scope not in ("trial", "group") or (d.scope == "trial" and not isinstance(d.trial_id, int)):
            raise _fail(origin, f"decide() returned {d!r}: a trial decision needs an int trial_id")
        if not isinstance(d.reason, str) or not d.reason.strip():
            raise _fail(origin, f"decide() returned a decision without a reason: {d!r}")
        if d.group_status not in ("succeeded", "failed") or not isinstance(d.evidence, dict):
            raise _fail(origin, f"decide() returned a malformed decision: {d!r}")
        _json(d.evidence, "a stop decision's evidence", origin)
    return list(decisions)


def check_messages(messages: Any, origin: Origin | None = None) -> list[Message]:
    """A list of Reported / Exited / Rejected / RunnerNotice with numeric metrics, a known
    status and a count of rejected lines that is a non-negative int with string examples."""
    from hpo.contracts.runner import Exited, Rejected, Reported, RunnerNotice

    if not isinstance(messages, (list, tuple)):
        raise _fail(origin, f"poll() returned {messages!r}; expected a list of messages")
    for m in messages:
        if isinstance(m, Reported):
            metrics = m.metrics if isinstance(m.metrics, dict) else {"?": m.metrics}
            if any(v is not None and not _is_number(v) for v in metrics.values()):
                raise _fail(origin, f"poll() reported metrics that are not numbers: {m!r}")
        elif isinstance(m, Exited):
            if m.status not in ("succeeded", "failed", "stopped"):
                raise _fail(origin, f"poll() returned an exit with status {m.status!r}")
            if not isinstance(m.lost, bool):
                raise _fail(origin, f"poll() returned an exit whose `lost` is not a bool: {m!r}")
        elif isinstance(m, Rejected):
            if (not isinstance(m.count, int) or isinstance(m.count, bool) or m.count < 0
                    or not all(isinstance(x, str) for x in m.examples)):
                raise _fail(origin, f"poll() returned a malformed Rejected: {m!r}")
        elif not isinstance(m, RunnerNotice):
            raise _fail(origin, f"poll() returned {m!r}; expected Reported, Exited, Rejected or RunnerNotice")
    return list(messages)


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)
