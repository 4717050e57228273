"""``hpo validate``: check a spec against the format and the installed plugins."""

from __future__ import annotations

from pathlib import Path

import click

from hpo.cli.common import handle_errors, print_json, read_spec
from hpo.runkit.gpus import GpuError, detect_gpus
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
    warning = gpu_warning(group_spec)
    if warning:
        click.echo(f"warning: {spec}: {warning}", err=True)


def gpu_warning(group_spec) -> str | None:
    """What a spec asking more GPUs at once than this machine lists should know (runners on
    this machine only: a remote host or a cluster lists its own)."""
    need = group_spec.run.gpus
    if not need or group_spec.runner.kind not in ("local", "python"):
        return None
    try:
        devices = detect_gpus(group_spec.runner.options.get("gpus"))
    except GpuError as exc:
        return f"run.gpus is {need} but this machine's GPUs could not be listed: {exc}"
    at_once = need * group_spec.concurrency
    if need > len(devices):
        return (f"run.gpus asks {need} GPU(s) per trial but this machine lists {len(devices)} "
                f"({', '.join(devices) or 'none'}): no trial can start")
    if at_once > len(devices):
        fit = len(devices) // need
        return (f"concurrency {group_spec.concurrency} x run.gpus {need} asks {at_once} GPUs at once but this "
                f"machine lists {len(devices)} ({', '.join(devices)}): at most {fit} trial(s) run at once")
    return None
