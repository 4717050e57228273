"""``hpo.testing``: the conformance kit for plugin authors (it needs pytest).

Subclass a base class in your plugin's tests, and your searcher, stopper or runner is checked
against the contract the built-in ones pass::

    from hpo.testing import SearcherConformance

    class TestMySearcher(SearcherConformance):
        searcher = MySearcher
        spec = {"search": {"algorithm": "mine", "n_experiments": 12},
                "metric": {"name": "loss", "optimization": "minimize"},
                "matrix": {"lr": {"loguniform": [-9, -2]}, "layers": {"values": [1, 2, 3]}}}
        budget = 12

Also here: :func:`registered` and :func:`plugin_of` register plugins in-process for a test, and
the history builders and the engine-free :func:`simulate`. See ``docs/plugins/``.
"""

from hpo.testing.histories import history, inside, normalised, record, score, simulate
from hpo.testing.plugins import plugin_of, registered
from hpo.testing.runner import BEHAVIOURS, RunnerConformance
from hpo.testing.searcher import SearcherConformance
from hpo.testing.stopper import StopperConformance, standard_views

__all__ = [
    "BEHAVIOURS",
    "RunnerConformance",
    "SearcherConformance",
    "StopperConformance",
    "history",
    "inside",
    "normalised",
    "plugin_of",
    "record",
    "registered",
    "score",
    "simulate",
    "standard_views",
]
