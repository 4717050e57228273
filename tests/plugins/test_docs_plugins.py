"""docs/plugins/ and docs/api.md: every hook is documented and tested; every example runs.

Examples are the code blocks whose first line is ``# file: NAME``: each page's blocks are
written to a folder, its plugin module is registered in-process, its spec is run with the real
``hpo`` command line, and its tests (written against ``hpo.testing``) are run with pytest.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import hpo
from hpo.contracts import hookspecs
from hpo.cli import cli
from hpo.contracts.registry import default_plugin_manager
from hpo.testing import registered

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "plugins"
FILE_BLOCK = re.compile(r"```(?:python|yaml|toml)\n# file: (\S+)\n(.*?)```", re.S)
HOOKS = sorted(name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
               if name.startswith("hpo_"))


def example_files(page: Path, folder: Path) -> dict[str, Path]:
    """Write the page's ``# file:`` blocks into ``folder``; name -> path."""
    written = {}
    for name, body in FILE_BLOCK.findall(page.read_text(encoding="utf-8")):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
        written[name] = path
    assert written, f"{page.name} has no `# file:` example"
    return written


def load(path: Path, monkeypatch):
    """Import a plugin module from a file (and make it importable by name for its tests)."""
    monkeypatch.syspath_prepend(str(path.parent))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, path.stem, module)
    spec.loader.exec_module(module)
    return module


def hpo_cli(folder: Path, monkeypatch, *args: str):
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(cli, [*args], catch_exceptions=False, env={"HPO_DB": str(folder / "hpo.db")})
    return result


def run_its_tests(folder: Path, test_file: Path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(folder / "src")])}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "--rootdir", str(folder), str(test_file)],
                            cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result.stdout


# -- one test per hook: its page's complete example ---------------------------------------------


def test_hpo_register_searchers_example(tmp_path, monkeypatch):
    files = example_files(DOCS / "searchers.md", tmp_path)
    with registered(load(files["hpo_shuffled.py"], monkeypatch)):
        run = hpo_cli(tmp_path, monkeypatch, "run", "spec.yaml", "--seed", "3", "--plain")
        assert run.exit_code == 0, run.output
        group = hpo.load_group("shuffled", db=tmp_path / "hpo.db")
        combos = [(t.params["lr"], t.params["layers"]) for t in group.trials()]
        assert len(combos) == len(set(combos)) == 5 and group.status == "succeeded"
        check = hpo_cli(tmp_path, monkeypatch, "replay", "shuffled", "--check")
        assert check.exit_code == 0 and "5 suggestions re-derived, 0 differ" in check.output
    assert " passed" in run_its_tests(tmp_path, files["test_shuffled.py"])


def test_hpo_register_runners_example(tmp_path, monkeypatch):
    files = example_files(DOCS / "runners.md", tmp_path)
    with registered(load(files["hpo_plain.py"], monkeypatch)):
        run = hpo_cli(tmp_path, monkeypatch, "run", "spec.yaml", "--plain")
        assert run.exit_code == 0, run.output
        group = hpo.load_group("plain", db=tmp_path / "hpo.db")
        assert [(t.status, t.metrics) for t in group.trials()] == [
            ("succeeded", {"score": x}) for x in (1.0, 2.0, 3.0)]
        launched = [s.event for s in group.store.read(group.id) if s.type == "TrialLaunched"]
        assert {e.runner for e in launched} == {"plain"}
        assert all({"pid", "start", "boot"} <= set(e.handle) for e in launched)  # who each process is
    out = run_its_tests(tmp_path, files["test_plain.py"])
    assert " passed" in out and "skipped" not in out  # reattach, zombie and reused pid included


def test_hpo_register_stoppers_example(tmp_path, monkeypatch):
    files = example_files(DOCS / "stoppers.md", tmp_path)
    with registered(load(files["hpo_plateau.py"], monkeypatch)):
        run = hpo_cli(tmp_path, monkeypatch, "run", "spec.yaml", "--plain")
        assert run.exit_code == 0, run.output
        trials = hpo.load_group("plateau", db=tmp_path / "hpo.db").state.trials
        assert trials[1].status == "succeeded" and trials[1].last_step == 6
        assert trials[2].status == "stopped" and trials[2].stop_decision["policy"] == "plateau"
    assert " passed" in run_its_tests(tmp_path, files["test_plateau.py"])


