"""The core is blind to the built-ins: a group runs, replays and is shown with every plugin
disabled except those its spec names (``HPO_LOAD_PLUGINS``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

HYPERBAND = """
name: only-named
settings:
  hyperband:
    max_iter: 9
    eta: 3
    resource: {name: epochs, type: int}
    resume: true
    metric: {name: loss, optimization: minimize}
  concurrency: 3
  matrix:
    lr: {loguniform: [-6, -1]}
    act: {values: [relu, tanh]}
early_stopping:
  - {metric: loss, value: -1, optimization: minimize}
stopping:
  - {kind: median, metric: loss, min_trials: 5}
run:
  cmd: echo "@hpo step={{ epochs }} loss={{ lr }}"; ls "$HPO_CHECKPOINT_DIR" > /dev/null 2>&1; true
"""
RANDOM = """
name: only-named
settings:
  random_search: {n_experiments: 4}
  metric: {name: loss, optimization: minimize}
  matrix:
    lr: {uniform: [0, 1]}
stopping:
  - {kind: budget, max_trials: 3}
run:
  cmd: echo "@hpo loss={{ lr }}"
"""


@pytest.mark.parametrize("spec, plugins, planned, trials", [
    (HYPERBAND, "hyperband,local,median,early_stopping", 22, range(11, 23)),  # median may cut rungs
    (RANDOM, "random,local,budget", 4, [3]),
])
def test_a_group_runs_with_only_the_plugins_its_spec_names(tmp_path, spec, plugins, planned, trials):
    (tmp_path / "spec.yaml").write_text(textwrap.dedent(spec))
    env = {**os.environ, "HPO_DB": str(tmp_path / "hpo.db"), "HPO_LOAD_PLUGINS": plugins}
    env.pop("HPO_DISABLE_PLUGINS", None)

    def hpo(*args):
        proc = subprocess.run([sys.executable, "-m", "hpo", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    loaded = {r["plugin"] for r in json.loads(hpo("plugins", "--json"))}
    assert loaded == set(plugins.split(","))  # nothing else is there to lean on
    assert json.loads(hpo("plan", "spec.yaml", "--json"))["planned"] == planned
    hpo("run", "spec.yaml", "--seed", "1", "--plain")
    status = json.loads(hpo("status", "only-named", "--json"))
    assert status["status"] == "succeeded" and status["trials"] in trials
    assert status["plugin_failures"] == []
    assert f"{status['trials']} suggestions re-derived, 0 differ" in hpo("replay", "only-named", "--check")
