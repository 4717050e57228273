"""Every YAML example in docs/spec.md loads, and the doc covers every kind and section."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hpo.spec import parse_spec
from hpo.spec.matrix import KINDS
from hpo.spec.parse import SECTION_IGNORED, TOP_IGNORED, TOP_KEYS
from hpo.spec.sections import RUN_IGNORED, RUN_KEYS

DOC = (Path(__file__).parents[2] / "docs" / "spec.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC, re.S)


def test_doc_has_examples():
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i + 1}" for i in range(len(BLOCKS))])
def test_yaml_example_loads(block):
    if not re.search(r"^run:", block, re.M):
        block += "\nrun:\n  cmd: 'true'\n"
    spec = parse_spec(block, source="docs/spec.md")
    assert spec.matrix


def test_documented_expansions_are_right():
    block = next(b for b in BLOCKS if "geomspace: {start: 1," in b)
    spec = parse_spec(block + "\nrun: {cmd: 'true'}\n")
    for line in block.splitlines():
        match = re.match(r"\s+(\w+):\s*$", line)
        if match:
            name = match.group(1)
        comment = re.search(r"#\s*(\[.*\])", line)
        if comment:
            assert str(spec.matrix[name].values()).replace("'", "") == comment.group(1)


def test_every_kind_and_key_is_documented():
    for kind in KINDS:
        assert f"`{kind}`" in DOC, kind
    for key in (
        list(TOP_KEYS)
        + list(TOP_IGNORED)
        + list(SECTION_IGNORED)
        + list(RUN_KEYS)
        + list(RUN_IGNORED)
    ):
        assert f"`{key}`" in DOC, key
