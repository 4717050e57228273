"""The Python API's entry functions: create a group, load one, or create one and optimize it.

Each returns a :class:`~hpo.api.group.Group` handle (``import hpo`` exposes them as
``hpo.create_group``, ``hpo.load_group`` and ``hpo.optimize``; see ``docs/api.md``).
"""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any, Callable

from hpo.api.group import Group, open_group
from hpo.api.objective import Trial, check_objective
from hpo.api.specs import SpecLike, for_ask_tell, for_objective, read_spec
from hpo.contracts.registry import default_registry
from hpo.engine import composition as groups
from hpo.eventlog.store import EventStore, default_db_path

__all__ = ["create_group", "load_group", "optimize"]
BACKENDS = ("process", "thread")  # how hpo.optimize runs a trial: a forked process or a thread


def create_group(
    spec: SpecLike, db: str | Path | EventStore | None = None, name: str | None = None,
    seed: int | None = None,
) -> Group:
    """Create a group from a spec file path, YAML text, a dict or a GroupSpec.

    The spec may leave out ``run:`` (its trials then run from Python: ``ask``/``tell`` or
    ``group.optimize``). ``db`` defaults to ``$HPO_DB`` or ``./.hpo/hpo.db``; ``seed`` to the
    spec's, else a random one.
    """
    seed = _integer("seed", seed, 0)
    registry = default_registry()
    src = read_spec(spec, registry)
    store = _store(db)
    group_id = groups.create_group(
        store, for_ask_tell(src), name=name or src.spec.name or _stem(src.path), seed=seed,
        source=src.text, source_path=src.path, registry=registry,
    )
    return Group(store, group_id, registry)


def load_group(name_or_id: str, db: str | Path | EventStore | None = None) -> Group:
    """An existing group, by name (the newest of that name), id or unique id prefix."""
    store = _store(db)
    group_id = store.resolve(name_or_id)
    return open_group(store, group_id)


def optimize(
    objective: Callable[[Trial], Any],
    spec: SpecLike,
    n_trials: int | None = None,
    concurrency: int | None = None,
    db: str | Path | EventStore | None = None,
    backend: str = "process",
    name: str | None = None,
    seed: int | None = None,
) -> Group:
    """Run ``objective(trial)`` as the trials of a new group; return the finished group.

    ``objective`` takes one :class:`~hpo.api.objective.Trial` (``trial.params``,
    ``trial.report(step=..., **metrics)``) and returns the metric's value, a dict of metrics,
    or None. An exception fails its trial (the traceback is the trial's output). ``n_trials``
    caps the trials started (a ``budget`` stopping rule); the searcher's own budget also ends
    the group. ``concurrency`` defaults to the spec's. ``backend="process"`` runs each trial in
    a forked process (stoppable, survives a crashed engine), ``"thread"`` in a thread.
    Ctrl-C pauses the group; ``hpo.load_group(name).optimize(objective)`` continues it.
    """
    check_objective(objective)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    n_trials, concurrency = _integer("n_trials", n_trials, 1), _integer("concurrency", concurrency, 1)
    seed = _integer("seed", seed, 0)
    registry = default_registry()
    src = read_spec(spec, registry)
    group_spec = for_objective(src, objective, backend, n_trials, concurrency)
    store = _store(db)
    group_id = groups.create_group(
        store, group_spec, name=name or src.spec.name or _stem(src.path), seed=seed,
        source=src.text, source_path=src.path, registry=registry,
    )
    return Group(store, group_id, registry).optimize(objective)


def _integer(label: str, value: Any, minimum: int) -> int | None:
    """``value`` as an int (a numpy integer too), or None; a ValueError names anything else."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{label} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _store(db: str | Path | EventStore | None) -> EventStore:
    if isinstance(db, EventStore):
        return db
    return EventStore(Path(db) if db is not None else default_db_path())


def _stem(path: str | None) -> str | None:
    return Path(path).stem if path else None
