"""Logs written by earlier versions must replay forever, and schemas never change silently."""

import hashlib
import json
from pathlib import Path

import pytest

from hpo.eventlog import events as ev
from hpo.engine.lifecycle import replay_check
from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore

from .make_golden import snapshot

HERE = Path(__file__).parent
VERSIONS = sorted(p.name[len("log-"):-len(".jsonl")] for p in HERE.glob("log-*.jsonl"))


def rows_of(version) -> list[dict]:
    return [json.loads(line) for line in (HERE / f"log-{version}.jsonl").read_text().splitlines()]


def load(tmp_path, version) -> EventStore:
    """The golden log in a fresh database. Its payloads are written back in the compact form hpo
    stores (``hpo.eventlog.events.encode``), so logs with a chain (0.2.2 on) verify as written."""
    store = EventStore(tmp_path / "golden.db")
    store.conn.executemany(
        "INSERT INTO events (seq, group_id, version, type, schema, payload, ts, writer, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(r["seq"], r["group_id"], r["version"], r["type"], r["schema"],
          json.dumps(r["payload"], separators=(",", ":")), r["ts"], r["writer"],
          bytes.fromhex(r["hash"]) if "hash" in r else None) for r in rows_of(version)],
    )
    return store


def test_there_is_a_golden_log():
    assert VERSIONS


@pytest.mark.parametrize("version", VERSIONS)
def test_golden_log_replays_to_the_recorded_state(tmp_path, version):
    store = load(tmp_path, version)
    expected = json.loads((HERE / f"expected-{version}.json").read_text())
    for group_id, want in expected.items():
        stored = store.read(group_id, trusted=False)  # full validation, upcasters included
        got = snapshot(GroupState.fold(stored))
        assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)


@pytest.mark.parametrize("version", VERSIONS)
def test_golden_log_passes_the_replay_check(tmp_path, version):
    store = load(tmp_path, version)
    for group_id in json.loads((HERE / f"expected-{version}.json").read_text()):
        checked, mismatches = replay_check(store, group_id)
        assert mismatches == []


CHAINED = [v for v in VERSIONS if "hash" in rows_of(v)[0]]


def test_a_golden_log_with_the_chain_is_there():
    assert CHAINED


@pytest.mark.parametrize("version", CHAINED)
def test_golden_log_chains_verify_as_written(tmp_path, version):
    from hpo.eventlog.chain import verify

    store = load(tmp_path, version)
    for group_id in json.loads((HERE / f"expected-{version}.json").read_text()):
        verdict = verify(store, group_id)
        assert verdict.ok, verdict.broken
        assert verdict.head_seq == max(r["seq"] for r in rows_of(version) if r["group_id"] == group_id)


def test_event_schemas_change_only_with_a_version_bump_and_an_upcaster():
    recorded = json.loads((HERE / "schemas.json").read_text())
    for name, cls in ev.EVENT_TYPES.items():
        assert name in recorded, f"new event type {name}: run tests/golden/make_golden.py to record it"
        old = recorded[name]
        schema = json.dumps(cls.model_json_schema(), sort_keys=True)
        fingerprint = hashlib.sha256(schema.encode()).hexdigest()
        if cls.SCHEMA == old["schema"]:
            assert fingerprint == old["fingerprint"], (
                f"{name} changed without a schema bump: raise {name}.SCHEMA and register an "
                f"upcaster in hpo.eventlog.events.UPCASTERS[({name!r}, {old['schema']})]"
            )
        else:
            assert cls.SCHEMA > old["schema"]
            for v in range(old["schema"], cls.SCHEMA):
                assert (name, v) in ev.UPCASTERS, f"{name}: no upcaster from schema {v}"


def test_upcasters_run_before_validation(monkeypatch):
    """A payload of an older schema is upcast step by step, then validated."""

    class Renamed(ev.LeaseRenewed):
        SCHEMA = 2

    monkeypatch.setitem(ev.EVENT_TYPES, "LeaseRenewed", Renamed)
    monkeypatch.setitem(ev.UPCASTERS, ("LeaseRenewed", 1), lambda d: {"engine_id": d.pop("engine")})
    event = ev.decode("LeaseRenewed", 1, '{"engine": "e1"}')
    assert event.engine_id == "e1"
    with pytest.raises(Exception, match="no upcaster"):
        monkeypatch.delitem(ev.UPCASTERS, ("LeaseRenewed", 1))
        ev.decode("LeaseRenewed", 1, '{"engine": "e1"}')


@pytest.mark.parametrize("version", VERSIONS)
def test_the_fast_row_fold_equals_the_event_fold(tmp_path, version):
    store = load(tmp_path, version)
    for group_id in json.loads((HERE / f"expected-{version}.json").read_text()):
        by_events = GroupState.fold(store.iter_events(group_id))
        by_rows = GroupState()
        by_rows.apply_rows(store.iter_rows(group_id))
        assert json.dumps(snapshot(by_rows), sort_keys=True) == json.dumps(snapshot(by_events), sort_keys=True)
        assert by_rows.last_ts == by_events.last_ts and by_rows.version == by_events.version
        for tid, t in by_events.trials.items():
            assert by_rows.trials[tid].curves == t.curves and by_rows.trials[tid].offset == t.offset


def test_rejected_report_lines_are_counted_from_the_log(tmp_path):
    """Since 0.2.3 a report line that does not parse is a ``ReportsRejected`` event: the grid
    group's trials each printed one (``loss=1_000``), counted with its reason."""
    store = load(tmp_path, "0.2.3")
    grid = next(g for g, want in json.loads((HERE / "expected-0.2.3.json").read_text()).items()
                if want["name"] == "grid")
    state = GroupState.fold(store.read(grid, trusted=False))
    assert state.trials and all(t.rejected == 1 for t in state.trials.values())
    assert all("1_000" in t.rejected_examples[0] for t in state.trials.values())


def test_retried_trials_fold_from_the_log(tmp_path):
    """Since 0.2.4 a retry is a ``TrialRetried`` event: the grid group (``retry_on: [exit]``,
    ``max_retries: 1``) ran each failing trial twice, and only the second failure is final."""
    store = load(tmp_path, "0.2.4")
    grid = next(g for g, want in json.loads((HERE / "expected-0.2.4.json").read_text()).items()
                if want["name"] == "grid")
    state = GroupState.fold(store.read(grid, trusted=False))
    failing = [t for t in state.trials.values() if t.params["mode"] == "fail"]
    assert failing and all(t.retries == 1 and t.attempts == 2 and t.status == "failed" for t in failing)
    assert all("its 1 retry is spent" in t.reason for t in failing)
    assert all(t.retries == 0 for t in state.trials.values() if t.params["mode"] == "ok")
