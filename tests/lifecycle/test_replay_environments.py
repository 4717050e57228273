"""`hpo replay --check` across environments: a committed log whose suggestions differ from
today's by float noise replays with exit 0 and says so, naming the versions that changed; a real
divergence still exits 1, naming the key that differs."""

import json
from pathlib import Path

import pytest

from hpo.contracts.registry import default_registry
from hpo.engine.compare import differences
from hpo.engine.environment import changes, environment
from hpo.engine.lifecycle import replay, replay_check
from hpo.eventlog import chain
from hpo.eventlog.store import EventStore
from hpo.spec import GroupSpec

from .conftest import run_hpo

LOG = Path(__file__).parent / "logs" / "float-noise.jsonl"


def load(tmp_path, edit=None):
    """The committed log in a fresh database, chained as it was written; ``edit`` may change a
    payload first (the chain is then recomputed, as a writer of that log would have)."""
    rows = [json.loads(line) for line in LOG.read_text().splitlines()]
    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    prev = chain.GENESIS
    for r in rows:
        if edit is not None:
            r["payload"] = edit(r)
            r["hash"] = chain.link(prev, r["version"], r["type"], r["schema"], r["ts"], r["payload"]).hex()
            prev = bytes.fromhex(r["hash"])
        store.conn.execute(
            "INSERT INTO events (seq, group_id, version, type, schema, payload, ts, writer, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (r["seq"], r["group_id"], r["version"], r["type"], r["schema"], r["payload"], r["ts"],
             r["writer"], bytes.fromhex(r["hash"])))
    return store, rows[0]["group_id"]


def test_float_noise_is_reported_apart_and_exits_0(tmp_path):
    store, gid = load(tmp_path)
    assert chain.verify(store, gid).ok
    found = replay(store, gid)
    assert found.checked == 8 and found.mismatches == [] and len(found.noise) == 4
    assert {m.trial_id for m in found.noise} == {2, 4, 6, 8}
    assert all(d.startswith(("params.x:", "params.lr:")) for m in found.noise for d in m.differences)
    assert replay_check(store, gid) == (8, [])  # what the conformance kit and the API tests use
    logged = json.loads(next(line for line in LOG.read_text().splitlines() if "EngineStarted" in line))
    spec = GroupSpec.from_json(store.read(gid)[0].event.spec)
    expected = changes(json.loads(logged["payload"])["environment"], environment(spec, default_registry()))
    assert found.changes == expected
    proc = run_hpo(tmp_path, "replay", "noisy", "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    said = " ".join(proc.stdout.split())
    assert "8 suggestions re-derived, 0 differ; 4 differ by float noise (within a relative 1e-09)" in said
    for change in expected:
        assert change in said
    assert "seq" in said and "float noise: params.x: logged" in said
    assert "[dim]" not in said and "[/]" not in said  # the markup styles, it is not printed
    out = json.loads(run_hpo(tmp_path, "replay", "noisy", "--check", "--json").stdout)
    assert len(out["check"]["float_noise"]) == 4 and out["check"]["mismatches"] == []


def test_a_real_divergence_still_exits_1_and_names_the_key(tmp_path):
    def move_trial_3(r):
        data = json.loads(r["payload"])
        if r["type"] == "Suggested" and data["trial_id"] == 3:
            data["params"]["layers"] = 9 if data["params"]["layers"] != 9 else 1
            data["params"]["x"] = data["params"]["x"] + 1e-6
        return json.dumps(data, separators=(",", ":"))

    store, gid = load(tmp_path, edit=move_trial_3)
    assert chain.verify(store, gid).ok  # a consistent log, not a tampered one
    found = replay(store, gid)
    assert [m.trial_id for m in found.mismatches] == [3] and len(found.noise) == 4
    assert [d.split(":")[0] for d in found.mismatches[0].differences] == ["params.x", "params.layers"]
    proc = run_hpo(tmp_path, "replay", "noisy", "--check")
    assert proc.returncode == 1
    said = " ".join(proc.stdout.split())
    assert "trial 3 differs: params.x: logged" in said and "params.layers: logged" in said
    assert "{'params'" not in said  # the keys that differ, not two whole dicts


@pytest.mark.parametrize("logged, replayed, real, noise", [
    ({"a": 0.7197802129208964}, {"a": 0.7197802129208971}, [], ["a"]),
    ({"a": 0.5}, {"a": 0.5000001}, ["a"], []),
    ({"a": [1.0, 2.0]}, {"a": [1.0, 2.0 + 1e-15]}, [], ["a[1]"]),
    ({"a": 1e-13}, {"a": 2e-13}, [], ["a"]),  # near zero: the absolute tolerance
    ({"a": "relu"}, {"a": "tanh"}, ["a"], []),
    ({"a": 1}, {"a": 1, "b": 2}, ["b"], []),
    ({"a": float("nan")}, {"a": float("nan")}, [], []),
    ({"a": True}, {"a": 1}, ["a"], []),
])
def test_differences_name_each_key_and_tell_noise_apart(logged, replayed, real, noise):
    found = differences(logged, replayed)
    assert [d.split(":")[0] for d in found.real] == real
    assert [d.split(":")[0] for d in found.noise] == noise
