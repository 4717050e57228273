"""The ``hpo`` command line (click). Plugins add commands through ``hpo_register_commands``.

Commands are imported only when they run (a lazy click group), and the plugins are loaded only
for the commands that need them, so `hpo status` on a big group answers fast.
"""

from __future__ import annotations

import importlib
import logging

import click

import hpo

# command name -> "module:attribute" (modules under hpo.cli)
COMMANDS = {
    "run": "run:run",
    "resume": "run:resume",
    "stop": "run:stop",
    "replay": "lifecycle:replay",
    "verify": "verify:verify",
    "restart": "lifecycle:restart",
    "fork": "lifecycle:fork",
    "validate": "validate:validate",
    "plan": "plan:plan",
    "list": "show:list_groups",
    "status": "show:status",
    "export": "show:export",
    "events": "show:events",
    "plugins": "plugin_list:plugins",
    "watch": "views:watch",
    "trials": "inspect:trials",
    "logs": "inspect:logs",
    "compare": "inspect:compare",
    "importance": "inspect:importance",
    "plot": "views:plot",
    "report": "views:report",
    "whatif": "whatif:whatif",
}


class LazyGroup(click.Group):
    """Built-in commands load on use; plugin commands load the plugins first."""

    _plugins_loaded = False

    def _load_plugin_commands(self) -> None:
        if not self._plugins_loaded:
            from hpo.contracts.registry import default_plugin_manager

            LazyGroup._plugins_loaded = True
            default_plugin_manager().hook.hpo_register_commands(cli=self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        return sorted(set(COMMANDS) | set(super().list_commands(ctx)))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            module, attr = COMMANDS[name].split(":")
            return getattr(importlib.import_module(f"hpo.cli.{module}"), attr)
        self._load_plugin_commands()
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup)
@click.version_option(hpo.__version__, prog_name="hpo")
def cli() -> None:
    """hpo: hyperparameter optimization with an event log you can trust.

    \b
    Start with:
      hpo validate examples/quickstart.yaml
      hpo run examples/quickstart.yaml
      hpo list
    """
    logging.basicConfig(level=logging.WARNING, format="hpo: %(message)s")


def main() -> None:
    cli()
