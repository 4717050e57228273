"""Every `runner:` example in docs/runners.md is accepted by its runner (and connects nowhere)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from hpo.contracts.registry import default_registry

DOC = Path(__file__).parents[2] / "docs" / "runners.md"
EXAMPLES = [block for block in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S) if "runner:" in block]


def test_the_page_has_an_example_per_runner():
    kinds = {yaml.safe_load(block)["runner"]["kind"] for block in EXAMPLES}
    assert kinds == {"local", "ssh", "dask", "docker"}


@pytest.mark.parametrize("block", EXAMPLES, ids=lambda b: yaml.safe_load(b)["runner"]["kind"])
def test_each_example_validates(block):
    options = dict(yaml.safe_load(block)["runner"])
    kind = options.pop("kind")
    cls = default_registry().get("runner", kind).cls
    runner = cls(cls.parse_config(options, "runner"))
    assert runner.poll() == [] and runner.running() == []
    runner.close(stop_running=True)
