import importlib.util
import os

import pytest


def require(module: str, name: str, install: str, module_level: bool = False):
    """Skip when ``module`` is not installed — or fail where HPO_TEST_REQUIRE names ``name`` (CI)."""
    if importlib.util.find_spec(module) is not None:
        return
    why = f"{name} is not installed ({install})"
    if name in os.environ.get("HPO_TEST_REQUIRE", "").split(","):
        pytest.fail(f"{why}, but HPO_TEST_REQUIRE says it must be tested here")
    pytest.skip(why, allow_module_level=module_level)
