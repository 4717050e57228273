"""docs/architecture.md is the map a newcomer reads: every file and function it names exists,
the folders say their job, core/ stays blind to the built-in plugins, and the stable plugin API
paths it lists are re-exports that the project itself never imports."""

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
DOC = ROOT / "docs" / "architecture.md"
MAX_LINES = 400
MODULE_PATH = re.compile(r"^hpo(\.[a-z_][a-z0-9_]*)+$")

# `core/engine/loop.py`, `core/engine/loop.py:Engine.tick`, `plugins/runners/`
REFERENCE = re.compile(r"`((?:core|plugins|tests|benchmarks|examples|docs)/[\w./-]*)(?::([\w.]+))?`")
# a row of the stable plugin API table: | `hpo.search` | `hpo.contracts.searcher` | ...
STABLE_ROW = re.compile(r"^\| `(hpo\.\w+)` \| `(hpo\.[\w.]+)` \|", re.M)


def _references() -> list[tuple[str, str | None]]:
    return sorted(set(REFERENCE.findall(DOC.read_text())))


def _stable_paths() -> list[tuple[str, str]]:
    return STABLE_ROW.findall(DOC.read_text())


def _modules(top: str) -> list[Path]:
    return sorted(p for p in (ROOT / top).rglob("*.py") if "egg-info" not in str(p))


def _defines(path: Path, qualname: str) -> bool:
    """Whether ``path`` defines ``qualname`` (``func``, ``Class`` or ``Class.method``)."""
    body = ast.parse(path.read_text()).body
    for part in qualname.split("."):
        found = None
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == part:
                found = node
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == part for t in targets):
                    found = node
        if found is None:
            return False
        body = getattr(found, "body", [])
    return True


def test_the_map_names_files_and_functions():
    refs = _references()
    assert len(refs) > 40, "docs/architecture.md should name the files of every hop"
    missing = []
    for rel, name in refs:
        path = ROOT / rel
        if not path.exists():
            missing.append(rel)
        elif name and not _defines(path, name):
            missing.append(f"{rel}:{name}")
    assert not missing, f"docs/architecture.md names what does not exist: {missing}"


def test_the_map_names_every_folder_under_core():
    text = DOC.read_text()
    folders = sorted(p.parent.relative_to(ROOT).as_posix() + "/"
                     for p in (ROOT / "core").glob("*/__init__.py"))
    assert folders
    assert [f for f in folders if f"`{f}`" not in text] == []


@pytest.mark.parametrize("init", sorted((ROOT / "core").rglob("__init__.py")), ids=lambda p: p.parent.name)
def test_every_folder_under_core_says_its_job_in_one_line(init):
    doc = ast.get_docstring(ast.parse(init.read_text()))
    assert doc, f"{init.relative_to(ROOT)} has no docstring"
    assert len(doc.splitlines()[0]) > 20, f"{init.relative_to(ROOT)}: the first line should say the folder's job"


@pytest.mark.parametrize("top", ["core", "plugins"])
def test_no_module_is_over_400_lines(top):
    long = {p.relative_to(ROOT).as_posix(): n for p in _modules(top)
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def _imported_names(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_PATH.match(node.value):
            names.append(node.value)  # importlib.import_module("hpo....") and lazy-import maps
    return names


def test_core_never_imports_the_builtin_plugins():
    offenders = {p.relative_to(ROOT).as_posix(): n for p in _modules("core")
                 for n in _imported_names(p) if n == "hpo.plugins" or n.startswith("hpo.plugins.")}
    assert offenders == {}


def test_the_stable_plugin_api_is_listed_and_each_path_is_its_module():
    stable = _stable_paths()
    names = {old for old, _ in stable}
    assert {"hpo.search", "hpo.running", "hpo.stopping", "hpo.hookspecs", "hpo.logtail"} <= names
    for old, new in stable:
        assert importlib.import_module(old) is importlib.import_module(new), old
        shim = ROOT / "core" / (old.split(".", 1)[1] + ".py")
        assert shim.exists() and len(shim.read_text().splitlines()) <= 8, f"{old} should stay a re-export"


def test_nothing_inside_the_project_imports_the_stable_paths():
    stable = {old for old, _ in _stable_paths()}
    shims = {ROOT / "core" / (old.split(".", 1)[1] + ".py") for old in stable}
    files = [p for top in ("core", "plugins", "tests", "benchmarks") for p in _modules(top) if p not in shims and p != Path(__file__)]
    offenders = {p.relative_to(ROOT).as_posix(): n for p in files for n in _imported_names(p)
                 if n in stable or any(n.startswith(s + ".") for s in stable)}
    assert offenders == {}


def test_only_the_store_queries_the_events_table():
    sql = re.compile(r"\b(FROM|INTO|UPDATE|JOIN)\s+events\b", re.I)
    # the store, its hash chain's queries (split out for size) and the schema migrations
    store = {ROOT / "core" / "eventlog" / name for name in ("store.py", "store_chain.py", "migrations.py")}
    offenders = [p.relative_to(ROOT).as_posix() for top in ("core", "plugins") for p in _modules(top)
                 if p not in store and sql.search(p.read_text())]
    assert offenders == []


def _code_strings(path: Path) -> list[str]:
    """The string constants of a module's code, docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
            and isinstance(node.value, str) and id(node) not in docstrings]


def test_only_the_faults_module_knows_the_fault_points():
    """``HPO_FAULT`` is read, and the engine killed, in core/engine/faults.py alone; the engine
    only calls its points, and nothing outside the engine imports it."""
    faults = ROOT / "core" / "engine" / "faults.py"
    files = [p for top in ("core", "plugins") for p in _modules(top) if p != faults]
    reads = [p.relative_to(ROOT).as_posix() for p in files if any("HPO_FAULT" in s for s in _code_strings(p))]
    kills = [p.relative_to(ROOT).as_posix() for p in files if "SIGKILL" in p.read_text()
             and re.search(r"os\.kill\(\s*os\.getpid\(\)", p.read_text())]
    importers = [p.relative_to(ROOT).as_posix() for p in files if "hpo.engine.faults" in _imported_names(p)]
    assert reads == [] and kills == []
    assert importers and all(name.startswith("core/engine/") for name in importers), importers
