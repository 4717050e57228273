"""A third-party plugin, installed from its own distribution (examples/hpo-sobol), end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import hpo
from hpo.errors import SpecError

from .conftest import require

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hpo-sobol"


@pytest.fixture(autouse=True)
def installed():
    require("hpo_sobol", "hpo-sobol", "pip install ./examples/hpo-sobol; CI installs it")


def cli(tmp_path, *args, timeout=120):
    env = {**os.environ, "HPO_DB": str(tmp_path / "hpo.db")}
    return subprocess.run([sys.executable, "-m", "hpo", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_hpo_plugins_lists_it_with_its_distribution(tmp_path):
    rows = json.loads(cli(tmp_path, "plugins", "--json").stdout)
    row = next(r for r in rows if r["name"] == "sobol")
    assert row == {"kind": "searcher", "name": "sobol", "plugin": "sobol", "distribution": "hpo-sobol",
                   "version": "0.1.0", "class": "hpo_sobol.SobolSearcher", "status": "loaded",
                   "error": None}


def test_a_group_runs_with_it_and_replays(tmp_path):
    (tmp_path / "spec.yaml").write_text(textwrap.dedent("""
        name: qmc
        search: {algorithm: sobol, n_experiments: 8}
        concurrency: 2
        metric: {name: loss, optimization: minimize}
        matrix:
          lr: {loguniform: [-9, -2]}
          batch: {values: [32, 64, 128]}
        run:
          cmd: echo "@hpo loss={{ lr }}"
        """))
    run = cli(tmp_path, "run", "spec.yaml", "--seed", "0", "--plain")
    assert run.returncode == 0, run.stdout + run.stderr
    group = hpo.load_group("qmc", db=tmp_path / "hpo.db")
    assert group.status == "succeeded" and len(group.trials()) == 8
    assert group.state.reason == "tried the first 8 points of the Sobol sequence"
    check = cli(tmp_path, "replay", "qmc", "--check")
    assert check.returncode == 0 and "8 suggestions re-derived, 0 differ" in check.stdout


def test_its_spec_errors_name_it():
    with pytest.raises(SpecError) as err:
        hpo.create_group({"search": {"algorithm": "sobol"}, "matrix": {"x": {"uniform": [0, 1]}}})
    assert "n_experiments: this field is required (the searcher 'sobol' from hpo-sobol 0.1.0)" in str(err.value)


def test_its_own_test_suite_passes():
    """The example's tests, written against hpo.testing as any plugin author would."""
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE)],
                            capture_output=True, text=True, timeout=300, cwd=EXAMPLE)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
