"""A plugin that mutates what it is given (a searcher's history, a stopper's view) changes
nothing the engine holds: the trials run, and are shown, with the params the log records."""

from __future__ import annotations

from hpo.contracts.searcher import Exhausted, Searcher, Suggestion
from hpo.contracts.stopper import Stopper
from hpo.engine.composition import create_group
from hpo.engine.loop import Engine
from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore
from hpo.spec import parse_spec
from hpo.testing import plugin_of, registered


class Scribbler(Searcher):
    """Suggests x=1, 2, 3 and overwrites every trial it is shown."""

    name = "scribbler"

    def suggest(self, history):
        for record in history.trials:
            record.params["x"] = 3
            record.meta["forged"] = True
        if len(history) >= 3:
            return Exhausted("three trials")
        return Suggestion({"x": len(history) + 1}, {"n": len(history)})


class Vandal(Stopper):
    name = "vandal"

    def decide(self, view):
        for trial in view.trials:
            trial.params["x"] = 3
        return []


def test_a_plugin_that_mutates_what_it_is_given_changes_nothing(tmp_path):
    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    spec = parse_spec({"search": {"algorithm": "scribbler"}, "matrix": {"x": {"values": [1, 2, 3]}},
                       "metric": {"name": "loss", "optimization": "minimize"},
                       "stopping": [{"kind": "vandal"}], "settings": {"concurrency": 1},
                       "run": {"cmd": "echo '@hpo loss={{ x }}'; sleep 0.1"}}, algorithms=["scribbler"])
    with registered(plugin_of(Scribbler, Vandal)):
        group_id = create_group(store, spec, seed=0, source_path=str(tmp_path / "spec.yaml"))
        state = Engine(store, group_id, poll_interval=0.01).run()
    folded = GroupState.fold(store.read(group_id))
    assert state.status == "succeeded" and not state.plugin_failures
    for trials in (state.trials, folded.trials):
        assert {t: (tr.params, tr.meta) for t, tr in trials.items()} == {
            1: ({"x": 1}, {"n": 0}), 2: ({"x": 2}, {"n": 1}), 3: ({"x": 3}, {"n": 2})}
    assert [tr.metrics["loss"] for tr in folded.trials.values()] == [1, 2, 3]  # ran as recorded
    store.close()
