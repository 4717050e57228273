"""The event store: one SQLite file, one append-only ``events`` table.

``UNIQUE(group_id, version)`` is the whole concurrency control: an append states the version it
expects the group to be at, and fails with :class:`ConcurrencyError` when someone else appended
first. The global ``seq`` is the order to tail. Each append chains its events to the group's
previous one (a ``hash`` column, see :mod:`hpo.eventlog.chain`; the chain's queries are in
:mod:`hpo.eventlog.store_chain`). Every sqlite3 error is re-raised as :class:`StoreError`. The
schema is created and migrated with sqlite-utils.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from itertools import count
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from hpo.eventlog import events as ev
from hpo.eventlog.chain import GENESIS, links
from hpo.eventlog.store_chain import ChainQueries, Stored, parse_ts
from hpo.eventlog.store_chain import wrapped as _wrapped
from hpo.errors import ConcurrencyError, GroupNotFound, LogTampered, StoreError
from hpo.eventlog.location import find_db
from hpo.eventlog.migrations import migrate, pending_migrations

if TYPE_CHECKING:
    import sqlite_utils


def default_db_path() -> Path:
    """``$HPO_DB``, else the nearest ``.hpo/hpo.db`` up from here (see :mod:`hpo.eventlog.location`)."""
    return find_db()


def stamp(moment: datetime) -> str:
    """``moment`` as every ``ts`` is stored: UTC with microseconds, one fixed format, so that
    stamps order as strings like the instants they name. A naive ``moment`` is local time."""
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def utcnow() -> str:
    """The stamp of an event appended now."""
    return stamp(datetime.now(timezone.utc))


def _create_owner_only(path: Path) -> None:
    """Create a new database file readable and writable by its owner only (SQLite gives its WAL
    and shared-memory files the same mode); an existing file keeps the mode it has."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


