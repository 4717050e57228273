"""docs/lifecycle.md "Guarantees": every promise names a test, and every test it names exists."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parents[1]
NAMED = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")


def _guarantees() -> list[str]:
    text = (ROOT / "docs" / "lifecycle.md").read_text()
    section = text.split("## Guarantees", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| guarantee")]


def test_every_guarantee_names_a_test():
    rows = _guarantees()
    assert len(rows) >= 5
    assert [r for r in rows if not NAMED.search(r)] == []


def test_every_named_test_exists():
    missing = []
    for row in _guarantees():
        for path, name in NAMED.findall(row):
            file = ROOT / path
            if not file.exists():
                missing.append(path)
            elif name and name not in {n.name for n in ast.walk(ast.parse(file.read_text()))
                                       if isinstance(n, ast.FunctionDef)}:
                missing.append(f"{path}::{name}")
    assert missing == []
