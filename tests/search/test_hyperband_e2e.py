"""An end-to-end hyperband group (max_iter 27, eta 3) with a real script, through the CLI:
its export matches the planned table, and promoted trials continue from their parent's
checkpoint folder (`resume: true`)."""

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from hpo.plugins.search.hyperband.brackets import plan, plan_json

TRIAL = r"""
x=$1; epochs=$2
ckpt="$HPO_CHECKPOINT_DIR"; mkdir -p "$ckpt"
resumed=0
if [ -f "$ckpt/trained" ]; then resumed=1; fi
echo "$epochs" >> "$ckpt/trained"
loss=$(awk -v x="$x" -v e="$epochs" 'BEGIN { printf "%.6f", (x - 0.3) * (x - 0.3) + 1.0 / e }')
echo "@hpo step=$epochs loss=$loss resumed=$resumed"
"""

SPEC = """
name: hb
settings:
  hyperband:
    max_iter: 27
    eta: 3
    resource: {name: epochs, type: int}
    metric: {name: loss, optimization: minimize}
    resume: true
  concurrency: 3
  matrix:
    x: {uniform: [0, 1]}
run:
  cmd: sh trial.sh {{ x }} {{ epochs }}
"""


def hpo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HPO_DB": str(tmp_path / ".hpo" / "hpo.db")}
    return subprocess.run([sys.executable, "-m", "hpo", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_hyperband_27_3_runs_to_completion_and_matches_its_plan(tmp_path):
    (tmp_path / "trial.sh").write_text(TRIAL)
    (tmp_path / "hb.yaml").write_text(SPEC)
    run = hpo(tmp_path, "run", "hb.yaml", "--seed", "5")
    assert run.returncode == 0, run.stdout + run.stderr
    trials = json.loads(hpo(tmp_path, "export", "hb", "--format", "json").stdout)
    planned = plan_json(plan(27, 3, "int"))
    expected = Counter(
        (b["bracket"], i, r["resource"]) for b in planned["brackets"]
        for i, r in enumerate(b["rungs"]) for _ in range(r["n"])
    )
    got = Counter((t["bracket"], t["rung"], t["resource"]) for t in trials)
    assert got == expected and len(trials) == sum(expected.values()) == 69
    by_id = {t["trial"]: t for t in trials}
    for t in trials:
        assert t["status"] == "succeeded" and t["params"]["epochs"] == t["resource"]
        if t["rung"] == 0:
            assert t["parent"] is None and t["metrics"]["resumed"] == 0
        else:  # promoted: same config as its parent, one rung up, continuing its checkpoint
            parent = by_id[t["parent"]]
            assert parent["bracket"] == t["bracket"] and parent["rung"] == t["rung"] - 1
            assert parent["params"]["x"] == t["params"]["x"]
            assert t["metrics"]["resumed"] == 1
    # a promoted trial kept the best of its rung: no config promoted over a better unpromoted one
    for (bracket, rung), _ in Counter((t["bracket"], t["rung"]) for t in trials).items():
        promoted = {t["parent"] for t in trials if t["bracket"] == bracket and t["rung"] == rung + 1}
        if not promoted:
            continue
        rung_trials = [t for t in trials if t["bracket"] == bracket and t["rung"] == rung]
        worst_kept = max(by_id[p]["metrics"]["loss"] for p in promoted)
        assert all(t["metrics"]["loss"] >= worst_kept for t in rung_trials if t["trial"] not in promoted)
    assert hpo(tmp_path, "replay", "hb", "--check").returncode == 0
