"""Snapshots are a cache: loading through one equals a full fold; dropping them loses nothing."""

import pickle

from hpo.eventlog import events as ev
from hpo.eventlog import snapshots
from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore


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


def test_a_view_can_skip_the_curves_and_never_writes_such_a_state_back(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshots, "EVERY", 10)
    store = EventStore(tmp_path / "hpo.db")
    fill(store, "g", 5, 3)
    snapshots.load_state(store, "g")  # writes the snapshot
    written = store.conn.execute("SELECT version FROM snapshots").fetchone()
    more = [ev.MetricReported(trial_id=5, attempt=1, step=4, metrics={"loss": 0.5}),
            ev.GroupFinished(status="succeeded", reason="done")]
    store.append("g", more * 1, store.version("g"))
    light = snapshots.load_state(store, "g", curves=False)
    full = GroupState.fold(store.read("g"))
    assert light.curves_partial and not full.curves_partial
    # everything but the curves is the full fold's; the curves hold only what came after
    assert light.trials[5].metrics == full.trials[5].metrics and light.best().trial_id == full.best().trial_id
    assert light.trials[5].curves == {"loss": [(4, 0.5)]} and light.trials[1].curves == {}
    assert len(full.trials[5].curves["loss"]) == 4
    monkeypatch.setattr(snapshots, "EVERY", 1)
    assert snapshots.load_state(store, "g", curves=False).curves_partial
    snapshots.write_snapshot(store, light)
    assert store.conn.execute("SELECT version FROM snapshots").fetchone() == written  # not replaced
    assert snapshots.load_state(store, "g") == full  # and the full load still has every point


def test_a_snapshot_without_its_curves_is_a_miss(tmp_path, monkeypatch):
    monkeypatch.setattr(snapshots, "EVERY", 10)
    store = EventStore(tmp_path / "hpo.db")
    fill(store, "g", 5, 3)
    snapshots.load_state(store, "g")
    store.conn.execute("UPDATE snapshots SET curves = NULL")
    assert snapshots.read_snapshot(store, "g") is None
    assert snapshots.load_state(store, "g") == GroupState.fold(store.read("g"))


def test_a_read_only_view_brings_an_older_log_s_cache_up_to_date(tmp_path, monkeypatch):
    """A log from before the curves column: the view's short write connection migrates it."""
    from hpo.views.source import ReadOnlyStore

    monkeypatch.setattr(snapshots, "EVERY", 10)
    store = EventStore(tmp_path / "hpo.db")
    fill(store, "g", 5, 3)
    store.conn.execute("DROP TABLE snapshots")
    store.conn.execute('CREATE TABLE "snapshots" ("group_id" TEXT PRIMARY KEY, "version" INTEGER NOT NULL,'
                       ' "format" TEXT NOT NULL, "state" BLOB NOT NULL)')
    store.conn.execute("DELETE FROM _hpo_migrations WHERE name = '003_snapshot_curves'")
    store.close()
    with ReadOnlyStore(tmp_path / "hpo.db") as ro:
        first = snapshots.load_state(ro, "g", curves=False)  # full fold, then the snapshot
        assert snapshots.read_snapshot(ro, "g") is not None
        assert snapshots.load_state(ro, "g") == first == GroupState.fold(ro.read("g"))
