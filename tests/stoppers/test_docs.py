"""Every YAML example in docs/stopping.md is a valid spec fragment the stoppers accept."""

import re
from pathlib import Path

import pytest
import yaml

from hpo.engine.composition import build_stoppers
from hpo.contracts.registry import Registry
from hpo.spec import parse_spec

DOC = Path(__file__).resolve().parents[2] / "docs" / "stopping.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
BASE = {
    "matrix": {"lr": {"values": [0.1, 0.2]}},
    "metric": {"name": "accuracy", "optimization": "maximize"},
    "run": {"cmd": "python train.py"},
}


@pytest.fixture(scope="module")
def registry():
    return Registry()


def test_the_doc_has_an_example_for_every_builtin():
    kinds = {"early_stopping"} if any("early_stopping:" in b for b in BLOCKS) else set()
    for block in BLOCKS:
        kinds |= {entry["kind"] for entry in yaml.safe_load(block).get("stopping", [])}
    assert kinds >= {
        "early_stopping", "failures", "budget", "median", "truncation", "threshold", "asha"}


@pytest.mark.parametrize("block", BLOCKS, ids=[f"yaml-block-{i}" for i in range(len(BLOCKS))])
def test_example_builds(block, registry):
    spec = parse_spec({**BASE, **yaml.safe_load(block)}, source="docs/stopping.md")
    stoppers = build_stoppers(spec, registry)
    assert stoppers
