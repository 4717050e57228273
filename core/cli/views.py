"""``hpo watch``, ``hpo plot`` and ``hpo report``: the live view from another terminal, plots in
the terminal, and a self-contained HTML report. All read the log and never write to it."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from hpo.cli.common import as_of_option, console, db_option, handle_errors, load_view, print_json
from hpo.views import series
from hpo.views.follow import follow
from hpo.views.lines import print_end
from hpo.views.live import LiveView, progress_view
from hpo.engine.plans import plan_of
from hpo.spec.secrets import literal_secrets, mask
from hpo.views.source import load_group, open_readonly

EXIT_CODES = {"succeeded": 0, "failed": 1, "stopped": 3}
ENGINE_GONE_EXIT = 4


@click.command()
@click.argument("group")
@db_option
@click.option("--interval", type=click.FloatRange(min=0.05), default=0.5, show_default=True,
              help="Seconds between two reads of the log.")
@click.option("--plain", is_flag=True, help="Plain lines instead of the live view (the default off a terminal).")
@handle_errors
def watch(group: str, db: Path | None, interval: float, plain: bool) -> None:
    """Follow GROUP live from another terminal, read-only, until it finishes.

    Shows what `hpo run` shows: progress, running trials with their latest metrics, the best
    trial, failures, hyperband's brackets. It only reads the log, so it never slows the engine.
    Exits with the group's status like `hpo run` (0 succeeded, 1 failed, 3 stopped), or 4 when
    the engine died without finishing the group (`hpo resume` continues it).

    \b
    Example:
      hpo watch quickstart
    """
    store = open_readonly(db)
    group_id = store.resolve(group)
    plan = plan_of(load_group(store, group_id, curves=False).state)
    out = console()
    with progress_view(out, plan, live=False if plain else None) as view:
        idle = None
        if isinstance(view, LiveView):
            idle = view.refresh
        result = follow(store, group_id, view, on_start=view.refresh, on_idle=idle, interval=interval)
    print_end(out, result.state, plan.planned)
    if result.ended == "engine gone":
        out.print(f"the engine driving the group is gone; continue with: hpo resume {group_id}",
                  soft_wrap=True)
        sys.exit(ENGINE_GONE_EXIT)
    sys.exit(EXIT_CODES.get(result.state.status, 1))


@click.command()
@click.argument("group")
@db_option
@click.option("--kind", "kind", type=click.Choice(["history", "parallel", "curves", "brackets", "importance"]),
              default="history", show_default=True, help="Which plot.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the figure to this file instead (matplotlib; .png, .svg or .pdf).")
@click.option("--metric", help="curves: the metric to draw (default: the group's).")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="curves: draw only the best N trials.")
@click.option("--width", type=click.IntRange(min=30), help="Columns (default: the terminal's).")
@click.option("--height", type=click.IntRange(min=8), default=22, show_default=True, help="Rows.")
@as_of_option
@click.option("--json", "as_json", is_flag=True, help="Print the plot's data as JSON instead.")
@handle_errors
def plot(group: str, db: Path | None, kind: str, out: Path | None, metric: str | None, top: int,
         width: int | None, height: int, as_of: str | None, as_json: bool) -> None:
    """Plot GROUP: optimization history, parallel coordinates of params vs the metric,
    metric-vs-step curves, hyperband's brackets or param importances. In the terminal it needs
    plotext (the `plots` extra); --out writes the report's figure (matplotlib) to a file.

    \b
    Example:
      hpo plot quickstart --kind history
      hpo plot quickstart --kind parallel --out parallel.pdf
      hpo plot hb-group --kind brackets --as-of 2024-05-01T14:30
    """
    if out is not None and out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise click.BadParameter(f"{out.name}: the file must end in .png, .svg or .pdf", param_hint="--out")
    state = load_view(db, group, as_of).state
    if as_json:
        print_json(_plot_data(kind, state, metric, top))
        return
    if out is not None:
        from hpo.views import figures

        figures.save(figures.figure(kind, state, metric=metric, top=top), out)
        click.echo(f"wrote {out}")
        return
    if kind == "importance":  # a table in the terminal, as `hpo importance`
        from hpo.views.importance import importances
        from hpo.views.tables import importance_table

        console().print(importance_table(importances(state, metric)))
        return
    from hpo.views import termplot

    out = console()
    figure = termplot.plot(kind, state, width=width or min(out.width, 140), height=height,
                           top=top, metric=metric)
    out.print(termplot.as_text(figure))


def _plot_data(kind: str, state, metric: str | None, top: int):
    if kind == "history":
        return [dataclasses.asdict(p) for p in series.history(state)]
    if kind == "parallel":
        par = series.parallel(state)
        return {"axes": [dataclasses.asdict(a) for a in par.axes],
                "lines": [dataclasses.asdict(ln) for ln in par.lines]}
    if kind == "curves":
        return {str(k): v for k, v in series.curves(state, metric, top=top).items()}
    if kind == "importance":
        from hpo.views.importance import importances

        return importances(state, metric).to_json()
    return [dataclasses.asdict(p) for p in series.brackets(state)]


@click.command()
@click.argument("group")
@db_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The HTML file to write.")
@as_of_option
@handle_errors
def report(group: str, db: Path | None, output: Path, as_of: str | None) -> None:
    """Write a self-contained HTML report of GROUP: summary, optimization history, parallel
    coordinates, learning curves, hyperband brackets, leaderboard and failures. Inline SVG,
    no scripts, no network: open it anywhere, attach it anywhere.

    \b
    Example:
      hpo report quickstart -o quickstart.html
    """
    from hpo.views.report import report_html

    loaded = load_view(db, group, as_of)
    html = mask(report_html(loaded.state, plan_of(loaded.state), loaded.moment), literal_secrets(loaded.state.spec))
    output.write_text(html, encoding="utf-8")
    click.echo(f"wrote {output} ({len(html) // 1024 + 1} KiB)")
