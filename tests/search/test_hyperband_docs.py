"""docs/search/hyperband.md: its spec loads and its `hpo plan` output is what the command prints."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from hpo.cli import cli
from hpo.plugins.search.hyperband import HyperbandSearcher
from hpo.spec import parse_spec

DOC = (Path(__file__).parents[2] / "docs" / "search" / "hyperband.md").read_text(encoding="utf-8")


def blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", DOC, flags=re.S)


def test_the_spec_example_loads_and_plans_206_trials():
    spec = parse_spec(blocks("yaml")[0], source="docs/search/hyperband.md")
    searcher = HyperbandSearcher(spec, seed=0)
    assert searcher.planned_trials() == 206


def test_the_plan_output_matches_the_command(tmp_path):
    path = tmp_path / "group.yml"
    path.write_text(blocks("yaml")[0])
    result = CliRunner().invoke(cli, ["plan", str(path)])
    assert result.exit_code == 0, result.output
    shown = blocks("text")[0].split("\n", 1)[1]  # drop the "$ hpo plan group.yml" line

    def lines(text):
        return [line.rstrip() for line in text.strip("\n").splitlines()]

    assert lines(result.output) == lines(shown)
