"""``hpo run``, ``hpo resume`` and ``hpo stop``."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from hpo.eventlog import events as ev
from hpo.cli.common import console, db_option, err_console, handle_errors, open_store, read_spec
from hpo.views.fmt import clean
from hpo.cli.progress import LiveView, print_end, progress_view
from hpo.engine.loop import Engine
from hpo.runkit.procs import engine_alive
from hpo.errors import ConcurrencyError, HpoError, SpecError
from hpo.engine.composition import create_group
from hpo.eventlog.state import GroupState
from hpo.engine.names import check_new_name, free_name
from hpo.engine.plans import plan_from
from hpo.spec.secrets import resolve
from hpo.spec import GroupSpec
from hpo.spec.models import StopperSpec

EXIT_CODES = {"succeeded": 0, "failed": 1, "stopped": 3}


def with_fail_fast(spec: GroupSpec) -> GroupSpec:
    """``--fail-fast``, as Ray Tune's ``fail_fast``: the ``failures`` stopper with
    ``max_failed: 1``, recorded in the group's spec like any stopping rule."""
    rule = StopperSpec(kind="failures", options={"max_failed": 1}, path="--fail-fast")
    return spec.model_copy(update={"stoppers": [*spec.stoppers, rule]})


def drive(store, group_id: str, mode: str, concurrency: int | None, plain: bool = False) -> None:
    """Run the group's engine with the live view (or plain lines) and exit with its status."""
    out = console()
    engine = Engine(store, group_id, concurrency=concurrency)
    with progress_view(out, plan_from(engine.searcher), live=False if plain else None) as view:
        engine.listeners.append(view)
        if isinstance(view, LiveView):
            view.refresh(engine.state)
        state = engine.run(mode)
    print_end(out, state, engine.searcher.planned_trials())
    sys.exit(EXIT_CODES.get(state.status, 1))


@click.command()
@click.argument("spec", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@db_option
@click.option("--name", help="A name for the group (default: the spec's name or the file name).")
@click.option("--seed", type=click.IntRange(min=0), help="The group seed (default: the spec's, else random).")
@click.option("--concurrency", type=click.IntRange(min=1), help="Override the spec's concurrency.")
@click.option("--plain", is_flag=True, help="Plain lines instead of the live view (the default off a terminal).")
@click.option("--new", "new_group", is_flag=True,
              help="Run a new group even if one of that name exists (named NAME-2, NAME-3...).")
@click.option("--fail-fast", is_flag=True,
              help="End the group (failed) at the first failed trial: the failures stopper with max_failed: 1.")
@handle_errors
def run(spec: Path, db: Path | None, name: str | None, seed: int | None, concurrency: int | None,
        plain: bool, new_group: bool, fail_fast: bool) -> None:
    """Create a group from SPEC and run it to the end.

    On a terminal a live view shows progress, running trials, the best trial and failures;
    in a pipe or a CI log it prints one line per trial event. A name already used is refused
    (continue that group with `hpo resume`, or pass --name or --new).

    \b
    Example:
      hpo run examples/quickstart.yaml --seed 1
    """
    group_spec, text = read_spec(spec)
    try:
        resolve(group_spec.run.env, os.environ)  # a missing secret: say so before creating the group
    except SpecError as exc:
        raise exc.with_file(str(spec)) from None
    if fail_fast:
        group_spec = with_fail_fast(group_spec)
    for warning in group_spec.warnings:  # `hpo validate` lists them too
        err_console.print(f"warning: {warning}", style="yellow", markup=False, soft_wrap=True)
    store = open_store(db)
    name = name or group_spec.name or spec.stem
    if new_group:
        name = free_name(store, name)
    else:
        check_new_name(store, name)
    group_id = create_group(store, group_spec, name=name, seed=seed, source=text,
                            source_path=str(spec.resolve()))
    click.echo(f"group {clean(name)} ({group_id}) created in {store.path}")
    drive(store, group_id, "run", concurrency, plain)


@click.command()
@click.argument("group")
@db_option
@click.option("--concurrency", type=click.IntRange(min=1), help="Run with a different concurrency (later resumes keep it).")
@click.option("--plain", is_flag=True, help="Plain lines instead of the live view (the default off a terminal).")
@handle_errors
def resume(group: str, db: Path | None, concurrency: int | None, plain: bool) -> None:
    """Continue GROUP after a crash, a reboot or `hpo stop`.

    \b
    Example:
      hpo resume quickstart --concurrency 4
    """
    store = open_store(db)
    drive(store, store.resolve(group), "resume", concurrency, plain)


@click.command()
@click.argument("group")
@db_option
@click.option("--trial", type=int, help="Stop only this trial.")
@click.option("--reason", default="", help="Why (recorded in the log).")
@handle_errors
def stop(group: str, db: Path | None, trial: int | None, reason: str) -> None:
    """Ask the engine driving GROUP to stop it (or one trial). The group can be resumed later.

    \b
    Example:
      hpo stop quickstart --trial 3
    """
    import getpass
    import socket

    store = open_store(db)
    group_id = store.resolve(group)
    state = GroupState.fold(store.iter_events(group_id))
    if state.engine is None or not engine_alive(state.engine, time.time()):
        ended = state.status in ("succeeded", "failed")  # `hpo resume` refuses those
        way_on = "`hpo restart` runs it again as a new group" if ended else "`hpo resume` continues it"
        raise HpoError(
            f"group {state.name} ({group_id}) has no live engine (status: {state.status}); "
            f"there is nothing to stop. {way_on}."
        )
    if trial is not None:
        check_stoppable(state, trial)
    who = f"{getpass.getuser()}@{socket.gethostname()}"
    while True:
        version = store.version(group_id)
        try:
            store.append(group_id, [ev.StopRequested(trial_id=trial, requested_by=who, reason=reason)], version)
            break
        except ConcurrencyError:
            continue
    target = f"trial {trial} of group {group_id}" if trial is not None else f"group {group_id}"
    click.echo(f"asked the engine to stop {target}")


def check_stoppable(state: GroupState, trial: int) -> None:
    """Refuse ``--trial N`` of a trial the group does not have or that has ended: the request would
    do nothing, or stop a trial of that id suggested later."""
    tr = state.trials.get(trial)
    if tr is None:
        have = f"trials 1-{max(state.trials)}" if state.trials else "no trials yet"
        raise HpoError(f"group {state.name} ({state.group_id}) has no trial {trial} ({have})")
    if tr.finished and not tr.resumable:
        raise HpoError(f"trial {trial} already {tr.status}; there is nothing to stop")
