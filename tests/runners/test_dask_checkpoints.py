"""Checkpoints through Dask: the folder travels with the task and back in its result, so the
trial on the worker reads a copy (not the engine's folder) holding its parent's model, and the
engine's folder gets what the trial saved. A real LocalCluster with worker processes."""

from __future__ import annotations

import json
import sys

import pytest

from hpo.plugins.runners.dask_runner import DaskRunner
from hpo.runkit.checkpoints import CheckpointTooLarge

from ._sshd import required
from .conftest import drain, exits, make_launch

if not required("dask"):
    pytest.importorskip("distributed")

TRIAL = """
import json, os, sys
here, engine = os.environ["HPO_CHECKPOINT_DIR"], os.environ["ENGINE_CKPT"]
assert here != engine and sys.argv[1] == here, (here, engine, sys.argv)
model = os.path.join(here, "model.json")
state = json.load(open(model)) if os.path.exists(model) else {"steps": 0, "by": []}
start = state["steps"]
state["steps"], state["by"] = int(sys.argv[2]), state["by"] + [os.environ["HPO_TRIAL_ID"]]
os.makedirs(here, exist_ok=True)
json.dump(state, open(model, "w"))
print(f"@hpo loss=1 trained_from={start}")
"""


def test_a_child_continues_its_parents_checkpoint_carried_by_dask(tmp_path, dask_cluster, closing):
    (tmp_path / "t.py").write_text(TRIAL)
    ckpt = tmp_path / "trials" / "1" / "checkpoints"
    runner = DaskRunner(DaskRunner.parse_config({"scheduler": dask_cluster.scheduler_address}, "runner"))
    closing(runner)
    handles, ends = [], []
    for trial, steps in ((1, 3), (2, 9)):
        env = {"HPO_CHECKPOINT_DIR": str(ckpt), "ENGINE_CKPT": str(ckpt), "HPO_TRIAL_ID": str(trial)}
        launch = make_launch(tmp_path, f"{sys.executable} t.py {ckpt} {steps}", trial_id=trial, env=env)
        handles.append(runner.start(launch))
        msgs = drain(runner)
        [end] = exits(msgs)
        assert end.status == "succeeded", end.reason + end.output_tail
        ends.append((end, [m.metrics for m in msgs if hasattr(m, "metrics")]))
    assert json.loads((ckpt / "model.json").read_text()) == {"steps": 9, "by": ["1", "2"]}
    assert ends[0][1] == [{"loss": 1.0, "trained_from": 0.0}]
    assert ends[1][1] == [{"loss": 1.0, "trained_from": 3.0}]  # the parent's model reached the worker
    assert all(h["checkpoint_sent"]["bytes"] >= 1024 and h["checkpoint_sent"]["seconds"] >= 0 for h in handles)
    assert all(end.details["checkpoint_fetched"]["bytes"] > 0 for end, _ in ends)

    small = DaskRunner(DaskRunner.parse_config({"scheduler": dask_cluster.scheduler_address,
                                                "checkpoint_limit": 100}, "runner"))
    closing(small)
    launch = make_launch(tmp_path, "true", trial_id=3, env={"HPO_CHECKPOINT_DIR": str(ckpt)})
    with pytest.raises(CheckpointTooLarge, match="checkpoint_limit of 100 bytes"):
        small.start(launch)
