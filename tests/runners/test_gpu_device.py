"""GPU slots on a machine with a real NVIDIA GPU (skipped elsewhere, e.g. in CI).

Detection through the real ``nvidia-smi``, and the CUDA driver itself (``libcuda``, through
ctypes, no framework needed) confirming that a trial sees exactly the devices it holds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hpo.engine.loop import Engine
from hpo.runkit.gpus import detect_gpus, query_nvidia_smi
from hpo.engine.composition import create_group
from hpo.plugins.runners.local import LocalConfig, LocalRunner
from hpo.contracts.runner import Reported
from hpo.spec import parse_spec
from hpo.eventlog.store import EventStore

from .conftest import drain, exits, make_launch


def _real_gpus() -> list[str]:
    try:
        return query_nvidia_smi() or []
    except Exception:
        return []


GPUS = _real_gpus()
pytestmark = pytest.mark.skipif(not GPUS, reason="no NVIDIA GPU here (nvidia-smi lists none)")

# Counts the devices CUDA shows this process: respects CUDA_VISIBLE_DEVICES, like any framework.
COUNT = (
    "import ctypes; c = ctypes.CDLL('libcuda.so.1'); n = ctypes.c_int(0); "
    "rc = c.cuInit(0); rc = rc or c.cuDeviceGetCount(ctypes.byref(n)); "
    "print('@hpo devices=%d rc=%d' % (n.value if rc == 0 else 0, rc))"
)


@pytest.fixture(autouse=True)
def no_hpo_gpus(monkeypatch):
    monkeypatch.delenv("HPO_GPUS", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def test_nvidia_smi_detection_matches_its_device_list():
    listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=True).stdout
    assert len(detect_gpus()) == len([line for line in listed.splitlines() if line.startswith("GPU ")])


def test_a_trial_sees_exactly_the_gpus_it_holds(tmp_path):
    r = LocalRunner(LocalConfig())
    cmd = f'{sys.executable} -c "{COUNT}"; echo "[$CUDA_VISIBLE_DEVICES]"'
    with_gpu = make_launch(tmp_path, cmd, trial_id=1, gpus=1)
    r.start(with_gpu)
    assert not r.can_start(make_launch(tmp_path, "true", trial_id=3, gpus=len(GPUS)))
    without = make_launch(tmp_path, cmd, trial_id=2, gpus=0)
    r.start(without)
    msgs = drain(r, until=lambda m: len(exits(m)) == 2)
    seen = {m.trial_id: m.metrics for m in msgs if isinstance(m, Reported)}
    assert seen[1] == {"devices": 1.0, "rc": 0.0}
    assert seen[2]["devices"] == 0.0  # CUDA_VISIBLE_DEVICES="" hides every GPU
    out1 = (with_gpu.trial_dir / "stdout.log").read_text()
    assert f"[{GPUS[0]}]" in out1


def test_a_group_never_puts_two_trials_on_one_gpu(tmp_path):
    n = len(GPUS)
    spec = {
        "settings": {"concurrency": n + 2, "matrix": {"x": {"values": list(range(n + 2))}}},
        "run": {"cmd": f'{sys.executable} -c "{COUNT}"; echo "$CUDA_VISIBLE_DEVICES $(date +%s.%N)" > gpu-{{{{ x }}}}; '
                       'sleep 0.5; date +%s.%N >> gpu-{{ x }}', "gpus": 1},
    }
    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    text = json.dumps(spec)
    gid = create_group(store, parse_spec(text), seed=0, source=text, source_path=str(tmp_path / "s.yaml"))
    state = Engine(store, gid, poll_interval=0.01).run()
    store.close()
    assert all(t.status == "succeeded" and t.metrics["devices"] == 1.0 for t in state.trials.values())
    spans = []
    for x in range(n + 2):
        first, end = (tmp_path / f"gpu-{x}").read_text().split("\n")[:2]
        device, start = first.split()
        spans.append((device, float(start), float(end)))
    for i, (d1, s1, e1) in enumerate(spans):
        for d2, s2, e2 in spans[i + 1:]:
            assert d1 != d2 or e1 <= s2 or e2 <= s1, "two running trials shared a GPU"
    assert os.environ.get("CUDA_VISIBLE_DEVICES") is None
