"""The README's claims hold: every `hpo` command line it shows parses (its options exist), the
groups it names are made by the examples, and the commands it says print JSON do."""

import re
import shlex
from pathlib import Path

import click
import pytest
import yaml

from hpo.cli import cli

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLE_GROUPS = {yaml.safe_load(p.read_text())["name"] for p in (ROOT / "examples").glob("*.yaml")}
GROUP_FIRST = {"status", "export", "events", "resume", "watch", "trials", "logs", "importance", "plot",
               "report", "restart", "fork", "replay", "stop"}


def command_lines() -> list[str]:
    blocks = re.findall(r"```(?:bash|console)\n(.*?)```", README, re.S)
    return [line.split(" #")[0].strip().removeprefix("$ ") for block in blocks
            for line in block.splitlines() if line.strip().removeprefix("$ ").startswith("hpo ")]


@pytest.mark.parametrize("line", command_lines())
def test_every_command_line_parses_and_names_an_example_group(line, monkeypatch):
    monkeypatch.chdir(ROOT)
    args = shlex.split(line)[1:]
    ctx = click.Context(cli)
    command = cli.get_command(ctx, args[0])
    assert command is not None, f"no command {args[0]!r}"
    sub = command.make_context(args[0], args[1:])  # raises on an option that does not exist
    if args[0] in GROUP_FIRST:
        assert sub.params["group"] in EXAMPLE_GROUPS, line
    if args[0] == "compare":
        assert set(sub.params["groups"]) <= EXAMPLE_GROUPS, line


def test_the_commands_said_to_print_json_have_it():
    said = re.search(r"`--json` for scripts \(([^)]*)\)", README)
    assert said, "the README says which commands print JSON"
    names = re.findall(r"`hpo\s+(\w+)`", said.group(1))
    assert len(names) >= 7
    for name in names:
        command = cli.get_command(click.Context(cli), name)
        assert any("--json" in p.opts for p in command.params), name
    export = cli.get_command(click.Context(cli), "export")
    assert not any("--json" in p.opts for p in export.params) and "`hpo export --format" in README


def test_the_readme_says_how_long_the_tests_take():
    assert re.search(r"python -m pytest.*\n(.*\n)*.*about \d+ minutes", README)
