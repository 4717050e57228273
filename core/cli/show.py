"""Read-only commands: ``hpo list``, ``hpo status``, ``hpo export``, ``hpo events``."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from hpo.cli.common import db_option, handle_errors, load_state, open_store, print_json
from hpo.events import encode
from hpo.records import flat_record, group_summary, trial_records
from hpo.state import GroupState


def _best_text(summary: dict) -> str:
    b = summary["best"]
    return "" if not b else f"{b['value']:.6g} (trial {b['trial']})"


@click.command(name="list")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def list_groups(db: Path | None, as_json: bool) -> None:
    """List the groups in the log with status, algorithm, progress and best value.

    \b
    Example:
      hpo list --json
    """
    store = open_store(db)
    rows = []
    for created in store.groups():
        state = GroupState.fold(store.read(created.group_id))
        rows.append(group_summary(state))
    if as_json:
        print_json(rows)
        return
    table = Table("group", "name", "status", "algorithm", "trials", "best", "created")
    for r in rows:
        metric = r["metric"]["name"] + " " if r["metric"] else ""
        best = _best_text(r)
        table.add_row(r["group"], r["name"], r["status"], r["algorithm"] or "", str(r["trials"]),
                      (metric + best) if best else "", (r["created_at"] or "")[:19])
    Console().print(table)


@click.command()
@click.argument("group")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def status(group: str, db: Path | None, as_json: bool) -> None:
    """Summary of GROUP: status, counts, best trial, why it stopped, who drives it.

    \b
    Example:
      hpo status quickstart
    """
    store = open_store(db)
    state = load_state(store, group)
    s = group_summary(state)
    if as_json:
        print_json(s)
        return
    c = Console(highlight=False)
    c.print(f"[bold]{s['name']}[/] ({s['group']})  status: [bold]{s['status']}[/]")
    c.print(f"algorithm: {s['algorithm']}  seed: {s['seed']}  metric: "
            f"{(s['metric'] or {}).get('name', '-')} {(s['metric'] or {}).get('optimization', '')}")
    c.print("trials: " + (", ".join(f"{n} {k}" for k, n in sorted(s["counts"].items())) or "none"))
    if s["best"]:
        c.print(f"best: trial {s['best']['trial']} = {s['best']['value']:.6g}  {s['best']['params']}")
    if s["stop"]:
        c.print(f"stopped by {s['stop']['policy']}: {s['stop']['reason']}")
    elif s["reason"]:
        c.print(f"reason: {s['reason']}")
    if s["engine"]:
        e = s["engine"]
        age = time.time() - e["seen_at"]
        c.print(f"engine: {e['engine_id']} pid {e['pid']} on {e['host']} (seen {age:.0f}s ago)")
    for f in s["plugin_failures"]:
        c.print(f"[red]plugin failure[/] {f['plugin']}: {f['error']}")
    if s["origin"]:
        c.print(f"origin: {s['origin']}")


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
    records = trial_records(load_state(store, group))
    if fmt == "json":
        text = json.dumps(records, indent=2, default=str, allow_nan=True) + "\n"
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
    try:
        while True:
            for s in store.tail(last, group_id):
                last = s.seq
                type_, schema, payload = encode(s.event)
                if as_json:
                    click.echo(json.dumps({"seq": s.seq, "version": s.version, "ts": s.ts, "type": type_,
                                           "schema": schema, "writer": s.writer,
                                           "payload": json.loads(payload)}))
                else:
                    click.echo(f"{s.seq:>6} {s.ts[:23]} {type_:<15} {payload[:160]}")
            if not follow:
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
