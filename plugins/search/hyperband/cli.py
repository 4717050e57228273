"""``hpo plan SPEC [--json]``: show a hyperband spec's brackets, rungs and total budget."""

from __future__ import annotations

import json

import click

from hpo.errors import SpecError

from .brackets import Bracket, plan_json


def _table(brackets: list[Bracket], resource: str, max_iter: float, eta: float):
    from rich.table import Table

    table = Table(title=f"hyperband plan: max_iter={max_iter}, eta={eta}, resource={resource}")
    table.add_column("bracket", justify="right")
    table.add_column("rung", justify="right")
    table.add_column("trials", justify="right")
    table.add_column(resource, justify="right")
    table.add_column("promoted", justify="right")
    table.add_column("resource used", justify="right")
    for b in brackets:
        for i, r in enumerate(b.rungs):
            promoted = str(b.rungs[i + 1].n) if i + 1 < len(b.rungs) else "-"
            table.add_row(
                str(b.s) if i == 0 else "", str(i), str(r.n), f"{r.resource:g}", promoted,
                f"{r.n * r.resource:g}",
            )
        table.add_section()
    return table


@click.command("plan")
@click.argument("spec_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan_command(spec_file: str, as_json: bool) -> None:
    """Show the brackets, rungs and resources a hyperband SPEC_FILE will run."""
    from hpo.spec import load_spec

    from .searcher import HyperbandSearcher

    try:
        spec = load_spec(spec_file)
        if spec.search.algorithm != HyperbandSearcher.name:
            raise SpecError(
                f"`hpo plan` shows hyperband plans; this spec uses {spec.search.algorithm!r}",
                spec.search.path,
            )
        searcher = HyperbandSearcher(spec, seed=spec.seed or 0)
    except SpecError as exc:
        if exc.file is None:
            exc = exc.with_file(spec_file)
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(2) from None
    brackets = searcher.brackets
    data = plan_json(brackets)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    from rich.console import Console

    cfg = searcher.config
    console = Console()
    console.print(_table(brackets, cfg.resource.name, cfg.max_iter, cfg.eta))
    console.print(
        f"{len(brackets)} brackets, {searcher.planned_trials()} trials (rung executions), "
        f"total {cfg.resource.name}: {data['total_resource']:g}"
    )
