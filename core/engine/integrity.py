"""The engine's watch over its group's log: it holds what the engine wrote, and what ``hpo stop``
asked, and nothing else.

The hash chain (:mod:`hpo.eventlog.chain`) shows a changed event to anyone who verifies it; the
engine knows more. On start it verifies the whole chain. Then it keeps the hash of the last event
it wrote, its *head*, and:

- every append states that head, so an append onto a rewritten or deleted tail is refused;
- every tick, what other processes appended must chain from the head and be a stop request
  (``hpo stop``), the renewal of this engine's own lease (the Python API's heartbeat thread), or
  the takeover of another engine once this one's lease had lapsed. Anything else, such as a
  ``MetricReported`` a trial INSERTed, is foreign;
- when another connection has committed to the database since the last look
  (``PRAGMA data_version``), the chain is verified again from the start, in slices of
  :data:`AUDIT_SLICE` events, one slice every :data:`AUDIT_EVERY` seconds, so that an edit of any
  earlier event is found within a second in a group of a few thousand events (within a few
  minutes in a group of a million) without slowing the engine.

A finding is recorded as the evidence of the group's ``Stopped`` event (policy ``engine``,
``evidence.tampered``: seq, version, type, problem), the group is paused with that reason, and
:class:`~hpo.errors.LogTampered` ends the engine (exit code 5). ``hpo verify`` reports recorded
findings too, and a later engine refuses to continue such a group: fork it from before the event.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hpo.errors import HpoError, LogTampered, StoreError
from hpo.eventlog import chain
from hpo.eventlog.store import EventStore, Stored

if TYPE_CHECKING:
    from hpo.engine.loop import Engine

AUDIT_SLICE = 2000  # events re-verified per step while others write to the database
AUDIT_EVERY = 0.25  # seconds between two steps


@dataclass
class _Sweep:
    """A verification of the whole chain in progress, a slice at a time."""

    verdict: chain.Verdict
    prev: bytes | None


class Integrity:
    """One engine's proof that its group's log holds only what it should."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.head: bytes | None = None  # hash of the event at engine.state.version
        self.tripped = False  # checks are off: a finding is being recorded
        self.recorded = False  # this engine recorded a finding
        self._seen_data_version: int | None = None
        self._changed = False  # another connection committed since the last sweep began
        self._sweep: _Sweep | None = None
        self._stepped = 0.0

    # -- start ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Verify the whole chain; raise :class:`LogTampered` if it does not hold."""
        eng = self.engine
        verdict = chain.verify(eng.store, eng.group_id)
        found = verdict.recorded[0] if verdict.recorded else verdict.broken  # recorded: refused as is
        if found is not None:
            raise LogTampered(self._message(found), found)
        self._seen_data_version = eng.store.data_version()
        self.head = eng.store.hash_at_seq(eng.group_id, eng.state.last_seq)

    # -- every append and every tick -------------------------------------------------------------

    def expected_head(self) -> bytes | None:
        """The head an append must find (None once tripped, or before the engine started)."""
        return None if self.tripped else self.head

    def wrote(self, stored: list[Stored]) -> None:
        if stored:
            self.head = stored[-1].hash

    def others(self, rows: list[tuple[Stored, tuple]]) -> list[Stored]:
        """The events after the head, once checked (``rows``: from the head on, with their
        chain rows, as :meth:`EventStore.read_chained` gives them)."""
        if self.tripped or self.head is None:
            return [s for s, _ in rows[1:]]
        state = self.engine.state
        if not rows or rows[0][0].version != state.version:
            raise self._found(state.last_seq, state.version, "?",
                              "the last event this engine wrote is gone (deleted)")
        first = rows[0][0]
        if first.hash != self.head:
            raise self._found(first.seq, first.version, first.type,
                              "it is not the event this engine wrote (rewritten)")
        verdict = chain.Verdict(self.engine.group_id)
        chain.walk([raw for _, raw in rows[1:]], self.head, verdict, first.version, first.seq)
        if verdict.broken is not None:
            raise LogTampered(self._message(verdict.broken), verdict.broken)
        taken_over = False
        for s, _ in rows[1:]:
            taken_over = taken_over or self._takeover(s)
            if not (taken_over or self._allowed(s)):
                raise self._found(s.seq, s.version, s.type, "appended by another process: beside "
                                  "the engine only `hpo stop` may append to a running group")
        return [s for s, _ in rows[1:]]

    def _allowed(self, s: Stored) -> bool:
        if s.type == "StopRequested":
            return True
        return s.type == "LeaseRenewed" and s.event.engine_id == self.engine.engine_id  # type: ignore[attr-defined]

    def _takeover(self, s: Stored) -> bool:
        """Another engine's ``EngineStarted``: a takeover (then :meth:`Lease.check
        <hpo.engine.lease.Lease.check>` ends this engine), unless it claims to run on this host
        while this engine's lease is fresh, which a real engine refuses to do."""
        e = s.event
        if s.type != "EngineStarted" or e.engine_id == self.engine.engine_id:  # type: ignore[attr-defined]
            return False
        return e.host != socket.gethostname() or self.engine.lease.lapsed()  # type: ignore[attr-defined]

    def audit(self) -> None:
        """One slice of the re-verification that another connection's commit calls for."""
        if self.tripped or self._seen_data_version is None:
            return
        eng = self.engine
        now_version = eng.store.data_version()
        if now_version != self._seen_data_version:
            self._seen_data_version, self._changed = now_version, True
        if (self._sweep is None and not self._changed) or time.monotonic() - self._stepped < AUDIT_EVERY:
            return
        self._stepped = time.monotonic()
        if self._sweep is None:
            self._changed = False
            self._sweep = _Sweep(chain.Verdict(eng.group_id), chain.genesis(eng.store, eng.group_id))
        sweep, target = self._sweep, eng.state.version
        v = sweep.verdict
        rows = eng.store.chain_rows(eng.group_id, v.head_version, limit=min(AUDIT_SLICE, target - v.head_version))
        sweep.prev = chain.walk(rows, sweep.prev, v, v.head_version, v.head_seq)
        if v.broken is not None:
            self._sweep = None
            raise LogTampered(self._message(v.broken), v.broken)
        if v.head_version >= target:
            self._sweep = None

    # -- a finding -------------------------------------------------------------------------------

    def _found(self, seq: int, version: int, type_: str, problem: str) -> LogTampered:
        found = chain.Break(seq, version, type_, problem)
        return LogTampered(self._message(found), found)

    def _message(self, found: chain.Break) -> str:
        return message(self.engine.group_id, found)

    def new_finding(self, exc: LogTampered) -> bool:
        """Whether ``exc`` is a finding neither this engine nor an earlier one recorded."""
        return not self.recorded and isinstance(exc.found, chain.Break) and not exc.found.recorded

    def stop_group(self, exc: LogTampered) -> None:
        """Record a new finding and pause the group with it as the reason."""
        if not self.new_finding(exc):
            return
        self.tripped = self.recorded = True
        self.engine.stops.pause(str(exc), requested_by="engine", policy="engine",
                                evidence={"tampered": exc.found.to_json()})  # type: ignore[union-attr]


def message(gid: str, found: chain.Break) -> str:
    said = "an engine found and recorded" if found.recorded else "found"
    return (f"the log of group {gid} was changed outside the engine: {said} {found}. "
            f"`hpo verify {gid}` shows it; continue from the history before it with "
            f"`hpo fork {gid} --at {max(found.seq - 1, 1)}`")


def unreadable(store: EventStore, gid: str, exc: StoreError) -> HpoError:
    """Why an engine cannot fold its group's log: an event changed outside hpo, which the chain
    names (:class:`LogTampered`, exit code 5), or else ``exc`` as it is."""
    verdict = chain.verify(store, gid)
    found = verdict.recorded[0] if verdict.recorded else verdict.broken
    return exc if found is None else LogTampered(message(gid, found), found)
