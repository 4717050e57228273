"""One reading of "a point of a group's history", for ``--as-of``, ``--until`` and ``--at``.

A point is written either as a whole number, a global event ``seq`` (the first column of
``hpo events GROUP``), or as an ISO date or time. A time without a zone is the user's local
time: that is the clock they read it from. The point resolves to the group's last event at or
before it, giving the ``seq`` to fold up to and the instant the group is seen at, as an aware
datetime, so that every command can print what it resolved with its UTC offset and nobody has to
guess which zone was meant.

Parsing and resolving are kept apart because ``hpo list --as-of`` reads one point against every group.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from hpo.errors import HpoError
from hpo.eventlog.store import EventStore, Stored

FORMS = ("an event seq (a whole number: the first column of `hpo events GROUP`) or an ISO time "
         "such as 2026-05-01, 2026-05-01T14:30 (local time) or 2026-05-01T12:30:00+00:00")

LAST_SEQ = 2**63 - 1  # SQLite's largest integer


class TimePointError(HpoError):
    """A value that is neither a seq nor an ISO time, or that names no point of the history."""


class BeforeGroup(TimePointError):
    """The point lies before the group's first event: the group did not exist yet."""


@dataclass(frozen=True)
class TimePoint:
    """What the user wrote, parsed: a global ``seq`` or an aware ``moment``, and where from."""

    option: str  # "--as-of", "--until", "--at": named in every error
    text: str
    seq: int | None = None
    moment: datetime | None = None


@dataclass(frozen=True)
class Resolved:
    """A point resolved against the log: fold up to ``seq``; the group is seen at ``at``.

    ``at`` is the time the user named, or for a seq the time of its event (in local time).
    """

    seq: int
    at: datetime

    def __str__(self) -> str:
        # full precision: pasting the printed instant back into --as-of must give the same seq
        return f"seq {self.seq}, {self.at.isoformat()}"


def parse(text: str, option: str) -> TimePoint:
    """Read ``text`` as a seq or an ISO time; :class:`TimePointError` names ``option`` if neither."""
    value = text.strip()
    if value.isdigit():  # past SQLite's largest integer every seq is before it: clamp
        return TimePoint(option, text, seq=min(int(value), LAST_SEQ))
    try:
        moment = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        raise TimePointError(f"{option} {text!r} is neither {FORMS}") from None
    try:
        if moment.tzinfo is None:
            moment = moment.astimezone()  # no zone: the user's local time, with its offset then
        moment.astimezone(timezone.utc)  # how it is compared with the log's stamps
    except (OverflowError, OSError, ValueError):
        raise TimePointError(f"{option} {text!r} is out of the range of dates hpo can compare; "
                             f"give {FORMS}") from None
    return TimePoint(option, text, moment=moment)


def resolve(store: EventStore, group_id: str | None, point: TimePoint) -> Resolved:
    """The group's last event at or before ``point`` (``group_id=None``: the whole log's).

    Raises :class:`BeforeGroup` when the group has no event that early.
    """
    if point.seq is not None:
        event = store.last_event_at_or_before_seq(group_id, point.seq)
        if event is not None:
            return Resolved(event.seq, local_time(event))
    else:
        event = store.last_event_at_or_before_time(group_id, point.moment)
        if event is not None:
            return Resolved(event.seq, point.moment)
    raise _before(store, group_id, point)


def resolve_text(store: EventStore, group_id: str, text: str, option: str) -> Resolved:
    """:func:`parse` then :func:`resolve`: what a command with one group and one option does."""
    return resolve(store, group_id, parse(text, option))


def local_time(event: Stored) -> datetime:
    """When ``event`` was logged, in the user's local time (stamps are stored in UTC)."""
    return datetime.fromisoformat(event.ts).astimezone()


def _before(store: EventStore, group_id: str | None, point: TimePoint) -> TimePointError:
    """The error for a point before the first event: it says when the group begins."""
    first = store.first_event(group_id) if group_id is not None else None
    said = f"{point.option} {point.text.strip()}"
    if first is None:
        whose = f"group {group_id} has" if group_id is not None else "the log has"
        return BeforeGroup(f"{said}: {whose} no event at or before it")
    name = getattr(first.event, "name", "") or group_id
    group = f"group {name} ({group_id})" if name != group_id else f"group {group_id}"
    created = local_time(first).isoformat()
    if point.seq is not None:
        return BeforeGroup(f"{said}: {group} was created at seq {first.seq} ({created}); "
                           f"give a seq from {first.seq} on")
    return BeforeGroup(f"{said}: {group} was created later, at {created}; "
                       "give a time from then on")
