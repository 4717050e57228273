"""The hash chain that makes every change to a group's history detectable.

Each event's ``hash`` is SHA-256 over the hash of the group's previous event and the event's
stored bytes: its version, type, schema, timestamp and JSON payload. Not the global ``seq``,
which changes when a log is copied into another database, nor the ``writer``, which exported
logs replace. Editing, deleting, inserting or reordering an event breaks the chain at that event
(:func:`verify` names its seq); rewriting the whole chain from some event on changes the group's
head, which a head recorded elsewhere catches (``hpo verify GROUP --head HASH``).

A group's first event links to nothing (:data:`GENESIS`), except a fork's, which links to its
origin's hash at the fork point, so a fork also proves the history it shares. Logs written before
the chain existed were chained once by a migration, which recorded up to which event
(:class:`Migrated`): the chain proves those events unchanged since then, not before.

The chain makes tampering visible, not impossible: whoever can write the database can recompute
every hash. The engine adds what it knows (its own head, and that only ``hpo stop`` appends
beside it, see :mod:`hpo.engine.integrity`), and a recorded head adds what nobody can recompute.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from hashlib import sha256
from typing import TYPE_CHECKING, Iterable, Sequence

if TYPE_CHECKING:
    from hpo.eventlog.store import EventStore

GENESIS = b""
MIN_PREFIX = 8  # the shortest head prefix (hex characters) `--head` accepts


def link(prev: bytes, version: int, type_: str, schema: int, ts: str, payload: str) -> bytes:
    """The hash (32 bytes) of an event whose group's previous event has hash ``prev``."""
    return sha256(prev + f"\n{version}\n{type_}\n{schema}\n{ts}\n{payload}".encode()).digest()


def links(prev: bytes, first_version: int, encoded: Sequence[tuple[str, int, str]], ts: str) -> list[bytes]:
    """:func:`link` over a batch of ``(type, schema, payload)`` appended together at ``ts``.

    The same hashes, at two thirds of the cost: appending a metric report is a few microseconds,
    and the chain must not slow it by more than a tenth (``benchmarks/scale.py`` measures it).
    """
    tails = [f"\n{v}\n{t}\n{s}\n{ts}\n{p}".encode() for v, (t, s, p) in enumerate(encoded, first_version)]
    out: list[bytes] = []
    add = out.append
    for tail in tails:
        prev = sha256(prev + tail).digest()
        add(prev)
    return out


@dataclass(frozen=True)
class Break:
    """The first event where the chain does not hold, and what is wrong with it."""

    seq: int
    version: int
    type: str
    problem: str
    recorded: bool = False  # found by an engine earlier and recorded in the log (a Stopped event)

    def __str__(self) -> str:
        return f"seq {self.seq} ({self.type}, version {self.version}): {self.problem}"

    def to_json(self) -> dict:
        return {"seq": self.seq, "version": self.version, "type": self.type, "problem": self.problem}


@dataclass(frozen=True)
class Migrated:
    """Events up to ``through_seq`` existed before the chain and were chained on ``at``."""

    through_seq: int
    through_version: int
    at: str


@dataclass
class Verdict:
    """What :func:`verify` found for one group."""

    group_id: str
    events: int = 0
    head: str = ""  # hash of the group's last event, in hex
    head_seq: int = 0
    head_version: int = 0
    broken: Break | None = None  # the first bad event of the chain
    recorded: list[Break] = field(default_factory=list)  # findings engines wrote in the log
    migrated: Migrated | None = None
    hashes: dict[str, int] = field(default_factory=dict, repr=False)  # hex hash -> seq, for --head

    @property
    def ok(self) -> bool:
        return self.broken is None and not self.recorded

    def find_head(self, head: str) -> int | None:
        """The seq of the event whose hash is ``head`` (or starts with it), None if none is."""
        head = head.strip().lower()
        if head in self.hashes:
            return self.hashes[head]
        matches = {s for h, s in self.hashes.items() if h.startswith(head)}
        return matches.pop() if len(head) >= MIN_PREFIX and len(matches) == 1 else None

    def to_json(self) -> dict:
        return {
            "group": self.group_id, "ok": self.ok, "events": self.events, "head": self.head,
            "head_seq": self.head_seq,
            "broken": self.broken.to_json() if self.broken else None,
            "recorded": [b.to_json() for b in self.recorded],
            "chained_by_migration_through_seq": self.migrated.through_seq if self.migrated else None,
        }


