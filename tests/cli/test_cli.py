"""The command line as a user runs it: a real `hpo` process, a real database file."""

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).parent
SPEC_MALFORMED = HERE.parent / "spec" / "malformed"
PLUGIN_MALFORMED = {
    "grid_with_distribution.yaml": "settings.matrix.lr.uniform",
    "hyperband_eta_one.yaml": "settings.hyperband.eta",
    "bo_ucb_without_kappa.yaml": "settings.bo.utility_function.kappa",
    "unknown_runner.yaml": "kubernetes-magic",
    "unknown_stopper.yaml": "mediam",
    "random_continuous_without_budget.yaml": "settings.random_search.n_experiments",
    # booleans are not numbers, in any plugin's options (pydantic alone reads true as 1)
    "grid_n_experiments_boolean.yaml": "settings.grid_search.n_experiments: expected a number, got a boolean (true)",
    "stopper_option_boolean.yaml": "stopping[0].min_trials: expected a number, got a boolean (true)",
    "bo_nested_option_boolean.yaml": "settings.bo.utility_function.n_iter: expected a number, got a boolean (false)",
}


def hpo(*args, cwd, db, check=False, timeout=120):
    env = {**os.environ, "HPO_DB": str(db)}
    proc = subprocess.run(
        [sys.executable, "-c", "from hpo.cli import main; main()", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(proc.stdout + proc.stderr)
    return proc


def events_in(db: Path) -> int:
    if not db.exists():
        return 0
    return sqlite3.connect(db).execute("SELECT COUNT(*) FROM events").fetchone()[0]


def malformed_files():
    files = [(p, None) for p in sorted(SPEC_MALFORMED.glob("*.y*ml"))]
    files += [(HERE / "malformed" / name, path) for name, path in PLUGIN_MALFORMED.items()]
    return files


def test_malformed_corpus_is_large_enough():
    assert len(malformed_files()) >= 25


@pytest.mark.parametrize("path,expected", malformed_files(), ids=lambda v: getattr(v, "name", ""))
def test_malformed_spec_exits_2_with_a_clear_error_and_writes_nothing(tmp_path, path, expected):
    from click.testing import CliRunner

    from hpo.cli import cli

    db = tmp_path / "hpo.db"
    for command in (["validate", str(path)], ["run", str(path), "--db", str(db)]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 2, result.output
        assert "error:" in result.stderr and result.exception is None or isinstance(result.exception, SystemExit)
        assert path.name in result.stderr  # the file is named
        if expected:
            assert expected in result.stderr
    assert events_in(db) == 0


def test_malformed_spec_through_a_real_process(tmp_path):
    path = HERE / "malformed" / "grid_with_distribution.yaml"
    db = tmp_path / "hpo.db"
    proc = hpo("run", str(path), cwd=tmp_path, db=db)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "settings.matrix.lr.uniform" in proc.stderr and path.name in proc.stderr
    assert events_in(db) == 0


SEED_GRID = textwrap.dedent(
    """
    settings:
      grid_search:
        n_experiments: 10
      concurrency: 2
      matrix:
        learning_rate:
          linspace: 0.001:0.1:5
        dropout:
          values: [0.25, 0.3]
        activation:
          values: [relu, sigmoid]
    run:
      cmd: {python} train.py
    """
)
TRAIN = (
    "import hpo\n"
    "p = hpo.params()\n"
    "hpo.report(step=1, accuracy=p['learning_rate'] + p['dropout'])\n"
)


def test_run_then_export_the_seed_grid(tmp_path):
    (tmp_path / "train.py").write_text(TRAIN)
    (tmp_path / "grid.yaml").write_text(SEED_GRID.format(python=sys.executable))
    db = tmp_path / "db" / "hpo.db"
    proc = hpo("run", "grid.yaml", "--name", "seed-grid", "--seed", "0", cwd=tmp_path, db=db, check=True)
    assert "succeeded" in proc.stdout
    out = json.loads(hpo("export", "seed-grid", "--format", "json", cwd=tmp_path, db=db, check=True).stdout)
    assert [r["trial"] for r in out] == list(range(1, 11))
    grid = [(lr, d, a) for lr in (0.001, 0.02575, 0.0505, 0.07525, 0.1)
            for d in (0.25, 0.3) for a in ("relu", "sigmoid")][:10]
    got = [(round(r["params"]["learning_rate"], 6), r["params"]["dropout"], r["params"]["activation"])
           for r in out]
    assert got == grid
    for r in out:
        assert r["status"] == "succeeded" and r["exit_code"] == 0 and r["attempts"] == 1
        assert r["metrics"]["accuracy"] == pytest.approx(r["params"]["learning_rate"] + r["params"]["dropout"])
        assert r["started_at"] and r["finished_at"]
    counts = dict(sqlite3.connect(db).execute("SELECT type, COUNT(*) FROM events GROUP BY type").fetchall())
    assert counts["GroupCreated"] == 1 and counts["Suggested"] == 10 and counts["MetricReported"] == 10
    csv_text = hpo("export", "seed-grid", "--format", "csv", cwd=tmp_path, db=db, check=True).stdout
    assert csv_text.splitlines()[0].startswith("trial,status")
    assert len(csv_text.splitlines()) == 11


def test_status_list_events_and_plugins(tmp_path):
    (tmp_path / "train.py").write_text(TRAIN)
    (tmp_path / "grid.yaml").write_text(SEED_GRID.format(python=sys.executable))
    db = tmp_path / "hpo.db"
    hpo("run", "grid.yaml", "--name", "g", cwd=tmp_path, db=db, check=True)
    status = json.loads(hpo("status", "g", "--json", cwd=tmp_path, db=db, check=True).stdout)
    assert status["status"] == "succeeded" and status["counts"] == {"succeeded": 10}
    listed = json.loads(hpo("list", "--json", cwd=tmp_path, db=db, check=True).stdout)
    assert [g["name"] for g in listed] == ["g"]
    lines = hpo("events", "g", "--json", cwd=tmp_path, db=db, check=True).stdout.splitlines()
    assert json.loads(lines[0])["type"] == "GroupCreated"
    assert json.loads(lines[-1])["type"] == "GroupFinished"
    plugins = json.loads(hpo("plugins", "--json", cwd=tmp_path, db=db, check=True).stdout)
    names = {(p["kind"], p["name"]) for p in plugins}
    assert {("searcher", "grid"), ("searcher", "random"), ("runner", "local")} <= names
    assert all(p["distribution"] == "hpo-groups" for p in plugins if p["name"] in ("grid", "local"))


def test_validate_prints_space_and_json(tmp_path):
    (tmp_path / "grid.yaml").write_text(SEED_GRID.format(python=sys.executable))
    text = hpo("validate", "grid.yaml", cwd=tmp_path, db=tmp_path / "x.db", check=True).stdout
    assert "grid" in text and "20" in text and "0.02575" in text
    data = json.loads(hpo("validate", "grid.yaml", "--json", cwd=tmp_path, db=tmp_path / "x.db", check=True).stdout)
    assert data["matrix"]["learning_rate"]["values"] == pytest.approx([0.001, 0.02575, 0.0505, 0.07525, 0.1])
    assert not (tmp_path / "x.db").exists()


def test_unknown_group_is_a_clear_error(tmp_path):
    proc = hpo("status", "nope", cwd=tmp_path, db=tmp_path / "hpo.db")
    assert proc.returncode == 1 and "no group" in proc.stderr and "Traceback" not in proc.stderr


def test_a_negative_seed_on_the_command_line_is_refused_before_anything_is_written(tmp_path):
    """`--seed -1` was accepted and made a group whose first suggestion failed (the searcher's
    generator takes no negative seed); a spec's seed is checked the same way."""
    db = tmp_path / "hpo.db"
    proc = hpo("run", str(HERE.parent.parent / "examples" / "quickstart.yaml"), "--seed", "-1",
               cwd=tmp_path, db=db)
    assert proc.returncode == 2 and "--seed" in proc.stderr and "x>=0" in proc.stderr
    assert events_in(db) == 0
