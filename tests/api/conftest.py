import os
import subprocess
import sys
from pathlib import Path

import pytest

RANDOM = {
    "settings": {
        "random_search": {"n_experiments": 5},
        "metric": {"name": "loss", "optimization": "minimize"},
        "matrix": {"x": {"uniform": [0, 1]}, "k": {"values": [1, 2]}},
    }
}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / ".hpo" / "hpo.db"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def hpo_cli(db: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "HPO_DB": str(db)}
    return subprocess.run([sys.executable, "-m", "hpo", *args], env=env, capture_output=True,
                          text=True, timeout=timeout, cwd=db.parent.parent)


def types_of(group) -> list[str]:
    return [s.type for s in group.store.read(group.id)]
