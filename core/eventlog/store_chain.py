"""The store's queries of the hash chain (:mod:`hpo.eventlog.chain`), and what every store
query shares: the row an event is read as (:class:`Stored`) and the wrapping of sqlite3 errors.

:class:`~hpo.eventlog.store.EventStore` inherits :class:`ChainQueries`; together they are the
only code that reads or writes the ``events`` table.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator, NamedTuple

from hpo.errors import StoreError
from hpo.eventlog import events as ev
from hpo.eventlog.chain import Migrated


def parse_ts(ts: str) -> float:
    return datetime.fromisoformat(ts).timestamp()


class Stored(NamedTuple):
    """An event as it sits in the log (a named tuple: a million of them are built on replay)."""

    seq: int
    group_id: str
    version: int
    ts: str
    writer: str
    event: ev.Event
    hash: bytes | None = None  # its chain hash, where the reader asked for it (append does)

    @property
    def type(self) -> str:
        return self.event.type  # type: ignore[attr-defined]

    @property
    def time(self) -> float:
        return parse_ts(self.ts)


@contextmanager
def wrapped(what: str) -> Iterator[None]:
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"{what}: {exc}") from exc


class ChainQueries:
    """Reads the chain columns of the ``events`` table (``self.conn``: the store's connection)."""

    conn: sqlite3.Connection

    def chain_rows(self, group_id: str, after_version: int = 0, limit: int | None = None) -> Iterator[tuple]:
        """``(seq, version, type, schema, payload, ts, hash)`` rows in version order, streamed."""
        sql = ("SELECT seq, version, type, schema, payload, ts, hash FROM events"
               " WHERE group_id = ? AND version > ? ORDER BY version")
        args: list[Any] = [group_id, after_version]
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with wrapped("cannot read the log"):
            cursor = self.conn.execute(sql, args)
            while rows := cursor.fetchmany(5000):
                yield from rows

    def read_chained(self, group_id: str, from_version: int) -> list[tuple[Stored, tuple]]:
        """The group's events from ``from_version`` on (included), each with its chain row
        ``(seq, version, type, schema, payload, ts, hash)`` to check it against the chain."""
        with wrapped("cannot read the log"):
            rows = self.conn.execute(
                "SELECT seq, group_id, version, type, schema, payload, ts, writer, hash FROM events"
                " WHERE group_id = ? AND version >= ? ORDER BY version", (group_id, from_version)
            ).fetchall()
        return [(self._row(r[:8], True)._replace(hash=r[8]), (r[0], *r[2:7], r[8]))  # type: ignore[attr-defined]
                for r in rows]

    def head(self, group_id: str) -> tuple[int, bytes | None]:
        """The group's version and the hash of its last event."""
        with wrapped("cannot read the log"):
            return self._head(group_id)

    def hash_at_seq(self, group_id: str, seq: int) -> bytes | None:
        """The hash of the group's last event at or before global ``seq`` (None: no such event)."""
        with wrapped("cannot read the log"):
            row = self.conn.execute(
                "SELECT hash FROM events WHERE group_id = ? AND seq <= ? ORDER BY version DESC LIMIT 1",
                (group_id, seq),
            ).fetchone()
        return row[0] if row else None

    def fork_point(self, group_id: str) -> tuple[str, int] | None:
        """``(origin group, at_seq)`` when the group is a fork."""
        with wrapped("cannot read the log"):
            row = self.conn.execute(
                "SELECT json_extract(p, '$.origin.group'), json_extract(p, '$.origin.at_seq'),"
                " json_extract(p, '$.origin.kind') FROM (SELECT CASE WHEN json_valid(payload)"
                " THEN payload END AS p FROM events WHERE group_id = ? AND version = 1)", (group_id,)
            ).fetchone()  # a payload that is not JSON (edited) is no fork: the chain names it
        if row is None or row[2] != "fork" or not isinstance(row[1], int):
            return None
        return row[0], row[1]

    def group_names(self) -> dict[str, str | None]:
        """Every group that has an event, oldest first, with its name (None where its
        ``GroupCreated`` is gone or unreadable): ``hpo verify`` checks every one."""
        with wrapped("cannot read the log"):
            rows = self.conn.execute(
                "SELECT group_id, MAX(CASE WHEN type = 'GroupCreated' AND json_valid(payload)"
                " THEN json_extract(payload, '$.name') END) FROM events GROUP BY group_id ORDER BY MIN(seq)"
            ).fetchall()
        return {gid: name if isinstance(name, str) else None for gid, name in rows}

    def chain_migrated(self, group_id: str) -> Migrated | None:
        """Up to which event the migration chained the group (None: chained as written)."""
        with wrapped("cannot read the log"):
            row = self.conn.execute(
                "SELECT through_seq, through_version, chained_at FROM chain_migrated WHERE group_id = ?",
                (group_id,),
            ).fetchone()
        return Migrated(*row) if row else None

    def data_version(self) -> int:
        """Changes whenever another connection commits to the database (``PRAGMA data_version``)."""
        with wrapped("cannot read the log"):
            return self.conn.execute("PRAGMA data_version").fetchone()[0]
