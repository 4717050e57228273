"""Group names: one group per name unless asked, as Optuna refuses a duplicated study name.

A name is how people point at a group (``hpo status quickstart``); two groups of one name would
make every such command pick the newer one silently. ``hpo run`` refuses a name already used and
says how to continue that group or name the new one; asked for a new group anyway, it takes the
first free ``NAME-2``, ``NAME-3``...; restart and fork name their group the same way.
"""

from __future__ import annotations

from hpo.errors import HpoError
from hpo.eventlog.store import EventStore


class DuplicateName(HpoError):
    """A group of that name already exists."""


def taken(store: EventStore) -> dict[str, str]:
    """Every group name in the log and its newest group's id."""
    return {s.event.name: s.group_id for s in store.groups()}  # type: ignore[attr-defined]


def free_name(store: EventStore, base: str) -> str:
    """``base``, or the first of ``base-2``, ``base-3``... that no group has."""
    names = taken(store)
    if base not in names:
        return base
    n = 2
    while f"{base}-{n}" in names:
        n += 1
    return f"{base}-{n}"


def check_new_name(store: EventStore, name: str) -> None:
    """Refuse ``name`` if a group has it, naming the way to continue it and to name anew."""
    existing = taken(store).get(name)
    if existing is not None:
        raise DuplicateName(
            f"a group named {name!r} already exists in {store.path.absolute()} ({existing}): "
            f"continue it with `hpo resume {existing}`, or run a new group under another name "
            f"with `--name NAME` (or `--new`, which names it {free_name(store, name)!r})"
        )
