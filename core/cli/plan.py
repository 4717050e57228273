"""``hpo plan SPEC [--json]``: what the spec's search algorithm plans, before anything runs.

The plan is the searcher's own (``Searcher.plan()``): the number of trials, and for a
multi-fidelity algorithm its brackets, rungs and resource. Nothing here knows an algorithm.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from hpo.cli.common import handle_errors, print_json, read_spec
from hpo.contracts.searcher import Plan


def plan_record(algorithm: str, plan: Plan) -> dict:
    """The JSON form: the plan, the algorithm and the total resource of every rung."""
    return {"algorithm": algorithm, **plan.to_json(), "total_resource": plan.total_resource()}


def brackets_table(algorithm: str, plan: Plan) -> Table:
    resource = plan.resource or "resource"
    about = ", ".join(x for x in (plan.note, f"resource={resource}") if x)
    table = Table(title=f"{algorithm} plan: {about}")
    for name in ("bracket", "rung", "trials", resource, "promoted", "resource used"):
        table.add_column(name, justify="right")
    for b in plan.brackets:
        rungs = b["rungs"]
        for i, r in enumerate(rungs):
            promoted = str(rungs[i + 1]["n"]) if i + 1 < len(rungs) else "-"
            table.add_row(str(b["bracket"]) if i == 0 else "", str(i), str(r["n"]),
                          f"{r['resource']:g}", promoted, f"{plan.rung_cost(rungs, i):g}")
        table.add_section()
    return table


def summary(algorithm: str, plan: Plan) -> str:
    if plan.brackets:
        n = len(plan.brackets)
        continued = ("; promoted trials continue their parent's checkpoint and use only "
                     "what their rung adds") if plan.continued else ""
        return (f"{n} bracket{'s' if n != 1 else ''}, {plan.planned} trials (rung executions), "
                f"total {plan.resource or 'resource'}: {plan.total_resource():g}{continued}")
    if plan.planned is None:
        return f"{algorithm} does not say how many trials it plans: it runs until a stopping rule ends it"
    note = f" ({plan.note})" if plan.note else ""
    return f"{algorithm} plans {plan.planned} trials{note}"


@click.command()
@click.argument("spec_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@handle_errors
def plan(spec_file: Path, as_json: bool) -> None:
    """Show what SPEC_FILE's search algorithm plans: the number of trials and, for hyperband
    and other multi-fidelity algorithms, the brackets, rungs and resources.

    Exits 2 on an invalid spec, naming the file and the field.

    \b
    Example:
      hpo plan examples/hyperband.yaml --json
    """
    from hpo.contracts.registry import default_registry
    from hpo.engine.composition import build_searcher
    from hpo.engine.plans import plan_from

    spec, _ = read_spec(spec_file)
    searcher = build_searcher(spec, spec.seed or 0, default_registry())
    the_plan, algorithm = plan_from(searcher), spec.search.algorithm
    if as_json:
        print_json(plan_record(algorithm, the_plan))
        return
    console = Console()
    if the_plan.brackets:
        console.print(brackets_table(algorithm, the_plan))
    console.print(summary(algorithm, the_plan), markup=False, soft_wrap=True)
