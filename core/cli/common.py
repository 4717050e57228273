"""Shared pieces of the command line: the store, spec loading, errors and output."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import click
from rich.console import Console
from rich.text import Text

from hpo.eventlog import snapshots
from hpo.errors import HpoError, SpecError
from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore, default_db_path
from hpo.eventlog.timepoint import Resolved
from hpo.views.fmt import clean, json_ready
from hpo.views.source import Loaded, load_group, open_readonly

if TYPE_CHECKING:
    from hpo.spec import GroupSpec

err_console = Console(stderr=True, highlight=False, markup=False)


def db_option(fn: Callable) -> Callable:
    return click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path, resolve_path=True),
        default=None,
        help="The event log (SQLite). Default: $HPO_DB, else the nearest .hpo/hpo.db in this "
             "folder or a parent, else ./.hpo/hpo.db.",
    )(fn)


# said by --as-of, --until and --at alike: they are read by one resolver (hpo.eventlog.timepoint)
POINT_NOTE = "(a time without a zone is local time); the point it resolves to is printed on stderr."
AS_OF_HELP = f"Show the group as it was at this event seq or ISO time {POINT_NOTE}"


def as_of_option(fn: Callable) -> Callable:
    """``--as-of SEQ|TIME``, read by :mod:`hpo.eventlog.timepoint` like ``--until`` and ``--at``."""
    return click.option("--as-of", "as_of", metavar="SEQ|TIME", help=AS_OF_HELP)(fn)


def announce_point(point: Resolved | str | None, label: str = "as of") -> None:
    """Print what ``--as-of``/``--until``/``--at`` resolved to: the seq and the instant with its
    UTC offset, so nobody has to guess which zone a time was read in. Dim, on stderr: ``--json``
    and CSV on stdout stay parseable."""
    if point is not None:
        err_console.print(f"{label} {point}", style="dim", markup=False, soft_wrap=True)


def load_view(db: Path | None, group: str, as_of: str | None, curves: bool = True) -> Loaded:
    """GROUP for a read-only view, folded up to ``--as-of``, and the point it resolved announced."""
    loaded = load_group(open_readonly(db), group, as_of, curves=curves)
    announce_point(loaded.point)
    return loaded


def handle_errors(fn: Callable) -> Callable:
    """Turn hpo's own errors into a clear message and the error's exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HpoError as exc:
            err_console.print(Text.assemble(("error:", "bold red"), " ", clean(exc, newlines=True)),
                              soft_wrap=True)
            sys.exit(exc.exit_code)

    return wrapper


def open_store(db: Path | None) -> EventStore:
    return EventStore(db or default_db_path())


def read_spec(path: Path) -> tuple["GroupSpec", str]:
    """Load a spec file (the installed searchers say which keys select them), check it against
    the installed plugins, and return it with its text."""
    from hpo.engine.composition import validate as validate_plugins
    from hpo.spec import parse_spec
    from hpo.spec.yamlload import read_spec_text

    text = read_spec_text(path)  # read once: the text the log keeps is the text parsed
    spec = parse_spec(text, source=str(path))
    try:
        validate_plugins(spec)  # the searcher, runner and stoppers check their own options
    except SpecError as exc:
        raise (exc if exc.file else exc.with_file(str(path))) from None
    return spec, text


def load_state(store: EventStore, ref: str, until_seq: int | None = None) -> GroupState:
    return snapshots.load_state(store, store.resolve(ref), until_seq=until_seq)


def console() -> Console:
    """The console commands print on: never reads markup, so user text (a group called
    ``[/]``) is printed as written; views clean it of control characters first."""
    return Console(highlight=False, markup=False)


def print_json(data: Any) -> None:
    """``data`` as valid JSON: a NaN or infinite value as ``"NaN"``, ``"Infinity"``, ``"-Infinity"``."""
    click.echo(json.dumps(json_ready(data), indent=2, default=str, allow_nan=False))