class EventStore(ChainQueries):
    """Appends and reads events. Safe to use from several processes at once (WAL mode)."""

    def __init__(self, path: str | Path | None = None, writer: str | None = None):
        self.path = Path(path) if path is not None else default_db_path()
        self.writer = writer or f"{socket.gethostname()}:{os.getpid()}"
        with _wrapped(f"cannot open the event log {self.path}"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _create_owner_only(self.path)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 30000")
            self._conn, self._db = conn, None
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            if pending_migrations(conn):
                migrate(self.db)

    @property
    def conn(self) -> sqlite3.Connection:
        return self._conn

    @property
    def db(self) -> "sqlite_utils.Database":
        """The sqlite-utils view of the database (created on first use: importing it is slow)."""
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self._conn)
        return self._db

    @db.setter
    def db(self, value: "sqlite_utils.Database") -> None:
        self._db, self._conn = value, value.conn

    @property
    def folder(self) -> Path:
        """Where trial logs and checkpoints live: beside the database."""
        return self.path.parent

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "EventStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------

    def append(
        self, group_id: str, events: Sequence[ev.Event], expected_version: int,
        expected_head: bytes | None = None,
    ) -> list[Stored]:
        """Append ``events`` atomically if the group is still at ``expected_version``, each
        chained to the one before (:mod:`hpo.eventlog.chain`).

        ``expected_head``: the hash the writer knows the group's last event by (the engine keeps
        it); a different stored hash raises :class:`~hpo.errors.LogTampered` and writes nothing.
        """
        if not events:
            return []
        ts, writer, encode = utcnow(), self.writer, ev.encode
        encoded = [encode(event) for event in events]
        with _wrapped(f"cannot append to group {group_id}"):
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                current, prev = self._head(group_id)
                if current != expected_version:
                    raise ConcurrencyError(
                        f"group {group_id} is at version {current}, expected {expected_version}"
                    )
                if expected_head is not None and prev != expected_head:
                    raise LogTampered(
                        f"group {group_id}: its last event (version {current}) is not the one "
                        f"this writer appended: its hash is {prev and prev.hex()}, expected "
                        f"{expected_head.hex()}"
                    )
                if current == 0:
                    prev = self._genesis_of(events[0])
                hashes = self._insert(group_id, expected_version + 1, encoded, ts, prev or GENESIS)
                last = self.conn.execute("SELECT last_insert_rowid()").fetchone()[0]
                self.conn.execute("COMMIT")
            except sqlite3.IntegrityError as exc:
                self.conn.execute("ROLLBACK")
                raise ConcurrencyError(f"group {group_id} moved on: {exc}") from exc
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
        first, make = last - len(events) + 1, tuple.__new__  # skips the named tuple's __new__
        return [
            make(Stored, (first + i, group_id, expected_version + i + 1, ts, writer, e, hashes[i]))
            for i, e in enumerate(events)
        ]

    def _insert(self, group_id: str, first_version: int, encoded: Sequence[tuple[str, int, str]],
                ts: str, prev: bytes) -> list[bytes]:
        """Insert a batch of ``(type, schema, payload)`` as versions ``first_version`` on, each
        chained to the one before, the first to ``prev``; returns their hashes, in order.

        Each hash is bound as a ``bytearray``: Python's sqlite3 binds a ``bytes`` value only
        after looking for an adapter for its type (a dict lookup and two failed attribute
        lookups, about 0.45 µs a row on Python 3.11, as much as computing the hash), while a
        ``bytearray`` is bound at once. SQLite stores the same BLOB either way.
        """
        hashes = links(prev, first_version, encoded, ts)
        writer = self.writer
        self.conn.executemany(
            "INSERT INTO events (group_id, version, type, schema, payload, ts, writer, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(group_id, version, type_, schema, payload, ts, writer, digest)
             for version, (type_, schema, payload), digest
             in zip(count(first_version), encoded, map(bytearray, hashes))],
        )
        return hashes

    def _head(self, group_id: str) -> tuple[int, bytes | None]:
        """The group's version and its last event's hash ((0, None) for no group)."""
        row = self.conn.execute(
            "SELECT version, hash FROM events WHERE group_id = ? ORDER BY version DESC LIMIT 1",
            (group_id,),
        ).fetchone()
        return (row[0], row[1]) if row else (0, None)

    def _genesis_of(self, first: ev.Event) -> bytes | None:
        """What a new group's first event links to: a fork's origin's hash at the fork point."""
        origin = getattr(first, "origin", None) or {}
        if origin.get("kind") != "fork" or not isinstance(origin.get("at_seq"), int):
            return GENESIS
        return self.hash_at_seq(origin["group"], origin["at_seq"])

    def _version(self, group_id: str) -> int:
        row = self.conn.execute(
            "SELECT MAX(version) FROM events WHERE group_id = ?", (group_id,)
        ).fetchone()
        return row[0] or 0

    def version(self, group_id: str) -> int:
        with _wrapped("cannot read the log"):
            return self._version(group_id)

    # -- reading ---------------------------------------------------------------------------

    def read(
        self,
        group_id: str,
        after_version: int = 0,
        until_seq: int | None = None,
        trusted: bool = True,
    ) -> list[Stored]:
        """The group's events after ``after_version``, in order, up to ``until_seq`` included."""
        return list(self.iter_events(group_id, after_version, until_seq, trusted))

    def iter_events(
        self,
        group_id: str,
        after_version: int = 0,
        until_seq: int | None = None,
        trusted: bool = True,
    ) -> Iterator[Stored]:
        """Like :meth:`read`, streamed in chunks: folding a million events never holds them all."""
        for row in self.iter_rows(group_id, after_version, until_seq):
            yield self._row(row, trusted)

    def iter_rows(
        self, group_id: str, after_version: int = 0, until_seq: int | None = None
    ) -> Iterator[tuple]:
        """The raw ``events`` rows, in version order, streamed in chunks."""
        sql = (
            "SELECT seq, group_id, version, type, schema, payload, ts, writer FROM events"
            " WHERE group_id = ? AND version > ?"
        )
        args: list[Any] = [group_id, after_version]
        if until_seq is not None:
            sql += " AND seq <= ?"
            args.append(until_seq)
        sql += " ORDER BY version"
        with _wrapped("cannot read the log"):
            cursor = self.conn.execute(sql, args)
            while True:
                rows = cursor.fetchmany(5000)
                if not rows:
                    return
                yield from rows

    def tail(self, after_seq: int = 0, group_id: str | None = None) -> list[Stored]:
        """Every event after ``after_seq`` in global order (for ``--follow``)."""
        sql = "SELECT seq, group_id, version, type, schema, payload, ts, writer FROM events WHERE seq > ?"
        args: list[Any] = [after_seq]
        if group_id is not None:
            sql += " AND group_id = ?"
            args.append(group_id)
        with _wrapped("cannot read the log"):
            rows = self.conn.execute(sql + " ORDER BY seq", args).fetchall()
        return [self._row(r, True) for r in rows]

    @staticmethod
    def _row(row: tuple, trusted: bool) -> Stored:
        seq, gid, version, type_, schema, payload, ts, writer = row
        return Stored(seq, gid, version, ts, writer, ev.decode(type_, schema, payload, trusted))

    def groups(self) -> list[Stored]:
        """The ``GroupCreated`` event of every group, oldest first."""
        with _wrapped("cannot read the log"):
            rows = self.conn.execute(
                "SELECT seq, group_id, version, type, schema, payload, ts, writer FROM events"
                " WHERE type = 'GroupCreated' ORDER BY seq"
            ).fetchall()
        return [self._row(r, True) for r in rows]

    def resolve(self, ref: str) -> str:
        """A group id from an id, a unique id prefix, or a name (the newest group of that name)."""
        # ids and names straight from SQL: decoding every group's spec here cost more than the
        # rest of `hpo status` on a group with a large matrix
        with _wrapped("cannot read the log"):
            created = self.conn.execute(
                "SELECT group_id, CASE WHEN json_valid(payload) THEN json_extract(payload, '$.name') END"
                " FROM events WHERE type = 'GroupCreated' ORDER BY seq"
            ).fetchall()
        ids = [gid for gid, _ in created]
        if ref in ids:
            return ref
        named = [gid for gid, name in created if name == ref]
        if named:
            return named[-1]
        prefixed = [i for i in ids if i.startswith(ref)]
        if len(prefixed) == 1:
            return prefixed[0]
        if len(prefixed) > 1:
            raise GroupNotFound(f"{ref!r} matches several groups: {', '.join(prefixed)}")
        where = self.path.absolute()
        missing = "" if where.exists() else ", which does not exist: pass --db PATH or set $HPO_DB"
        raise GroupNotFound(f"no group with id or name {ref!r} in {where}{missing} (see `hpo list`)")

    # -- points of a group's history (``--as-of``, ``--until``, ``--at``) --------------------

    def first_event(self, group_id: str) -> Stored | None:
        """The group's first event (its ``GroupCreated``), or None when the log has no such group.

        Lets a caller say when a group was created without folding it.
        """
        return self._last_where("group_id = ?", [group_id], order="seq")

    def last_event_at_or_before_seq(self, group_id: str | None, seq: int) -> Stored | None:
        """The group's last event whose global ``seq`` is at most ``seq``, or None if none is.

        ``group_id=None`` looks at the whole log (``hpo list --as-of`` spans every group).
        """
        where, args = self._group_filter(group_id)
        return self._last_where(where + "seq <= ?", [*args, seq])

    def last_event_at_or_before_time(self, group_id: str | None, moment: datetime) -> Stored | None:
        """The group's last event (highest ``seq``) stamped at or before ``moment``, or None.

        A naive ``moment`` is local time, as everywhere in hpo. The stored strings are compared
        directly: every ``ts`` is written by :func:`utcnow` in one format, so they order like the
        instants and no payload is decoded, whatever the size of the group. Stamps are taken
        before the write lock, so two racing writers may log events a few milliseconds out of
        time order; the highest seq stamped by ``moment`` is the one chosen.
        ``group_id=None`` looks at the whole log.
        """
        where, args = self._group_filter(group_id)
        return self._last_where(where + "ts <= ?", [*args, stamp(moment)])

    def last_event_of_types(self, group_id: str, types: Iterable[str]) -> Stored | None:
        """The group's latest event (highest version) of any of ``types``, or None.

        E.g. ``("EngineStarted", "GroupFinished")``: whether an engine still holds the lease, and
        which one, without folding the group.
        """
        types = list(types)
        marks = ", ".join("?" * len(types))
        return self._last_where(f"group_id = ? AND type IN ({marks})", [group_id, *types],
                                order="version DESC")

    @staticmethod
    def _group_filter(group_id: str | None) -> tuple[str, list[Any]]:
        return ("", []) if group_id is None else ("group_id = ? AND ", [group_id])

    def _last_where(self, where: str, args: list[Any], order: str = "seq DESC") -> Stored | None:
        """The first event by ``order`` among those matching ``where`` (a fixed SQL fragment)."""
        with _wrapped("cannot read the log"):
            row = self.conn.execute(
                "SELECT seq, group_id, version, type, schema, payload, ts, writer FROM events"
                f" WHERE {where} ORDER BY {order} LIMIT 1",
                args,
            ).fetchone()
        return None if row is None else self._row(row, True)

    def integrity_check(self) -> str:
        with _wrapped("cannot check the database"):
            return self.conn.execute("PRAGMA integrity_check").fetchone()[0]


def iter_types(stored: Iterable[Stored], *types: str) -> Iterator[Stored]:
    return (s for s in stored if s.type in types)