def test_hpo_register_commands_example(tmp_path, monkeypatch):
    files = example_files(DOCS / "commands.md", tmp_path)
    db = tmp_path / "hpo.db"
    group = hpo.create_group({"matrix": {"x": {"values": [1, 2]}}, "metric": {"name": "acc", "optimization": "maximize"}},
                             db=db, name="best-of")
    while (trial := group.ask()) is not None:
        group.tell(trial, trial.params["x"] / 10)
    root = click.Group(commands=dict(cli.commands))  # hpo's commands, plus the plugin's
    with registered(load(files["hpo_best.py"], monkeypatch)) as registry:
        registry.pm.hook.hpo_register_commands(cli=root)
    result = CliRunner().invoke(root, ["best", "best-of", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"trial": 2, "value": 0.2, "params": {"x": 2}, "metrics": {"acc": 0.2}}
    missing = CliRunner().invoke(root, ["best", "nope", "--db", str(db)])
    assert missing.exit_code == 1 and "no group with id or name 'nope'" in missing.output


def test_hpo_event_recorded_example(tmp_path, monkeypatch):
    files = example_files(DOCS / "observers.md", tmp_path)
    monkeypatch.setenv("HPO_FINISHED_LOG", str(tmp_path / "finished.jsonl"))
    with registered(load(files["hpo_finished.py"], monkeypatch)):
        run = hpo_cli(tmp_path, monkeypatch, "run", "spec.yaml", "--plain")
    assert run.exit_code == 0, run.output
    lines = [json.loads(line) for line in (tmp_path / "finished.jsonl").read_text().splitlines()]
    assert [(x["trial"], x["status"]) for x in lines] == [(1, "succeeded"), (2, "failed"), (3, "succeeded")]
    assert lines[1]["reason"] == "exited with code 1"


def test_a_failing_observer_never_breaks_the_engine(tmp_path, monkeypatch, caplog):
    from types import SimpleNamespace

    from hpo.contracts.hookspecs import hookimpl

    def explode(group_id, seq, event):
        raise RuntimeError("observer bug")

    files = example_files(DOCS / "observers.md", tmp_path)
    with registered(SimpleNamespace(__name__="exploding", hpo_event_recorded=hookimpl(explode))):
        run = hpo_cli(tmp_path, monkeypatch, "run", str(files["spec.yaml"]), "--plain")
    assert run.exit_code == 0, run.output
    assert "observer exploding failed and was skipped: observer bug" in caplog.text


# -- the tutorial, as the reader builds it --------------------------------------------------------


def test_the_tutorial_plugin_works(tmp_path, monkeypatch):
    files = example_files(DOCS / "tutorial.md", tmp_path)
    assert {"pyproject.toml", "src/hpo_mutate/__init__.py", "tests/test_mutate.py", "spec.yaml",
            "train.py"} <= set(files)
    toml = __import__("tomllib").loads(files["pyproject.toml"].read_text())
    assert toml["project"]["entry-points"]["hpo"] == {"mutate": "hpo_mutate"}
    with registered(load(files["src/hpo_mutate/__init__.py"], monkeypatch)):
        run = hpo_cli(tmp_path, monkeypatch, "run", "spec.yaml", "--seed", "1", "--plain")
        assert run.exit_code == 0, run.output
        assert "reason: ran 16 trials" in run.output
        check = hpo_cli(tmp_path, monkeypatch, "replay", "mutate", "--check")
        assert "16 suggestions re-derived, 0 differ" in check.output
        group = hpo.load_group("mutate", db=tmp_path / "hpo.db")
        moves = [s.event.meta["move"] for s in group.store.read(group.id) if s.type == "Suggested"]
        assert moves.count("mutate") >= 6
    assert "11 passed" in run_its_tests(tmp_path, files["tests/test_mutate.py"])


# -- docs/api.md ------------------------------------------------------------------------------------


@pytest.mark.parametrize("example", ["example_asktell.py", "example_optimize.py"])
def test_the_api_examples_run(tmp_path, example):
    files = example_files(ROOT / "docs" / "api.md", tmp_path)
    env = {**os.environ, "HPO_DB": str(tmp_path / "hpo.db")}
    result = subprocess.run([sys.executable, str(files[example])], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("succeeded ")


# -- meta: the contract is documented and tested ---------------------------------------------------


def test_every_hook_has_a_docs_section():
    text = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.glob("*.md"))
    for hook in HOOKS:
        assert re.search(rf"^## {hook}$", text, re.M), f"docs/plugins/ has no `## {hook}` section"


def test_every_hook_has_a_test():
    names = set()
    for path in Path(__file__).parent.glob("test_*.py"):
        names |= {n.name for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef)}
    for hook in HOOKS:
        assert any(n.startswith(f"test_{hook}") for n in names), f"no test_{hook}... in tests/plugins/"


def test_every_page_is_linked_from_the_index():
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    for page in DOCS.glob("*.md"):
        if page.name != "index.md":
            assert f"({page.name})" in index, f"docs/plugins/index.md does not link {page.name}"


def test_the_hook_docstrings_say_when_they_are_called():
    for hook in HOOKS:
        doc = getattr(hookspecs, hook).__doc__ or ""
        assert "Called" in doc and "Returns nothing" in doc and ":param" in doc, hook


def test_the_plugin_manager_is_the_one_the_cli_uses():
    assert default_plugin_manager().get_plugin("grid") is not None
