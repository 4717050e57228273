"""Ingest with the hash chain against ingest without it, for ``benchmarks/scale.py``.

"Without it" is the same ``EventStore.append`` with nothing of the chain in it: no hash
computed and none written (its INSERT names the other columns, so the ``hash`` column stays
NULL without a value bound for it). Binding a NULL is not free in Python's sqlite3: a ``None``
is bound only after the module has looked for an adapter for its type, about 0.45 µs a row on
Python 3.11, so a baseline that binds one is slower than an append without the chain.
``--breakdown`` adds that baseline (``null_hash``), a store that writes a constant hash
without computing any (``stored_not_computed``: what storing the hash costs apart from computing
it), and what binding a value costs by its type (:func:`binding_costs`).

The shared machine makes absolute times noisy, so the variants are interleaved batch by batch
(each append, 5,000 events by default, timed on its own, the order alternating), each round into
fresh files; a round's ratio is its two totals' ratio, and the figure is the median of the rounds'
ratios with their spread.
"""

from __future__ import annotations

import gc
import statistics
import time
from itertools import count
from pathlib import Path
from typing import Callable, Sequence

import hpo.eventlog.store as store_module
from hpo.eventlog import events as ev
from hpo.eventlog.store import EventStore

BATCH = 5000
_CONSTANT_HASH = bytes(range(32))


class Unchained(EventStore):
    """The store without the chain: the same append, no hash computed, none written."""

    def _insert(self, group_id: str, first_version: int, encoded: Sequence[tuple[str, int, str]],
                ts: str, prev: bytes) -> list:
        writer = self.writer
        self.conn.executemany(
            "INSERT INTO events (group_id, version, type, schema, payload, ts, writer)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(group_id, version, type_, schema, payload, ts, writer)
             for version, (type_, schema, payload) in zip(count(first_version), encoded)],
        )
        return [None] * len(encoded)


class NullHash(EventStore):
    """No hash computed, and a NULL bound for it (the baseline this benchmark used before)."""

    def _insert(self, group_id: str, first_version: int, encoded: Sequence[tuple[str, int, str]],
                ts: str, prev: bytes) -> list:
        writer = self.writer
        self.conn.executemany(
            "INSERT INTO events (group_id, version, type, schema, payload, ts, writer, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(group_id, version, type_, schema, payload, ts, writer, None)
             for version, (type_, schema, payload) in zip(count(first_version), encoded)],
        )
        return [None] * len(encoded)


def _constant_links(prev: bytes, first: int, encoded: Sequence, ts: str) -> list[bytes]:
    return [_CONSTANT_HASH] * len(encoded)


# name -> (store class, what replaces the chain's hashing while it appends, if anything)
Variant = tuple[type[EventStore], Callable | None]
VARIANTS: dict[str, Variant] = {"unchained": (Unchained, None), "chained": (EventStore, None)}
BREAKDOWN: dict[str, Variant] = {"null_hash": (NullHash, None),
                                 "stored_not_computed": (EventStore, _constant_links)}


def _timed_append(store: EventStore, batch: list[ev.Event], version: int,
                  hashing: Callable | None) -> tuple[float, float]:
    real = store_module.links
    if hashing is not None:
        store_module.links = hashing
    try:
        w0, c0 = time.perf_counter(), time.process_time()
        store.append("g", batch, version)
        return time.perf_counter() - w0, time.process_time() - c0
    finally:
        store_module.links = real


def _spread(values: list[float]) -> dict:
    ordered = sorted(values)
    q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive") if len(ordered) > 1 else (ordered[0],) * 3
    return {"median": statistics.median(ordered), "min": ordered[0], "q1": q1, "q3": q3,
            "max": ordered[-1]}


def binding_costs(rows: int = 2000, repeats: int = 150) -> dict:
    """What binding one value costs Python's sqlite3, by the value's type: the best time per row
    of ``executemany`` into an in-memory two-column table (a ``None`` or ``bytes`` value is
    bound after a look for an adapter for its type; an ``int`` or ``bytearray`` at once)."""
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a, b)")
    values = {"int": 0, "none": None, "bytes": bytes(32), "bytearray": bytearray(32)}
    best = dict.fromkeys(values, float("inf"))
    for _ in range(repeats):
        for name, value in values.items():
            batch = [(1, value)] * rows
            start = time.perf_counter()
            conn.executemany("INSERT INTO t VALUES (?, ?)", batch)
            best[name] = min(best[name], time.perf_counter() - start)
        conn.execute("DELETE FROM t")
    conn.close()
    return {f"bind_{name}_us_per_row": 1e6 * spent / rows for name, spent in best.items()}


def compare(folder: Path, events: list[ev.Event], rounds: int = 15, breakdown: bool = False,
            batch: int = BATCH) -> dict:
    """Append ``events`` in batches of ``batch`` with each variant, interleaved batch by batch."""
    variants = {**VARIANTS, **(BREAKDOWN if breakdown else {})}
    # the events and everything else built so far live through the run: kept out of the
    # collector's full passes, which otherwise land in whichever append triggers one
    gc.collect()
    gc.freeze()
    try:
        out = _compare(folder, events, rounds, variants, batch)
    finally:
        gc.unfreeze()
    return {**out, **(binding_costs() if breakdown else {})}


def _compare(folder: Path, events: list[ev.Event], rounds: int, variants: dict[str, Variant],
             batch: int) -> dict:
    totals: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for r in range(rounds):
        stores = {}
        for name, (cls, _) in variants.items():
            stores[name] = cls(folder / f"{name}-{r}.db")
            stores[name].append("g", [ev.GroupCreated(group_id="g", name="g", spec={}, seed=1)], 0)
        spent = {name: [0.0, 0.0] for name in variants}
        for b, i in enumerate(range(0, len(events), batch)):
            order = list(variants) if (b + r) % 2 == 0 else list(reversed(variants))
            for name in order:
                wall, cpu = _timed_append(stores[name], events[i:i + batch], 1 + i, variants[name][1])
                spent[name][0] += wall
                spent[name][1] += cpu
        for name, store in stores.items():
            store.close()
            totals[name].append((spent[name][0], spent[name][1]))
    n, base = len(events), totals["unchained"]
    out: dict = {"chain_vs_none_events": n, "chain_vs_none_rounds": rounds, "chain_vs_none_batch": batch}
    for name in variants:
        if name == "unchained":
            continue
        label = "chain_vs_none" if name == "chained" else f"{name}_vs_none"
        wall = _spread([u[0] / v[0] for u, v in zip(base, totals[name])])
        cpu = _spread([u[1] / v[1] for u, v in zip(base, totals[name])])
        out[f"{label}_wall"], out[f"{label}_cpu"] = wall.pop("median"), cpu.pop("median")
        out[f"{label}_wall_spread"], out[f"{label}_cpu_spread"] = wall, cpu
    for name in variants:
        out[f"{name}_events_per_s"] = n / statistics.median(w for w, _ in totals[name])
        out[f"{name}_us_per_event_cpu"] = 1e6 * statistics.median(c for _, c in totals[name]) / n
    return out
