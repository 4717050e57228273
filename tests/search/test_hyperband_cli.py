"""``hpo plan``: what the spec's searcher plans (``Searcher.plan()``), hyperband's brackets included."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from hpo.cli import cli
from hpo.plugins.search.hyperband import plan, plan_json


HB = """
run: {cmd: "train --steps {{ num_steps }}"}
settings:
  concurrency: 2
  hyperband:
    max_iter: 81
    eta: %s
    resource: {name: num_steps, type: int}
    metric: {name: loss, optimization: minimize}
    resume: False
  matrix:
    learning_rate: {uniform: 0.001:0.01}
"""
BO = """
run: {cmd: train}
settings:
  bo: {metric: {name: loss}, n_initial_trials: 3, n_iterations: 9}
  matrix:
    lr: {uniform: 0.001:0.01}
"""


@pytest.fixture
def spec_file(tmp_path):
    def write(text=HB % 3):
        path = tmp_path / "group.yml"
        path.write_text(text)
        return str(path)

    return write


def test_plan_json(spec_file):
    result = CliRunner().invoke(cli, ["plan", spec_file(), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    expected = plan_json(plan(81, 3))
    assert data["brackets"] == expected["brackets"]
    assert data["total_resource"] == expected["total_resource"] == 1902
    assert (data["algorithm"], data["planned"], data["resource"]) == ("hyperband", 206, "num_steps")
    assert data["note"] == "max_iter=81, eta=3"


def test_plan_table(spec_file):
    result = CliRunner().invoke(cli, ["plan", spec_file()])
    assert result.exit_code == 0, result.output
    assert "hyperband plan: max_iter=81, eta=3, resource=num_steps" in result.output
    assert "5 brackets, 206 trials" in result.output
    assert "total num_steps: 1902" in result.output


def test_any_algorithm_shows_its_plan(spec_file):
    result = CliRunner().invoke(cli, ["plan", spec_file(BO)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "bo plans 12 trials"
    data = json.loads(CliRunner().invoke(cli, ["plan", spec_file(BO), "--json"]).output)
    assert data == {"algorithm": "bo", "planned": 12, "brackets": [], "resource": None, "note": "",
                    "total_resource": None, "continued": False}


def test_with_resume_a_promoted_rung_uses_only_what_it_adds(spec_file):
    """``resume: true``: a promoted trial continues its parent's checkpoint, so the plan charges
    each rung its resource minus the rung below's, not the whole of it."""
    path = spec_file((HB % 3).replace("resume: False", "resume: True"))
    data = json.loads(CliRunner().invoke(cli, ["plan", path, "--json"]).output)
    assert data["continued"] is True
    b4 = next(b for b in data["brackets"] if b["bracket"] == 4)
    assert [(r["n"], r["resource"]) for r in b4["rungs"]] == [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)]
    # 81*1 + 27*(3-1) + 9*(9-3) + 3*(27-9) + 1*(81-27), against 405 charged in full
    table = CliRunner().invoke(cli, ["plan", path]).output
    used = [line.split("│")[-2].strip() for line in table.splitlines() if line.count("│") == 7][:5]
    assert used == ["81", "54", "54", "54", "54"]
    assert data["total_resource"] < 1902
    assert "promoted trials continue their parent's checkpoint" in table


def test_plan_reports_spec_errors_with_exit_2(spec_file):
    result = CliRunner().invoke(cli, ["plan", spec_file(HB % 1)])
    assert result.exit_code == 2
    assert "group.yml: settings.hyperband.eta: " in result.output
    result = CliRunner().invoke(cli, ["plan", spec_file((HB % 3).replace("settings:", "setings:"))])
    assert result.exit_code == 2
    assert "setings" in result.output
