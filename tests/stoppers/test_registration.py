from hpo.contracts.registry import Registry
from hpo.contracts.stopper import Stopper

EXPECTED = {"early_stopping", "failures", "budget", "median", "truncation", "threshold", "asha"}


def test_builtin_stoppers_are_registered_through_the_entry_point():
    registry = Registry()
    assert EXPECTED <= set(registry.names("stopper"))
    for name in EXPECTED:
        item = registry.get("stopper", name)
        assert issubclass(item.cls, Stopper) and item.cls.name == name
        assert item.plugin == "stoppers"
