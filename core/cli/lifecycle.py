"""``hpo replay``, ``hpo restart`` and ``hpo fork``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from hpo.cli.verify import describe
from hpo.eventlog import snapshots
from hpo.eventlog.chain import verify as verify_chain
from hpo.cli.common import (POINT_NOTE, announce_point, console, db_option, handle_errors, open_store,
                            print_json)
from hpo.views.fmt import clean
from hpo.eventlog.timepoint import resolve_text
from hpo.engine.lifecycle import fork as fork_group
from hpo.engine.compare import REL_TOL
from hpo.engine.lifecycle import Replayed
from hpo.engine.lifecycle import replay as replay_all
from hpo.engine.lifecycle import restart as restart_group
from hpo.views.records import group_summary, trial_records
from hpo.eventlog.state import GroupState
from hpo.errors import HpoError, StoreError


@click.command()
@click.argument("group")
@db_option
@click.option("--until", metavar="SEQ|TIME",
              help=f"Stop at this event seq or ISO time, inclusive {POINT_NOTE}")
@click.option("--check", is_flag=True, help="Re-run the searcher at every Suggested event and compare.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def replay(group: str, db: Path | None, until: str | None, check: bool, as_json: bool) -> None:
    """Rebuild GROUP's state from its log, optionally as of a past point, and print it.

    With --check, prove the log: its hash chain is recomputed (as `hpo verify` does) and every
    suggestion is re-derived from the seed and the history the searcher had then. A broken chain
    or a difference is reported by its keys and the command exits 1; numbers that differ only by
    float noise (another numpy, say) are reported apart, with the versions that changed.

    \b
    Example:
      hpo replay quickstart --until 2026-11-27T10:15:00    # local time
      hpo replay quickstart --check
    """
    store = open_store(db)
    group_id = store.resolve(group)
    point = resolve_text(store, group_id, until, "--until") if until is not None else None
    announce_point(point)
    until_seq = None if point is None else point.seq
    chain = verify_chain(store, group_id) if check else None  # first: it says why a fold fails
    try:
        state = snapshots.load_state(store, group_id, until_seq=until_seq, cache=False)
    except StoreError as exc:
        if chain is None or chain.broken is None:
            raise
        raise StoreError(f"the chain of group {group_id} breaks at {chain.broken}; {exc}") from exc
    out = {"as_of_seq": state.last_seq, "summary": group_summary(state), "trials": trial_records(state)}
    found = Replayed()
    if chain is not None:
        try:
            found = replay_all(store, group_id)
        except HpoError:
            if chain.ok:
                raise  # a broken chain says why the history does not replay
        out["check"] = {"checked": found.checked, "mismatches": [m.__dict__ for m in found.mismatches],
                        "float_noise": [m.__dict__ for m in found.noise],
                        "environment_changes": found.changes, "relative_tolerance": REL_TOL,
                        "chain": chain.to_json()}
    if as_json:
        print_json(out)
    else:
        c = console()
        s = out["summary"]
        c.print(clean(f"{s['name']} ({s['group']}) as of seq {state.last_seq}: {s['status']}, "
                      f"{s['trials']} trials " + str(s["counts"])))
        table = Table("trial", "status", "params", "metrics")
        for r in out["trials"]:
            table.add_row(str(r["trial"]), r["status"], clean(r["params"]), clean(r["metrics"]))
        c.print(table)
        if chain is not None:
            for line in check_lines(found) + describe(s["name"], chain):  # markup, user text escaped
                c.print(line, soft_wrap=True, markup=True)
    if found.mismatches or (chain is not None and not chain.ok):
        sys.exit(1)


def check_lines(found: Replayed) -> list[str]:
    """What ``replay --check`` says about the suggestions: each real difference by its keys, and
    float noise apart with the version changes that explain it (rich markup)."""
    lines = [f"[red]seq {m.seq} trial {m.trial_id} differs: {escape('; '.join(m.differences))}[/]"
             for m in found.mismatches]
    lines += [f"[dim]seq {m.seq} trial {m.trial_id}, float noise: {escape('; '.join(m.differences))}[/]"
              for m in found.noise]
    summary = f"replay check: {found.checked} suggestions re-derived, {len(found.mismatches)} differ"
    if found.noise:
        why = ", ".join(found.changes) or "no version change recorded"
        if found.unrecorded:
            why += " (an engine of this group recorded no versions)"
        summary += (f"; {len(found.noise)} differ by float noise (within a relative {REL_TOL:g}); "
                    f"{escape(why)}")
    return lines + [summary]


def _trial_ids(ctx: click.Context, param: click.Parameter, value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        ids = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"expected trial ids like 3,5, got {value!r}") from None
    if not ids or min(ids) < 1:
        raise click.BadParameter(f"expected trial ids like 3,5, got {value!r}")
    return ids


@click.command()
@click.argument("group")
@db_option
@click.option("--failed-only", is_flag=True, help="Only the failed trials' configs.")
@click.option("--trials", "trial_ids", metavar="3,5", callback=_trial_ids,
              help="Only these trials' configs (comma-separated ids).")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="Override a param of the restarted trials, or a declaration (read as YAML; repeatable).")
@click.option("--seed", type=click.IntRange(min=0), help="A different seed (default: the origin's).")
@click.option("--no-run", is_flag=True, help="Only create the group; run it later with `hpo resume`.")
@click.option("--plain", is_flag=True, help="Plain lines instead of the live view (the default off a terminal).")
@handle_errors
def restart(group: str, db: Path | None, failed_only: bool, trial_ids: list[int] | None,
            sets: tuple[str, ...], seed: int | None, no_run: bool, plain: bool) -> None:
    """Run GROUP again as a new group linked to it: its whole spec, or only some trials.

    Restarted trials keep the params of the trial they restart (`origin_trial` in `hpo trials`
    and `hpo export`), with --set overrides. The new group runs at once unless --no-run.

    \b
    Example:
      hpo restart quickstart --failed-only
      hpo restart quickstart --trials 3,5 --set epochs=20
    """
    from hpo.cli.run import drive

    store = open_store(db)
    origin = store.resolve(group)
    new_id = restart_group(store, origin, failed_only=failed_only, seed=seed, trials=trial_ids,
                           sets=list(sets))
    state = GroupState.fold(store.read(new_id))
    what = f"trials {', '.join(map(str, state.origin['trials']))}" if state.origin.get("trials") else "its spec"
    click.echo(f"created group {clean(state.name)} ({new_id}) from {origin}: {what}")
    if no_run:
        click.echo(f"run it with: hpo resume {new_id}")
        return
    drive(store, new_id, "run", None, plain)


@click.command()
@click.argument("group")
@db_option
@click.option("--at", "at", required=True, metavar="SEQ|TIME",
              help=f"The event seq or ISO time to fork at {POINT_NOTE}")
@click.option("--algorithm", help="Continue with another search algorithm (e.g. random, bo).")
@click.option("--set", "sets", multiple=True, help="Change the normalised spec: key.path=value.")
@handle_errors
def fork(group: str, db: Path | None, at: str, algorithm: str | None, sets: tuple[str, ...]) -> None:
    """Create a new group sharing GROUP's history up to --at and continuing with other settings.

    \b
    Example:
      hpo fork quickstart --at 40 --set search.options.n_experiments=20 --set concurrency=4
    """
    store = open_store(db)
    group_id = store.resolve(group)
    point = resolve_text(store, group_id, at, "--at")
    announce_point(point, "fork at")
    at_seq = point.seq
    new_id = fork_group(store, group_id, at_seq, algorithm=algorithm, sets=list(sets))
    name = GroupState.fold(store.read(new_id)).name
    click.echo(f"created group {clean(name)} ({new_id}) from {group_id} at seq {at_seq}; "
               f"run it with: hpo resume {new_id}")
