"""Read-only commands about trials: ``hpo trials``, ``hpo logs``, ``hpo compare``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from hpo.cli.common import as_of_option, console, db_option, handle_errors, load_view, print_json
from hpo.views.fmt import clean
from hpo.errors import HpoError
from hpo.eventlog.state import GroupState
from hpo.views.leaderboard import STATUSES, rank, ranking_records
from hpo.engine.plans import plan_of
from hpo.views.overview import overview
from hpo.views.source import load_group, open_readonly
from hpo.views.summary import compare_record
from hpo.views.tables import compare_table, importance_table, leaderboard_table


@click.command()
@click.argument("group")
@db_option
@click.option("--top", type=click.IntRange(min=1), help="Only the best N trials.")
@click.option("--sort", "sort_by", metavar="METRIC", help="Sort by this metric or param "
              "(or trial, step, duration). Default: the group's metric, best first.")
@click.option("--order", type=click.Choice(["asc", "desc"]), help="Override the sort direction.")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES),
              help="Only trials with this status (repeat for several).")
@as_of_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per trial, in rank order).")
@handle_errors
def trials(group: str, db: Path | None, top: int | None, sort_by: str | None, order: str | None,
           statuses: tuple[str, ...], as_of: str | None, as_json: bool) -> None:
    """The leaderboard of GROUP: its trials ranked by the metric, params as columns.

    The group's metric sorts in its own direction (maximize: highest first); trials without a
    value come last.

    \b
    Example:
      hpo trials quickstart --top 5
      hpo trials quickstart --status failed --sort trial
    """
    state = load_view(db, group, as_of).state
    ranking = rank(state, sort_by, statuses, top, order)
    if as_json:
        print_json(ranking_records(ranking))
        return
    if not ranking.trials:
        click.echo(f"group {clean(state.name)} has no trials" + (f" with status {', '.join(statuses)}" if statuses else ""))
        return
    console().print(leaderboard_table(state, ranking))


def _attempt_dir(state: GroupState, store, trial: int, attempt: int | None) -> tuple[int, Path]:
    """The folder of a trial's attempt, from its ``TrialLaunched`` event."""
    if trial not in state.trials:
        raise HpoError(f"group {state.name} has no trial {trial} (it has {len(state.trials)})")
    launched = {s.event.attempt: s.event.trial_dir for s in store.read(state.group_id)  # type: ignore[attr-defined]
                if s.type == "TrialLaunched" and s.event.trial_id == trial}  # type: ignore[attr-defined]
    if not launched:
        raise HpoError(f"trial {trial} of group {state.name} was never launched: it has no logs")
    attempt = attempt or max(launched)
    if attempt not in launched:
        raise HpoError(f"trial {trial} has attempts {sorted(launched)}, not {attempt}")
    return attempt, Path(launched[attempt])


def _attempt_running(store, group_id: str, trial: int, attempt: int) -> bool:
    state = GroupState.fold(store.iter_events(group_id))
    tr = state.trials[trial]
    return tr.attempts == attempt and tr.status == "running"


@click.command()
@click.argument("group")
@click.argument("trial", type=int)
@db_option
@click.option("--attempt", type=click.IntRange(min=1), help="Which attempt (default: the latest).")
@click.option("--stderr", "which", flag_value="stderr.log", help="Show stderr instead of stdout.")
@click.option("-n", "--lines", type=click.IntRange(min=1), help="Only the last N lines.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new output until the attempt ends.")
@handle_errors
def logs(group: str, trial: int, db: Path | None, attempt: int | None, which: str | None,
         lines: int | None, follow: bool) -> None:
    """Print the output of TRIAL of GROUP (stdout.log, or stderr.log with --stderr).

    \b
    Example:
      hpo logs quickstart 3 --stderr
      hpo logs quickstart 3 --attempt 1 -n 20 --follow
    """
    store = open_readonly(db)
    state = load_group(store, group).state
    attempt, folder = _attempt_dir(state, store, trial, attempt)
    path = folder / (which or "stdout.log")
    if not path.exists() and not follow:
        raise HpoError(f"no {path.name} for trial {trial} attempt {attempt} at {path} "
                       "(the trial ran on another machine, or its folder was removed)")
    out = sys.stdout.buffer
    offset = 0
    if path.exists():
        data = path.read_bytes()
        if lines is not None:
            data = b"".join(data.splitlines(keepends=True)[-lines:])
            offset = path.stat().st_size
        else:
            offset = len(data)
        out.write(data)
        out.flush()
    if not follow:
        return
    try:
        while True:
            running = _attempt_running(store, state.group_id, trial, attempt)
            if path.exists() and path.stat().st_size > offset:
                with open(path, "rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read()
                offset += len(chunk)
                out.write(chunk)
                out.flush()
            if not running:
                break
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass


@click.command()
@click.argument("groups", nargs=-1, required=True)
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per group).")
@handle_errors
def compare(groups: tuple[str, ...], db: Path | None, as_json: bool) -> None:
    """Put groups side by side: algorithm, budget used, best value, time.

    \b
    Example:
      hpo compare grid-run bo-run
    """
    if len(groups) < 2:
        raise HpoError("compare needs at least two groups, e.g. `hpo compare G1 G2`")
    store = open_readonly(db)
    records = []
    for ref in groups:
        state = load_group(store, ref).state
        records.append(compare_record(overview(state, plan_of(state))))
    if as_json:
        print_json(records)
        return
    console().print(compare_table(records))


@click.command()
@click.argument("group")
@db_option
@click.option("--metric", help="The metric to explain (default: the group's).")
@as_of_option
@click.option("--json", "as_json", is_flag=True, help="Print the shares as JSON.")
@handle_errors
def importance(group: str, db: Path | None, metric: str | None, as_of: str | None,
               as_json: bool) -> None:
    """Which params matter: each one's share of what explains the metric across GROUP's trials.

    A random forest is fitted on the succeeded trials (params on their plot axes: log kinds in
    log space, choices by position) and each param gets its share of the forest's impurity
    decrease. The caption gives the forest's out-of-bag R²: near zero, the shares are noise.
    Hyperband groups include the resource, which usually explains most.

    \b
    Example:
      hpo importance quickstart
      hpo importance digits-bo --metric loss --json
    """
    from hpo.views.importance import importances

    state = load_view(db, group, as_of).state
    imp = importances(state, metric)
    if as_json:
        print_json(imp.to_json())
        return
    out = console()
    out.print(importance_table(imp))
    if imp.explains_little:
        out.print("the forest explains little of the metric (out-of-bag R² under 0.1): the "
                  "shares may be noise; more trials, or trials spread more widely over the "
                  "space, would tell", style="yellow")
