"""``hpo verify``: prove that a group's history is the one hpo wrote (see hpo.eventlog.chain)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from hpo.views.fmt import clean
from hpo.cli.common import db_option, handle_errors, open_store, print_json
from hpo.errors import StoreError
from hpo.eventlog.chain import Verdict, verify as verify_chain
from hpo.eventlog.state import GroupState
from hpo.views.source import open_readonly


def describe(name: str, verdict: Verdict) -> list[str]:
    """What ``hpo verify`` and ``hpo replay --check`` say about one group (rich markup)."""
    who = escape(clean(f"{name} ({verdict.group_id})"))
    lines = []
    if verdict.broken is not None:
        lines.append(f"[red]{who}: the chain breaks at {escape(str(verdict.broken))}[/]")
    for found in verdict.recorded:
        lines.append(f"[red]{who}: an engine found {escape(str(found))}; it is recorded in the log[/]")
    if verdict.ok:
        lines.append(f"{who}: ok, {verdict.events} events, head {verdict.head} (seq {verdict.head_seq})")
    if verdict.migrated is not None:
        m = verdict.migrated
        lines.append(f"  events up to seq {m.through_seq} were written before the chain existed and "
                     f"chained on {m.chained_at[:19]}: proven unchanged since then, not before")
    return lines


def head_of(db: Path | None, state: GroupState) -> dict | None:
    """The hash of the group's last event as folded (``hpo status --json``), None for a log not
    chained yet (a read-only view does not migrate it; any writing command does)."""
    try:
        digest = open_readonly(db).hash_at_seq(state.group_id, state.last_seq)
    except StoreError:
        return None
    return {"hash": digest.hex(), "seq": state.last_seq, "version": state.version} if digest else None


def check_head(verdict: Verdict, head: str) -> tuple[bool, str]:
    """Whether the group's chain holds the head recorded elsewhere, and what to say about it."""
    seq = verdict.find_head(head)
    if seq is None:
        return False, (f"[red]the recorded head {escape(head)} is not in the chain of group "
                       f"{verdict.group_id}: its history was rewritten (or the head is another group's)[/]")
    if seq == verdict.head_seq:
        return True, f"the recorded head matches seq {seq}, the group's last event"
    since = sum(1 for s in verdict.hashes.values() if s > seq)
    return True, f"the recorded head matches seq {seq}; {since} events were appended since"


@click.command()
@click.argument("groups", nargs=-1)
@db_option
@click.option("--head", metavar="HASH",
              help="A head recorded earlier (a paper, a CI artefact): check the chain still holds it.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def verify(groups: tuple[str, ...], db: Path | None, head: str | None, as_json: bool) -> None:
    """Prove each GROUP's history unchanged (every group without GROUP): recompute the hash chain
    of its events, name the first edited, deleted, inserted or reordered event, print the head.

    Exits 1 when a chain breaks, when an engine recorded a foreign event, or when --head is not
    in the chain.

    \b
    Example:
      hpo verify quickstart
      hpo verify quickstart --head 3f2a9c1e0b7d
    """
    if head is not None and len(groups) != 1:
        raise click.UsageError("--head checks one group: name exactly one GROUP")
    store = open_store(db)
    names = store.group_names()  # every group with an event, its GroupCreated gone or not
    ids = [store.resolve(g) for g in groups] or list(names)
    verdicts = [verify_chain(store, gid, keep_hashes=head is not None) for gid in ids]
    ok = all(v.ok for v in verdicts)
    head_line = None
    if head is not None:
        head_ok, head_line = check_head(verdicts[0], head)
        ok = ok and head_ok
    if as_json:
        out = [v.to_json() for v in verdicts]
        if head is not None:
            out[0]["recorded_head"] = {"head": head, "found": head_ok}
        print_json(out)
    else:
        console = Console(highlight=False)
        for v in verdicts:
            for line in describe(names.get(v.group_id) or v.group_id, v):
                console.print(line, soft_wrap=True)
        if head_line is not None:
            console.print(head_line, soft_wrap=True)
        if not verdicts:
            console.print(f"no groups in {escape(str(store.path))}")
    sys.exit(0 if ok else 1)
