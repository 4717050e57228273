"""The hook contract of hpo plugins (``docs/plugins/`` has a page per hook family).

Every hook is called with keyword arguments. ``hpo_register_*`` hooks *register* things by calling
``register(cls)`` once per class; ``hpo_event_recorded`` *observes* the log. A plugin never writes
the store: searchers, runners and stoppers return decisions and the engine records them.
Plugins are modules (or objects) named by an entry point in the ``hpo`` group; ``hpo.testing``
has the conformance kit their classes are tested with.
"""

from __future__ import annotations

from typing import Any, Callable

import click
import pluggy

hookspec = pluggy.HookspecMarker("hpo")
hookimpl = pluggy.HookimplMarker("hpo")


@hookspec
def hpo_register_searchers(register: Callable[[type], None]) -> None:
    """Register search algorithms: call ``register(cls)`` for each :class:`hpo.search.Searcher`.

    Called whenever a registry is built (every command, every engine), before any spec is read;
    it only registers classes, so keep it cheap. The engine builds the selected class with
    ``cls(spec, seed)`` and calls ``suggest(history)`` once per free slot. Returns nothing.

    :param register: takes a Searcher subclass; its ``name`` is the algorithm's name in specs.
    """


@hookspec
def hpo_register_runners(register: Callable[[type], None]) -> None:
    """Register trial runners: call ``register(cls)`` for each :class:`hpo.running.Runner`.

    Called whenever a registry is built. The engine builds the selected class with
    ``cls(cls.parse_config(options, path))``, then calls ``start``/``poll``/``stop`` as it runs.
    Returns nothing.

    :param register: takes a Runner subclass; its ``name`` is the ``runner.kind`` in specs.
    """


@hookspec
def hpo_register_stoppers(register: Callable[[type], None]) -> None:
    """Register stopping policies: call ``register(cls)`` for each :class:`hpo.stopping.Stopper`.

    Called whenever a registry is built. The engine builds every entry of ``stopping:`` with
    ``cls(cls.parse_config(options, path), metric)`` and calls ``decide(view)`` after new reports
    and before each suggestion. Returns nothing.

    :param register: takes a Stopper subclass; its ``name`` is the ``kind`` in ``stopping:``.
    """


@hookspec
def hpo_register_commands(cli: click.Group) -> None:
    """Add commands to the ``hpo`` command line: call ``cli.add_command(...)``.

    Called once when the ``hpo`` command starts, before its arguments are parsed. A command
    reads groups through ``hpo.load_group`` or the store; it never writes events of its own
    other than requests (``StopRequested``). Returns nothing.

    :param cli: the root click group.
    """


@hookspec
def hpo_event_recorded(group_id: str, seq: int, event: Any) -> None:
    """Observe an event the engine has just committed to the log.

    Called in the engine process after the commit, in log order, for the events of the group
    that engine drives (those other processes appended, such as ``StopRequested``, when the
    engine reads them). An observer that raises is logged and skipped; it can never change or
    block the log, and it runs on the engine's time: keep it quick. Returns nothing.

    :param group_id: the group the event belongs to.
    :param seq: the event's global sequence number.
    :param event: the event model (see ``hpo.eventlog.events``).
    """
