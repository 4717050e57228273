import pytest

from hpo.contracts.registry import Registry, get_plugin_manager
from hpo.contracts.stopper import Stopper

EXPECTED = {"early_stopping", "failures", "budget", "median", "truncation", "threshold", "asha"}


def test_builtin_stoppers_are_registered_through_the_entry_point():
    registry = Registry()
    assert EXPECTED <= set(registry.names("stopper"))
    for name in EXPECTED:
        item = registry.get("stopper", name)
        assert issubclass(item.cls, Stopper) and item.cls.name == name
        assert item.plugin == name  # each through its own entry point


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_builtin_stopper_can_be_disabled_alone(monkeypatch, name):
    monkeypatch.setenv("HPO_DISABLE_PLUGINS", name)
    assert set(Registry(get_plugin_manager()).names("stopper")) & EXPECTED == EXPECTED - {name}
