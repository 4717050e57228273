"""Read-only commands: ``hpo list``, ``hpo status``, ``hpo export``, ``hpo events``."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import click

from hpo.cli.common import (announce_point, as_of_option, console, db_option, handle_errors,
                            load_state, load_view, open_store, print_json)
from hpo.cli.verify import head_of
from hpo.eventlog.events import encode
from hpo.spec.secrets import literal_secrets, mask
from hpo.views.fmt import json_ready
from hpo.views.records import flat_record, trial_records
from hpo.engine.plans import plan_of
from hpo.views.overview import overview
from hpo.eventlog import timepoint
from hpo.views.source import load_group, open_readonly
from hpo.views.status import status_view
from hpo.views.summary import group_record
from hpo.views.tables import groups_table


@click.command(name="list")
@db_option
@as_of_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def list_groups(db: Path | None, as_of: str | None, as_json: bool) -> None:
    """List the groups in the log with status, algorithm, progress and best value.

    \b
    Example:
      hpo list
      hpo list --as-of 2024-05-01T14:30 --json
    """
    store = open_readonly(db)
    point = timepoint.parse(as_of, "--as-of") if as_of and as_of.strip() else None
    rows = []
    for created in store.groups():
        try:
            loaded = load_group(store, created.group_id, point, curves=False)
        except timepoint.BeforeGroup:
            continue  # created after that point
        rows.append(group_record(loaded.state, plan_of(loaded.state), loaded.moment))
    if point is not None:
        _announce_log_point(store, point)
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo(f"no groups in {store.path} yet: `hpo run SPEC` creates one")
        return
    console().print(groups_table(rows))


def _announce_log_point(store, point: timepoint.TimePoint) -> None:
    """``hpo list`` reads one point against every group: print what it is in the whole log."""
    try:
        announce_point(timepoint.resolve(store, None, point))
    except timepoint.BeforeGroup:
        said = f"seq {point.seq}" if point.seq is not None else point.moment.isoformat()
        announce_point(f"{said}, before the first event in the log")


@click.command()
@click.argument("group")
@db_option
@as_of_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--traceback", "tracebacks", is_flag=True,
              help="Show where each failed plugin raised (its traceback).")
@handle_errors
def status(group: str, db: Path | None, as_of: str | None, as_json: bool, tracebacks: bool) -> None:
    """Summary of GROUP: progress, best trial, why it stopped and the evidence, who drives it.

    \b
    Example:
      hpo status quickstart
      hpo status quickstart --as-of 120      # as it was at event seq 120
      hpo status quickstart --traceback      # where a failed plugin raised
    """
    loaded = load_view(db, group, as_of, curves=False)
    plan, secrets = plan_of(loaded.state), literal_secrets(loaded.state.spec)
    if as_json:
        record = {**group_record(loaded.state, plan, loaded.moment), "head": head_of(db, loaded.state)}
        print_json(mask(record, secrets))
        return
    snap = overview(loaded.state, plan, loaded.moment)
    out = console()
    with out.capture() as shown:
        out.print(status_view(snap, tracebacks), crop=False)  # a traceback keeps its whole lines
    click.echo(mask(shown.get(), secrets), nl=False)


@click.command()
@click.argument("group")
@db_option
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file.")
@handle_errors
def export(group: str, db: Path | None, fmt: str, output: Path | None) -> None:
    """Export GROUP's trials (params, last metrics, status, timings) as JSON or CSV.

    \b
    Example:
      hpo export quickstart --format csv -o trials.csv
    """
    store = open_store(db)
    state = load_state(store, group)
    records = mask(trial_records(state), literal_secrets(state.spec))
    if fmt == "json":
        text = json.dumps(json_ready(records), indent=2, default=str, allow_nan=False) + "\n"
    else:
        rows = [flat_record(r) for r in records]
        columns: list[str] = []
        for row in rows:
            columns += [k for k in row if k not in columns]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        text = buf.getvalue()
    if output:
        output.write_text(text)
    else:
        click.echo(text, nl=False)


@click.command()
@click.argument("group")
@db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--follow", is_flag=True, help="Keep printing new events (Ctrl-C to quit).")
@handle_errors
def events(group: str, db: Path | None, as_json: bool, follow: bool) -> None:
    """Print GROUP's raw event log.

    \b
    Example:
      hpo events quickstart --json | head
    """
    store = open_store(db)
    group_id = store.resolve(group)
    last = 0
    created = store.first_event(group_id)
    secrets = literal_secrets(created.event.spec) if created is not None else set()  # type: ignore[attr-defined]
    try:
        while True:
            for s in store.tail(last, group_id):
                last = s.seq
                type_, schema, payload = encode(s.event)
                if secrets:
                    payload = json.dumps(mask(json.loads(payload), secrets), separators=(",", ":"))
                if as_json:
                    click.echo(json.dumps({"seq": s.seq, "version": s.version, "ts": s.ts, "type": type_,
                                           "schema": schema, "writer": s.writer,
                                           "payload": json_ready(json.loads(payload))}, allow_nan=False))
                else:
                    click.echo(f"{s.seq:>6} {s.ts[:23]} {type_:<15} {payload[:160]}")
            if not follow:
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
