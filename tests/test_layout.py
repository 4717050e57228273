"""The folders map to import names through setuptools package-dir; keep the list in sync."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _packages_on_disk() -> set[str]:
    found = set()
    for top, name in (("core", "hpo"), ("plugins", "hpo.plugins")):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top)
            found.add(".".join([name, *rel.parts]) if rel.parts else name)
    return found


def test_every_package_folder_is_listed_in_the_build_config():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {"hpo": "core", "hpo.plugins": "plugins"}
    assert set(config["packages"]) == _packages_on_disk()


def test_no_module_shadows_the_plugins_package():
    assert not (ROOT / "core" / "plugins.py").exists()
    assert not (ROOT / "core" / "plugins").exists()


def test_entry_points_name_importable_modules():
    import importlib

    eps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["hpo"]
    for name, target in eps.items():
        module = importlib.import_module(target)
        assert any(hasattr(module, h) for h in dir(module) if h.startswith("hpo_")), name