Row = tuple  # (seq, version, type, schema, payload, ts, hash), as EventStore.chain_rows yields


def walk(rows: Iterable[Row], prev: bytes | None, verdict: Verdict, version: int = 0,
         last_seq: int = 0, keep_hashes: bool = False) -> bytes | None:
    """Check ``rows`` (in version order) against the chain, starting after ``version`` whose hash
    is ``prev``; fill ``verdict``. Returns the hash the chain reaches (None once broken).

    ``prev`` None means the event the first row links to is missing (a fork whose origin is gone).
    After a break the rows are only read for the findings engines recorded.
    """
    rows = iter(rows)
    for seq, v, type_, schema, payload, ts, stored in rows:
        problem = None
        if v != version + 1:
            problem = (f"version {version + 1} is missing (an event was deleted)" if v > version + 1
                       else f"version {v} comes again after {version}")
        elif seq <= last_seq:
            problem = f"it comes after seq {last_seq} in the group's order but has a lower seq (reordered)"
        elif stored is None:
            problem = "it has no hash: it was written outside hpo (inserted)"
        elif prev is None:
            problem = "the origin event it links to (the fork point) is missing"
        elif stored != link(prev, v, type_, schema, ts, payload):
            problem = "its content does not match its hash (edited, inserted or reordered)"
        if problem is not None:
            verdict.broken = Break(seq, v, type_, problem)
            for _, _, type_, _, payload, _, _ in itertools.chain([(seq, v, type_, schema, payload, ts, stored)], rows):
                if type_ == "Stopped":
                    _recorded_finding(verdict, payload)
            return None
        if type_ == "Stopped":
            _recorded_finding(verdict, payload)
        prev, version, last_seq = stored, v, seq
        verdict.events += 1
        if keep_hashes:
            verdict.hashes[stored.hex()] = seq
    if prev is not None and verdict.events:
        verdict.head, verdict.head_seq, verdict.head_version = prev.hex(), last_seq, version
    return prev


def _recorded_finding(verdict: Verdict, payload: str) -> None:
    """An engine that found tampering recorded it in its ``Stopped`` event's evidence."""
    try:
        data = json.loads(payload)
    except (ValueError, TypeError):
        return  # not written by hpo: the chain names the event
    evidence = data.get("evidence") if isinstance(data, dict) else None
    found = evidence.get("tampered") if isinstance(evidence, dict) else None
    if isinstance(found, dict) and isinstance(found.get("seq"), int):
        verdict.recorded.append(Break(found["seq"], int(found.get("version") or 0),
                                      str(found.get("type", "")), str(found.get("problem", "")),
                                      recorded=True))


def genesis(store: "EventStore", group_id: str) -> bytes | None:
    """What the group's first event links to: nothing, or for a fork its origin's hash at the
    fork point (None when that event is missing)."""
    fork = store.fork_point(group_id)
    if fork is None:
        return GENESIS
    origin, at_seq = fork
    return store.hash_at_seq(origin, at_seq)


def verify(store: "EventStore", group_id: str, keep_hashes: bool = False) -> Verdict:
    """Recompute the group's whole chain; ``keep_hashes`` keeps every hash (for ``--head``)."""
    verdict = Verdict(group_id, migrated=store.chain_migrated(group_id))
    walk(store.chain_rows(group_id), genesis(store, group_id), verdict, keep_hashes=keep_hashes)
    return verdict
