"""``hpo.testing``: the conformance kit for plugin authors (needs pytest).

Subclass the base classes in your plugin's tests and the contract the built-ins pass is checked
for your searcher, stopper or runner::

    from hpo.testing import SearcherConformance

    class TestMySearcher(SearcherConformance):
        searcher = MySearcher
        spec = {"search": {"algorithm": "mine", "n_experiments": 12},
                "metric": {"name": "loss", "optimization": "minimize"},
                "matrix": {"lr": {"loguniform": [-9, -2]}, "layers": {"values": [1, 2, 3]}}}

See ``docs/plugins/``.
"""

from hpo.testing.plugins import plugin_of, registered

__all__ = ["plugin_of", "registered"]
