"""End-to-end groups of the multi-fidelity searchers, through the CLI with a real trial script:
promoted trials continue their parent's checkpoint (``resume: true``: the script reads what its
parent saved and trains only the extra steps), ``hpo plan`` shows the rungs, and ``hpo replay
--check`` re-derives every suggestion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hpo.api.entry import load_group

TRIAL = r"""
import json, os, sys
x, steps = float(sys.argv[1]), int(sys.argv[2])
ckpt = os.environ["HPO_CHECKPOINT_DIR"]
os.makedirs(ckpt, exist_ok=True)
state = os.path.join(ckpt, "state.json")
start = 0
if os.path.exists(state):
    with open(state) as f:
        saved = json.load(f)
    assert saved["x"] == x, (saved, x)  # a continued trial has its parent's configuration
    start = saved["steps"]
with open(state, "w") as f:
    json.dump({"x": x, "steps": steps}, f)
loss = (x - 0.3) ** 2 + 1.0 / steps
print(f"@hpo step={steps} loss={loss:.6f} resumed_from={start} trained={steps - start}")
"""

SPECS = {
    "async_halving": """
  async_halving:
    max_iter: 9
    eta: 3
    resource: {name: steps, type: int}
    metric: {name: loss, optimization: minimize}
    resume: true
    max_trials: 20
""",
    "bohb": """
  bohb:
    max_iter: 9
    eta: 3
    resource: {name: steps, type: int}
    metric: {name: loss, optimization: minimize}
    resume: true
    iterations: 2
    min_points_in_model: 2
""",
}


def hpo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HPO_DB": str(tmp_path / ".hpo" / "hpo.db")}
    return subprocess.run([sys.executable, "-m", "hpo", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def write_group(tmp_path: Path, algorithm: str) -> None:
    (tmp_path / "trial.py").write_text(TRIAL)
    (tmp_path / "group.yaml").write_text(
        f"name: mf\nsettings:\n  concurrency: 3{SPECS[algorithm]}"
        "  matrix:\n    x: {uniform: [0, 1]}\n"
        f"run:\n  cmd: {sys.executable} trial.py {{{{ x }}}} {{{{ steps }}}}\n"
    )


@pytest.mark.parametrize("algorithm", sorted(SPECS))
def test_a_group_runs_resumes_checkpoints_and_replays(tmp_path, algorithm):
    write_group(tmp_path, algorithm)
    planned = hpo(tmp_path, "plan", "group.yaml", "--json")
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    assert plan["algorithm"] == algorithm and plan["resource"] == "steps"
    assert {r["resource"] for b in plan["brackets"] for r in b["rungs"]} == {1, 3, 9}

    run = hpo(tmp_path, "run", "group.yaml", "--seed", "4")
    assert run.returncode == 0, run.stdout + run.stderr
    trials = json.loads(hpo(tmp_path, "export", "mf", "--format", "json").stdout)
    by_id = {t["trial"]: t for t in trials}
    promoted = [t for t in trials if t["parent"] is not None]
    assert promoted and len(trials) == plan["planned"]
    for t in trials:
        assert t["status"] == "succeeded" and t["params"]["steps"] == t["resource"]
        if t["parent"] is None:
            assert t["rung"] == 0 and t["metrics"]["resumed_from"] == 0
            continue
        parent = by_id[t["parent"]]
        assert parent["rung"] == t["rung"] - 1 and parent["params"]["x"] == t["params"]["x"]
        # the trial found its parent's checkpoint and trained only the extra steps
        assert t["metrics"]["resumed_from"] == parent["resource"]
        assert t["metrics"]["trained"] == t["resource"] - parent["resource"]
    assert {t["rung"] for t in trials} == {0, 1, 2}
    if algorithm == "bohb":  # the second run of the brackets draws from the density model
        assert any(t["params"]["steps"] == 9 for t in promoted)
        state = load_group("mf", db=tmp_path / ".hpo" / "hpo.db").state
        models = [t.meta["model"] for t in state.trials.values() if t.meta["rung"] == 0]
        assert any(m is not None for m in models) and None in models
    check = hpo(tmp_path, "replay", "mf", "--check")
    assert check.returncode == 0, check.stdout + check.stderr
