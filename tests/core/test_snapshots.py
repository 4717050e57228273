"""Snapshots are a cache: loading through one equals a full fold; dropping them loses nothing."""

import pickle

from hpo import events as ev
from hpo import snapshots
from hpo.state import GroupState
from hpo.store import EventStore


def fill(store, gid, trials, reports):
    store.append(gid, [ev.GroupCreated(group_id=gid, name=gid, spec={"metric": {"name": "loss", "optimization": "minimize"}}, seed=0)], 0)
    batch = []
    for t in range(1, trials + 1):
        batch.append(ev.Suggested(trial_id=t, params={"x": t}, searcher="grid", searcher_version="1", seed=0, seen_version=1))
        batch.append(ev.TrialLaunched(trial_id=t, attempt=1, runner="local", trial_dir="/x"))
        batch += [ev.MetricReported(trial_id=t, attempt=1, step=r, metrics={"loss": t / r}) for r in range(1, reports + 1)]
        batch.append(ev.TrialFinished(trial_id=t, attempt=1, status="succeeded", exit_code=0))
    store.append(gid, batch, 1)


def test_loading_through_a_snapshot_equals_a_full_fold(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshots, "EVERY", 50)
    store = EventStore(tmp_path / "hpo.db")
    fill(store, "g", 20, 5)
    first = snapshots.load_state(store, "g")  # folds everything, writes a snapshot
    row = store.conn.execute("SELECT version FROM snapshots WHERE group_id='g'").fetchone()
    assert row == (first.version,)
    store.append("g", [ev.GroupFinished(status="succeeded", reason="done")], first.version)
    second = snapshots.load_state(store, "g")  # snapshot + one event
    full = GroupState.fold(store.read("g"))
    assert second == full and second.status == "succeeded"


def test_as_of_points_before_the_snapshot_fold_from_scratch(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshots, "EVERY", 10)
    store = EventStore(tmp_path / "hpo.db")
    fill(store, "g", 5, 3)
    snapshots.load_state(store, "g")
    past = snapshots.load_state(store, "g", until_seq=8)
    assert past == GroupState.fold(store.read("g", until_seq=8)) and past.last_seq == 8


def test_a_stale_or_corrupt_snapshot_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshots, "EVERY", 10)
    store = EventStore(tmp_path / "hpo.db")
    fill(store, "g", 5, 3)
    snapshots.load_state(store, "g")
    store.conn.execute("UPDATE snapshots SET state = ?", (b"garbage",))
    assert snapshots.load_state(store, "g") == GroupState.fold(store.read("g"))
    store.conn.execute("UPDATE snapshots SET format = 'other-version', state = ?",
                       (pickle.dumps(GroupState()),))
    assert snapshots.load_state(store, "g") == GroupState.fold(store.read("g"))


def test_dropping_the_snapshots_table_loses_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshots, "EVERY", 10)
    store = EventStore(tmp_path / "hpo.db")
    fill(store, "g", 5, 3)
    before = snapshots.load_state(store, "g")
    store.conn.execute("DROP TABLE snapshots")
    assert snapshots.load_state(store, "g") == before
