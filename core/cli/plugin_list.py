"""``hpo plugins``: what is installed, from which distribution, and what failed to load."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from hpo.cli.common import handle_errors, print_json
from hpo.contracts.registry import default_registry, skipped, skipped_from


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def plugins(as_json: bool) -> None:
    """List every searcher, runner and stopper with its plugin, distribution and version, and
    every plugin that failed to load or register, with why.

    \b
    Example:
      HPO_DISABLE_PLUGINS=bo hpo plugins --json
    """
    registry = default_registry()
    rows = [
        {"kind": r.kind, "name": r.name, "plugin": r.plugin, "distribution": r.distribution,
         "version": r.version, "class": f"{r.cls.__module__}.{r.cls.__qualname__}",
         "status": "loaded", "error": None}
        for r in registry.all()
    ]
    failed = [
        {"kind": None, "name": None, "plugin": plugin, "distribution": skipped_from(registry.pm).get(plugin, ""),
         "version": "", "class": None, "status": "failed", "error": why}
        for plugin, why in sorted(skipped(registry.pm).items())
    ]
    if as_json:
        print_json(rows + failed)
        return
    table = Table("kind", "name", "plugin", "distribution", "version")
    for r in rows:
        table.add_row(r["kind"], r["name"], r["plugin"], r["distribution"], r["version"])
    console = Console()
    console.print(table)
    if failed:
        broken = Table("plugin", "distribution", "why it is skipped", title="failed to load",
                       title_style="bold red")
        for r in failed:
            broken.add_row(r["plugin"], r["distribution"], r["error"])
        console.print(broken)
