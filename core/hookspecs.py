"""The hook contract of hpo plugins.

Every hook is called with keyword arguments. ``hpo_register_*`` hooks *register* things by calling
``register(cls)`` once per class; ``hpo_event_recorded`` *observes* the log. A plugin never writes
the store: searchers, runners and stoppers return decisions and the engine records them.
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

    :param register: takes a Searcher subclass; its ``name`` is the algorithm's name in specs.
    """


@hookspec
def hpo_register_runners(register: Callable[[type], None]) -> None:
    """Register trial runners: call ``register(cls)`` for each :class:`hpo.running.Runner`.

    :param register: takes a Runner subclass; its ``name`` is the ``runner.kind`` in specs.
    """


@hookspec
def hpo_register_stoppers(register: Callable[[type], None]) -> None:
    """Register stopping policies: call ``register(cls)`` for each :class:`hpo.stopping.Stopper`.

    :param register: takes a Stopper subclass; its ``name`` is the ``kind`` in ``stopping:``.
    """


@hookspec
def hpo_register_commands(cli: click.Group) -> None:
    """Add commands to the ``hpo`` command line: call ``cli.add_command(...)``.

    :param cli: the root click group.
    """


@hookspec
def hpo_event_recorded(group_id: str, seq: int, event: Any) -> None:
    """Observe an event the engine has just committed to the log.

    Called in the engine process after the commit, in log order. An observer that raises is
    logged and skipped; it can never change or block the log.

    :param group_id: the group the event belongs to.
    :param seq: the event's global sequence number.
    :param event: the event model (see ``hpo.events``).
    """
