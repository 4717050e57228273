"""GPU slots: detection (explicit list, HPO_GPUS, a fake nvidia-smi), the pool, and the engine
keeping trials that need GPUs waiting until enough are free."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from hpo.engine.loop import Engine
from hpo.runkit.gpus import GpuError, GpuPool, detect_gpus
from hpo.engine.composition import create_group
from hpo.spec import parse_spec
from hpo.eventlog.store import EventStore


def fake_nvidia_smi(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tool = folder / "nvidia-smi"
    tool.write_text(f"#!/bin/sh\necho \"$@\" > {folder}/args\n{body}\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return folder


def test_an_explicit_list_wins(monkeypatch):
    monkeypatch.setenv("HPO_GPUS", "5")
    assert detect_gpus([0, "1"]) == ["0", "1"]


def test_hpo_gpus_wins_over_nvidia_smi(tmp_path, monkeypatch):
    fake = fake_nvidia_smi(tmp_path, "printf '0\\n1\\n'")
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    monkeypatch.setenv("HPO_GPUS", "2, 3")
    assert detect_gpus() == ["2", "3"]
    monkeypatch.setenv("HPO_GPUS", "")
    assert detect_gpus() == []
    assert not (fake / "args").exists()


def test_nvidia_smi_is_asked_for_indices(tmp_path, monkeypatch):
    fake = fake_nvidia_smi(tmp_path, "printf '0\\n1\\n2\\n'")
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    monkeypatch.delenv("HPO_GPUS", raising=False)
    assert detect_gpus() == ["0", "1", "2"]
    assert (fake / "args").read_text().split() == ["--query-gpu=index", "--format=csv,noheader"]


def test_a_failing_nvidia_smi_says_what_to_do(tmp_path, monkeypatch):
    fake = fake_nvidia_smi(tmp_path, "echo 'NVIDIA-SMI has failed' >&2; exit 9")
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    monkeypatch.delenv("HPO_GPUS", raising=False)
    with pytest.raises(GpuError, match="exited with 9: NVIDIA-SMI has failed.*HPO_GPUS"):
        detect_gpus()


def test_no_gpus_without_nvidia_smi(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("HPO_GPUS", raising=False)
    assert detect_gpus() == []


def test_the_pool_never_hands_out_a_device_twice():
    pool = GpuPool(["0", "1", "2"])
    assert pool.acquire("a", 2) == ("0", "1")
    assert not pool.fits(2) and pool.fits(1) and pool.possible(3) and not pool.possible(4)
    with pytest.raises(GpuError, match="only 1 are free"):
        pool.acquire("b", 2)
    with pytest.raises(GpuError, match="has 3"):
        pool.acquire("b", 4)
    assert pool.acquire("b", 1) == ("2",)
    pool.release("a")
    assert pool.free() == ["0", "1"]
    with pytest.raises(GpuError, match="already held"):
        pool.claim("c", ["2"])
    pool.claim("c", ["0"])
    assert pool.free() == ["1"]
    with pytest.raises(GpuError, match="twice"):
        GpuPool(["0", "0"])


def test_the_engine_keeps_gpu_trials_waiting_for_free_devices(tmp_path):
    """4 trials of 1 GPU each at concurrency 4 on a 2-GPU machine: never more than 2 at once,
    never one device in two running trials, every trial runs."""
    spec = {
        "settings": {"concurrency": 4, "matrix": {"x": {"values": [1, 2, 3, 4, 5]}}},
        "run": {"cmd": 'echo "$CUDA_VISIBLE_DEVICES $(date +%s.%N)" > gpu-{{ x }}; sleep 0.3; '
                       'echo "$(date +%s.%N)" >> gpu-{{ x }}; echo "@hpo x={{ x }}"',
                "gpus": 1},
        "runner": {"kind": "local", "gpus": ["0", "1"]},
    }
    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    text = json.dumps(spec)
    gid = create_group(store, parse_spec(text), seed=0, source=text, source_path=str(tmp_path / "s.yaml"))
    state = Engine(store, gid, poll_interval=0.01).run()
    store.close()
    assert state.status == "succeeded" and all(t.status == "succeeded" for t in state.trials.values())
    spans = []
    for x in range(1, 6):
        first, end = (tmp_path / f"gpu-{x}").read_text().split("\n")[:2]
        device, start = first.split()
        spans.append((device, float(start), float(end)))
    assert {d for d, _, _ in spans} == {"0", "1"}
    for i, (d1, s1, e1) in enumerate(spans):
        for d2, s2, e2 in spans[i + 1:]:
            if d1 == d2:
                assert e1 <= s2 or e2 <= s1, "two running trials shared a GPU"
    assert max(sum(1 for _, s, e in spans if s <= t < e) for _, t, _ in spans) <= 2
    assert all(t.handle["gpus"] in (["0"], ["1"]) for t in state.trials.values())


def test_a_trial_needing_more_gpus_than_the_machine_has_fails_with_the_reason(tmp_path):
    spec = {
        "settings": {"concurrency": 2, "matrix": {"x": {"values": [1, 2]}}},
        "run": {"cmd": "true", "gpus": 3},
        "runner": {"kind": "local", "gpus": ["0", "1"]},
    }
    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    text = json.dumps(spec)
    gid = create_group(store, parse_spec(text), seed=0, source=text, source_path=str(tmp_path / "s.yaml"))
    state = Engine(store, gid, poll_interval=0.01).run()
    store.close()
    assert state.status == "failed"
    for t in state.trials.values():
        assert t.status == "failed" and "needs 3 GPU(s) but this machine has 2" in t.reason


def test_a_trial_needing_more_gpus_than_any_machine_has_is_not_retried(tmp_path):
    """It would never fit, on a retry no more than on its first attempt: one attempt, failed."""
    spec = {
        "settings": {"concurrency": 1, "matrix": {"x": {"values": [1]}}},
        "run": {"cmd": "true", "gpus": 3, "max_retries": 2},
        "runner": {"kind": "local", "gpus": ["0", "1"]},
    }
    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    text = json.dumps(spec)
    gid = create_group(store, parse_spec(text), seed=0, source=text, source_path=str(tmp_path / "s.yaml"))
    state = Engine(store, gid, poll_interval=0.01).run()
    store.close()
    (trial,) = state.trials.values()
    assert trial.status == "failed" and trial.attempts == 1, trial.reason
    assert "needs 3 GPU(s) but this machine has 2" in trial.reason and "retries" not in trial.reason

