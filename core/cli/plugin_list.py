"""``hpo plugins``: what is installed, from which distribution."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from hpo.cli.common import handle_errors, print_json
from hpo.contracts.registry import default_registry


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def plugins(as_json: bool) -> None:
    """List every searcher, runner and stopper with its plugin, distribution and version.

    \b
    Example:
      HPO_DISABLE_PLUGINS=bo hpo plugins --json
    """
    rows = [
        {"kind": r.kind, "name": r.name, "plugin": r.plugin, "distribution": r.distribution,
         "version": r.version, "class": f"{r.cls.__module__}.{r.cls.__qualname__}"}
        for r in default_registry().all()
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("kind", "name", "plugin", "distribution", "version")
    for r in rows:
        table.add_row(r["kind"], r["name"], r["plugin"], r["distribution"], r["version"])
    Console().print(table)
