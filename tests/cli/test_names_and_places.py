"""Names and places: ``hpo run`` refuses a name already used (unless asked for a new group), and
the database is --db, else $HPO_DB, else the nearest .hpo/hpo.db up from here, else
./.hpo/hpo.db; every "not found" names the absolute path it looked at."""

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from hpo.cli import cli
from hpo.eventlog.location import find_db

SPEC = """
name: sweep
settings:
  metric: {name: loss, optimization: minimize}
  matrix:
    x: {values: [1]}
run:
  cmd: echo '@hpo loss=0.5'
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.delenv("HPO_DB", raising=False)
    (tmp_path / "sweep.yaml").write_text(SPEC)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def hpo(*args):
    return CliRunner().invoke(cli, list(args))


def groups_in(db: Path) -> list[str]:
    return [r[0] for r in sqlite3.connect(db).execute(
        "SELECT json_extract(payload, '$.name') FROM events WHERE type = 'GroupCreated' ORDER BY seq")]


def test_a_second_run_of_the_same_name_is_refused_with_the_ways_out(project):
    first = hpo("run", "sweep.yaml", "--plain")
    assert first.exit_code == 0, first.output
    db = project / ".hpo" / "hpo.db"
    gid = first.stdout.split("(")[1].split(")")[0]
    again = hpo("run", "sweep.yaml", "--plain")
    assert again.exit_code == 1
    assert f"a group named 'sweep' already exists in {db} ({gid})" in again.stderr
    assert f"hpo resume {gid}" in again.stderr and "--name NAME" in again.stderr and "'sweep-2'" in again.stderr
    assert groups_in(db) == ["sweep"]  # nothing was written
    assert hpo("run", "sweep.yaml", "--plain", "--new").exit_code == 0
    assert hpo("run", "sweep.yaml", "--plain", "--new").exit_code == 0
    assert hpo("run", "sweep.yaml", "--plain", "--name", "other").exit_code == 0
    assert groups_in(db) == ["sweep", "sweep-2", "sweep-3", "other"]


def test_commands_find_the_nearest_database_up_from_a_subfolder(project, monkeypatch):
    assert hpo("run", "sweep.yaml", "--plain").exit_code == 0
    deeper = project / "src" / "models"
    deeper.mkdir(parents=True)
    monkeypatch.chdir(deeper)
    assert find_db() == project / ".hpo" / "hpo.db"
    status = hpo("status", "sweep")
    assert status.exit_code == 0 and "sweep" in status.stdout
    assert not (deeper / ".hpo").exists()  # nothing created down here


def test_not_found_names_the_absolute_path_it_looked_at(tmp_path, monkeypatch):
    monkeypatch.delenv("HPO_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    result = hpo("status", "sweep")
    assert result.exit_code == 1
    expected = tmp_path / ".hpo" / "hpo.db"
    assert f"no group with id or name 'sweep' in {expected}, which does not exist" in result.stderr
    assert "--db PATH" in result.stderr
    listed = hpo("list")
    assert f"no groups in {expected} yet" in listed.stdout
    relative = hpo("status", "sweep", "--db", "elsewhere.db")
    assert f"in {tmp_path / 'elsewhere.db'}" in relative.stderr  # --db is made absolute too


def test_db_option_beats_the_environment_which_beats_discovery(project, monkeypatch, tmp_path_factory):
    assert hpo("run", "sweep.yaml", "--plain").exit_code == 0  # ./.hpo/hpo.db
    other = tmp_path_factory.mktemp("other") / "env.db"
    monkeypatch.setenv("HPO_DB", str(other))
    assert find_db() == other
    assert hpo("run", "sweep.yaml", "--plain").exit_code == 0  # a fresh log: the name is free there
    assert groups_in(other) == ["sweep"]
    explicit = project / "explicit.db"
    assert hpo("run", "sweep.yaml", "--plain", "--db", str(explicit)).exit_code == 0
    assert groups_in(explicit) == ["sweep"] and groups_in(project / ".hpo" / "hpo.db") == ["sweep"]
