"""After a ``PluginFailed`` the failed group stays as it is; the way on is a fork (keep the
finished trials, go on with another algorithm) or a restart (start over, once the plugin is
fixed). docs/lifecycle.md "After a plugin failed" promises what these tests check."""

from __future__ import annotations

import pytest

from hpo.contracts.searcher import Exhausted, Searcher, Suggestion
from hpo.engine.composition import create_group
from hpo.engine.lifecycle import fork, restart
from hpo.engine.loop import Engine
from hpo.errors import HpoError
from hpo.eventlog.store import EventStore
from hpo.spec import parse_spec
from hpo.testing import plugin_of, registered

SPEC = {
    "search": {"algorithm": "flaky"},
    "metric": {"name": "loss", "optimization": "minimize"},
    "matrix": {"x": {"values": [1, 2, 3, 4]}},
    "run": {"cmd": "echo '@hpo loss={{ x }}'"},
}


class Flaky(Searcher):
    """Two good suggestions, then one outside the matrix."""

    name = "flaky"

    def suggest(self, history):
        n = len(history)
        return Suggestion({"x": [1, 2, 9][n]}) if n < 3 else Exhausted("done")


class Fixed(Searcher):
    """The same plugin, fixed."""

    name = "flaky"

    def suggest(self, history):
        n = len(history)
        return Suggestion({"x": n + 1}) if n < 4 else Exhausted("ran 4")


@pytest.fixture
def failed(tmp_path):
    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    with registered(plugin_of(Flaky)):
        gid = create_group(store, parse_spec(SPEC), seed=0, source_path=str(tmp_path / "s.yaml"))
        state = Engine(store, gid, poll_interval=0.01).run()
    assert state.status == "failed" and state.plugin_failures[0].trial_id == 3
    yield store, gid
    store.close()


def test_a_failed_group_is_not_resumed(failed):
    store, gid = failed
    with registered(plugin_of(Fixed)), pytest.raises(HpoError, match="already failed.*hpo restart"):
        Engine(store, gid).run("resume")


def test_a_fork_keeps_the_finished_trials_and_goes_on_with_another_algorithm(failed):
    store, gid = failed
    before = max(s.seq for s in store.read(gid) if s.type == "PluginFailed") - 1
    new = fork(store, gid, before, algorithm="grid")
    state = Engine(store, new, poll_interval=0.01).run("resume")
    assert state.status == "succeeded" and state.origin == {"group": gid, "kind": "fork", "at_seq": before}
    assert [t.params["x"] for t in sorted(state.trials.values(), key=lambda t: t.trial_id)][:2] == [1, 2]
    assert all(t.status == "succeeded" for t in state.trials.values())


def test_a_restart_starts_over_once_the_plugin_is_fixed(failed):
    store, gid = failed
    with registered(plugin_of(Fixed)):
        new = restart(store, gid)
        state = Engine(store, new, poll_interval=0.01).run("resume")
    assert state.status == "succeeded" and state.origin == {"group": gid, "kind": "restart"}
    assert sorted(t.params["x"] for t in state.trials.values()) == [1, 2, 3, 4]
