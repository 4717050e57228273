"""``hpo plan``: the command the hyperband plugin adds to the CLI."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import click
import pytest
from click.testing import CliRunner

import hpo.spec
from hpo.errors import SpecError
from hpo.plugins.search.hyperband import hpo_register_commands, plan, plan_json
from hpo.spec.metric import MetricSpec


@dataclass
class Search:
    algorithm: str
    options: dict[str, Any]
    path: str


@dataclass
class Spec:
    matrix: dict
    search: Search
    metric: MetricSpec | None
    seed: int | None = None


HB = {"max_iter": 81, "eta": 3, "resource": {"name": "num_steps", "type": "int"}}


@pytest.fixture
def cli():
    @click.group()
    def root():
        pass

    hpo_register_commands(cli=root)
    return root


@pytest.fixture
def spec_file(tmp_path, monkeypatch):
    """A spec file whose loading is stubbed: the spec loader is another module's job."""
    loaded: dict[str, Any] = {}

    def load_spec(path):
        if "error" in loaded:
            raise loaded["error"]
        return loaded["spec"]

    monkeypatch.setattr(hpo.spec, "load_spec", load_spec, raising=False)
    path = tmp_path / "group.yml"
    path.write_text("settings: {}\n")

    def use(algorithm="hyperband", options=HB, error=None):
        loaded["spec"] = Spec(
            matrix={},
            search=Search(algorithm, dict(options), f"settings.{algorithm}"),
            metric=MetricSpec(name="loss", optimization="minimize"),
        )
        if error:
            loaded["error"] = error
        return str(path)

    return use


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
    result = CliRunner().invoke(cli, ["plan", spec_file(algorithm="bo", options={})])
    assert result.exit_code == 2
    assert "hyperband" in result.output and "'bo'" in result.output


def test_plan_reports_spec_errors_with_exit_2(cli, spec_file):
    result = CliRunner().invoke(cli, ["plan", spec_file(options={**HB, "eta": 1})])
    assert result.exit_code == 2
    assert "settings.hyperband.eta" in result.output
    error = SpecError("unknown key 'setings'", "setings", "group.yml")
    result = CliRunner().invoke(cli, ["plan", spec_file(error=error)])
    assert result.exit_code == 2
    assert "group.yml: setings: unknown key" in result.output
