"""docs/search/async_halving.md and docs/search/bohb.md: each spec example loads, its `hpo plan`
output is what the command prints, and the error it quotes is the one a spec gets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from hpo.cli import cli
from hpo.errors import SpecError
from hpo.plugins.search.bohb import BOHBSearcher
from hpo.spec import parse_spec

DOCS = Path(__file__).parents[2] / "docs" / "search"
PAGES = {"async_halving": "async_halving.md", "bohb": "bohb.md"}


def blocks(page: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", (DOCS / page).read_text(encoding="utf-8"), flags=re.S)


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines()]


@pytest.mark.parametrize("algorithm", sorted(PAGES))
def test_the_plan_output_matches_the_command(tmp_path, algorithm):
    path = tmp_path / "group.yml"
    path.write_text(blocks(PAGES[algorithm], "yaml")[0])
    assert parse_spec(path.read_text()).search.algorithm == algorithm
    result = CliRunner().invoke(cli, ["plan", str(path)])
    assert result.exit_code == 0, result.output
    shown = blocks(PAGES[algorithm], "text")[0].split("\n", 1)[1]  # drop the "$ hpo plan" line
    assert lines(result.output) == lines(shown)


def test_async_halving_quotes_the_missing_budget_error():
    data = yaml.safe_load(blocks(PAGES["async_halving"], "yaml")[0])
    del data["settings"]["async_halving"]["max_resource"]
    with pytest.raises(SpecError) as err:
        parse_spec(data)
    quoted = re.search(r"without a budget,\n`(.*?)`", (DOCS / PAGES["async_halving"]).read_text(),
                       flags=re.S).group(1)
    assert " ".join(quoted.split()) in str(err.value)


def test_bohb_quotes_the_unbounded_parameter_error():
    data = yaml.safe_load(blocks(PAGES["bohb"], "yaml")[0])
    data["settings"]["matrix"]["learning_rate"] = {"normal": [0, 1]}
    with pytest.raises(SpecError) as err:
        BOHBSearcher(parse_spec(data), 0)
    quoted = re.search(r"gets\s+`(settings\.matrix\.learning_rate\.normal: .*?) \.\.\.`",
                       (DOCS / PAGES["bohb"]).read_text(), flags=re.S).group(1)
    assert " ".join(quoted.split()) in str(err.value)
