"""``hpo validate``: check a spec against the format and the installed plugins."""

from __future__ import annotations

from pathlib import Path

import click

from hpo.cli.common import handle_errors, print_json, read_spec
from hpo.spec import describe
from hpo.views.fmt import clean


@click.command()
@click.argument("spec", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the normalised spec as JSON.")
@handle_errors
def validate(spec: Path, as_json: bool) -> None:
    """Check SPEC; print the algorithm, the size of the space and every expanded value.

    Exits 2 on an invalid spec, naming the file, the field and the expected form.

    \b
    Example:
      hpo validate examples/quickstart.yaml
    """
    group_spec, _ = read_spec(spec)
    if as_json:
        print_json(group_spec.to_json())
    else:
        click.echo(clean(describe(group_spec), newlines=True))
