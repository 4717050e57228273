"""The ``hpo`` command line (click). Plugins add commands through ``hpo_register_commands``."""

from __future__ import annotations

import logging

import click

import hpo
from hpo.cli.lifecycle import fork, replay, restart
from hpo.cli.inspect import compare, logs, trials
from hpo.cli.plugin_list import plugins
from hpo.cli.run import resume, run, stop
from hpo.cli.show import events, export, list_groups, status
from hpo.cli.validate import validate
from hpo.cli.whatif import whatif
from hpo.cli.views import plot, report, watch
from hpo.pluginmanager import default_plugin_manager


@click.group()
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


COMMANDS = (
    run, resume, stop, replay, restart, fork, validate, list_groups, status, export, events,
    plugins, watch, trials, logs, compare, plot, report, whatif,
)
for command in COMMANDS:
    cli.add_command(command)


def main() -> None:
    default_plugin_manager().hook.hpo_register_commands(cli=cli)
    cli()
