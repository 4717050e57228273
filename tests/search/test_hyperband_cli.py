"""``hpo plan``: the command the hyperband plugin adds to the CLI."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from hpo.plugins.search.hyperband import hpo_register_commands, plan, plan_json


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
  bo: {metric: {name: loss}}
  matrix:
    lr: {uniform: 0.001:0.01}
"""


@pytest.fixture
def cli():
    @click.group()
    def root():
        pass

    hpo_register_commands(cli=root)
    return root


@pytest.fixture
def spec_file(tmp_path):
    def write(text=HB % 3):
        path = tmp_path / "group.yml"
        path.write_text(text)
        return str(path)

    return write


def test_plan_json(cli, spec_file):
    result = CliRunner().invoke(cli, ["plan", spec_file(), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == plan_json(plan(81, 3))


def test_plan_table(cli, spec_file):
    result = CliRunner().invoke(cli, ["plan", spec_file()])
    assert result.exit_code == 0, result.output
    assert "num_steps" in result.output
    assert "5 brackets, 206 trials" in result.output
    assert "total num_steps: 1902" in result.output


def test_plan_refuses_other_algorithms(cli, spec_file):
    result = CliRunner().invoke(cli, ["plan", spec_file(BO)])
    assert result.exit_code == 2
    assert "hyperband" in result.output and "'bo'" in result.output


def test_plan_reports_spec_errors_with_exit_2(cli, spec_file):
    result = CliRunner().invoke(cli, ["plan", spec_file(HB % 1)])
    assert result.exit_code == 2
    assert "group.yml: settings.hyperband.eta: " in result.output
    result = CliRunner().invoke(cli, ["plan", spec_file((HB % 3).replace("settings:", "setings:"))])
    assert result.exit_code == 2
    assert "setings" in result.output
