"""docs/views.md and the CLI hold each other up: every command line in it names a real command
with real options, and every view command is documented."""

import re
import shlex
from pathlib import Path

import click
import pytest

from hpo.cli import cli

DOC = Path(__file__).parents[2] / "docs" / "views.md"
VIEW_COMMANDS = ("run", "resume", "watch", "list", "status", "trials", "logs", "compare", "importance", "plot", "report")


def command_lines() -> list[str]:
    return re.findall(r"^\$ (hpo .+)$", DOC.read_text(), re.M)


def test_the_doc_shows_many_examples():
    assert len(command_lines()) >= 10


@pytest.mark.parametrize("line", command_lines())
def test_every_example_uses_real_options(line):
    words = shlex.split(line)[1:]
    command = cli.get_command(click.Context(cli), words[0])
    assert command is not None, f"no command {words[0]!r}"
    known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
    for word in words[1:]:
        if word.startswith("-"):
            assert word.split("=")[0] in known, f"{words[0]} has no option {word}"


@pytest.mark.parametrize("name", VIEW_COMMANDS)
def test_every_view_command_has_a_section(name):
    assert re.search(rf"^##+ .*`hpo {name}\b", DOC.read_text(), re.M), name
