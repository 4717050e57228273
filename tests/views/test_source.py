"""--as-of and the read-only store."""

import sqlite3
from datetime import datetime, timezone

import pytest

from hpo.errors import GroupNotFound, StoreError
from hpo.eventlog.timepoint import TimePointError, parse, resolve_text
from hpo.views.source import ReadOnlyStore, load_group


def test_as_of_a_seq_folds_only_the_events_up_to_it(logged):
    with ReadOnlyStore(logged["db"]) as store:
        events = store.read(logged["grid"])
        cut = events[len(events) // 2]
        loaded = load_group(store, logged["grid"], str(cut.seq))
    assert loaded.state.last_seq == cut.seq
    assert loaded.state.version == cut.version
    assert loaded.moment == cut.time


def test_as_of_a_time_resolves_to_the_last_event_at_or_before_it(logged):
    with ReadOnlyStore(logged["db"]) as store:
        events = store.read(logged["grid"])
        target = events[5]
        utc = datetime.fromtimestamp(target.time, timezone.utc).isoformat()
        assert resolve_text(store, logged["grid"], utc, "--as-of").seq == target.seq
        local = datetime.fromtimestamp(target.time).isoformat()  # no zone: local time
        assert resolve_text(store, logged["grid"], local, "--as-of").seq == target.seq


def test_as_of_before_the_group_existed_is_a_clear_error(logged):
    with ReadOnlyStore(logged["db"]) as store:
        first = store.read(logged["hb"])[0]
        with pytest.raises(TimePointError, match="created at seq"):
            resolve_text(store, logged["hb"], str(first.seq - 1), "--as-of")
        with pytest.raises(TimePointError, match="created later"):
            resolve_text(store, logged["hb"], "2000-01-01T00:00:00+00:00", "--as-of")
        with pytest.raises(TimePointError, match="neither an event seq"):
            parse("yesterday", "--as-of")


def test_the_read_only_store_never_writes(logged, tmp_path):
    with ReadOnlyStore(logged["db"]) as store:
        with pytest.raises(StoreError, match="read-only"):
            store.append(logged["grid"], [], 0)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.conn.execute("DELETE FROM events")
    missing = ReadOnlyStore(tmp_path / "nothing.db")  # reads as an empty log, creates nothing
    assert missing.groups() == []
    with pytest.raises(GroupNotFound):
        missing.resolve("g")
    assert not (tmp_path / "nothing.db").exists()
