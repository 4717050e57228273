"""The engine enforces the searcher contract on whatever plugin it runs: deliberately broken
searchers are caught with a ``PluginFailed`` naming the plugin, the trial and the param, before
anything is launched, and the group ends instead of hanging."""

from __future__ import annotations

import threading

import pytest
from click.testing import CliRunner

from hpo.cli import cli
from hpo.engine.composition import create_group
from hpo.engine.loop import Engine
from hpo.contracts.searcher import Exhausted, Searcher, Suggestion, Wait
from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore
from hpo.spec import parse_spec
from hpo.testing import plugin_of, registered

MATRIX = {
    "momentum": {"uniform": [0.5, 0.99]},
    "layers": {"range": [1, 5]},
    "act": {"values": ["relu", "tanh"]},
}
GOOD = {"momentum": 0.9, "layers": 2, "act": "relu"}


@pytest.fixture
def store(tmp_path):
    s = EventStore(tmp_path / ".hpo" / "hpo.db")
    yield s
    s.close()


def searcher_giving(*decisions, name="broken", extra=()):
    """A searcher that answers ``decisions[i]`` to a history of ``i`` trials (the last after)."""

    class Broken(Searcher):
        @classmethod
        def extra_params(cls, config):
            return tuple(extra)

        def suggest(self, history):
            return decisions[min(len(history), len(decisions) - 1)]

    Broken.name = name
    return Broken


def run(store, tmp_path, searcher, timeout=60.0, **spec):
    """Run a group of ``searcher`` in a thread; a group that does not end in ``timeout`` fails."""
    data = {"matrix": MATRIX, "metric": {"name": "loss", "optimization": "minimize"},
            "search": {"algorithm": searcher.name},
            "run": {"cmd": "echo '@hpo loss={{ momentum }}'"}, **spec}
    out: dict = {}
    with registered(plugin_of(searcher)):
        group_id = create_group(store, parse_spec(data), seed=0, source_path=str(tmp_path / "s.yaml"))

        def drive():
            try:
                out["state"] = Engine(EventStore(store.path), group_id, poll_interval=0.01).run()
            except BaseException as exc:
                out["error"] = exc

        worker = threading.Thread(target=drive, daemon=True)
        worker.start()
        worker.join(timeout)
    assert not worker.is_alive(), f"the group did not end in {timeout} s"
    if "error" in out:
        raise out["error"]
    events = [s.event for s in store.read(group_id, trusted=False)]
    return out["state"], events, group_id


def failure(state):
    (failed,) = state.plugin_failures
    assert state.status == "failed" and state.group_stop.policy == "engine"
    return failed


@pytest.mark.parametrize("param, value, why", [
    ("momentum", 1.2, "1.2 lies outside [0.5, 0.99]"),
    ("layers", 2.5, "2.5 is not one of its 4 values [1, 2, 3, 4]"),
    ("act", "swish", "'swish' is not one of its 2 values ['relu', 'tanh']"),
    ("momentum", "0.9", "'0.9' is not a number"),
])
def test_a_suggestion_outside_the_matrix_is_refused(store, tmp_path, param, value, why):
    broken = searcher_giving(Suggestion(GOOD), Suggestion({**GOOD, param: value}))
    state, events, _ = run(store, tmp_path, broken)
    failed = failure(state)
    assert failed.plugin == "searcher broken" and failed.trial_id == 2
    assert "plugin 'broken' (from (in-process))" in failed.error
    assert f"suggest() for trial 2 gave {param}={value!r}, outside the matrix: {why}" in failed.error
    assert f"matrix.{param}" in failed.error  # the param's place in the spec
    assert failed.traceback == ""  # nothing raised: the engine refused a result
    launched = [e.trial_id for e in events if e.type == "TrialLaunched"]
    assert launched == [1] and [e.trial_id for e in events if e.type == "Suggested"] == [1]
    assert list(state.trials) == [1] and state.best().params == GOOD  # never the bad one


def test_a_missing_or_undeclared_param_is_refused(store, tmp_path):
    missing = searcher_giving(Suggestion({"momentum": 0.9, "layers": 2}), name="missing")
    failed = failure(run(store, tmp_path, missing)[0])
    assert failed.trial_id == 1 and "without act" in failed.error

    undeclared = searcher_giving(Suggestion({**GOOD, "epochs": 3}), name="undeclared")
    state, events, _ = run(store, tmp_path, undeclared)
    failed = failure(state)
    assert failed.trial_id == 1 and "Suggested" not in [e.type for e in events]
    assert ("gave epochs=3, which is no matrix param (matrix: momentum, layers, act) and not one "
            "the searcher declares in extra_params() (none)") in failed.error


def test_a_declared_extra_param_reaches_the_trial(store, tmp_path):
    declared = searcher_giving(Suggestion({**GOOD, "epochs": 3}), Exhausted("one is enough"),
                               name="declared", extra=("epochs",))
    state, _, _ = run(store, tmp_path, declared, run={"cmd": "echo '@hpo loss={{ epochs }}'"})
    assert state.status == "succeeded" and state.trials[1].params["epochs"] == 3
    assert state.trials[1].metrics["loss"] == 3  # the template used it


def test_waiting_with_nothing_running_fails_the_group_instead_of_hanging(store, tmp_path):
    stalls = searcher_giving(Suggestion(GOOD), Wait("for a rung that never fills"), name="stalls")
    state, events, group_id = run(store, tmp_path, stalls, timeout=30)
    failed = failure(state)
    assert failed.trial_id == 2 and state.trials[1].status == "succeeded"
    assert ("suggest() answered Wait(reason='for a rung that never fills') for trial 2 while no "
            "trial is running or pending") in failed.error
    assert "would hang" in state.reason and "searcher stalls failed" in state.reason
    result = CliRunner().invoke(cli, ["status", group_id, "--db", str(store.path)])
    assert "plugin failure  searcher stalls" in result.output and "Wait(" in result.output


def test_waiting_while_a_trial_runs_is_fine(store, tmp_path):
    class WaitsForTrialOne(Searcher):
        name = "waits"

        def suggest(self, history):
            if not history.trials:
                return Suggestion(GOOD)
            return Wait("for trial 1") if history.active() else Exhausted("done")

    state, _, _ = run(store, tmp_path, WaitsForTrialOne, settings={"concurrency": 2})
    assert state.status == "succeeded" and state.plugin_failures == []


def test_a_suggestion_after_exhausted_is_refused(store, tmp_path):
    """Exhausted while trial 1 ran; once it finished, the searcher suggests again."""

    class Fickle(Searcher):
        name = "fickle"

        def suggest(self, history):
            if not history.trials:
                return Suggestion(GOOD)
            if history.active():
                return Exhausted("nothing more for now")
            return Suggestion({**GOOD, "layers": 3})

    state, events, _ = run(store, tmp_path, Fickle, settings={"concurrency": 2})
    failed = failure(state)
    assert failed.plugin == "searcher fickle" and failed.trial_id == 2
    assert "after it said Exhausted('nothing more for now'): Exhausted is forever" in failed.error
    assert [e.trial_id for e in events if e.type == "Suggested"] == [1]


class Raises(Searcher):
    name = "raises"

    def suggest(self, history):
        if history.trials:
            return self.diverge(len(history))
        return Suggestion(GOOD)

    def diverge(self, n):
        raise FloatingPointError(f"the model diverged after {n} trials")


def test_a_plugin_exception_keeps_its_traceback_for_status(store, tmp_path):
    state, _, group_id = run(store, tmp_path, Raises)
    failed = failure(state)
    assert failed.trial_id == 2
    assert "suggest() raised FloatingPointError: the model diverged after 1 trials" in failed.error
    assert failed.traceback.startswith("Traceback (most recent call last):")
    assert "in diverge" in failed.traceback and __file__ in failed.traceback
    assert failed.traceback.rstrip().endswith("FloatingPointError: the model diverged after 1 trials")

    plain = CliRunner().invoke(cli, ["status", group_id, "--db", str(store.path)])
    assert plain.exit_code == 0 and "plugin failure  searcher raises" in plain.output
    assert "in diverge" not in plain.output and "--traceback" in plain.output
    full = CliRunner().invoke(cli, ["status", group_id, "--db", str(store.path), "--traceback"])
    assert full.exit_code == 0 and "in diverge" in full.output and "raise FloatingPointError" in full.output


def test_the_log_of_a_refused_suggestion_replays(store, tmp_path):
    broken = searcher_giving(Suggestion(GOOD), Suggestion({**GOOD, "act": "swish"}))
    _, _, group_id = run(store, tmp_path, broken)
    state = GroupState.fold(store.read(group_id, trusted=False))
    assert state.status == "failed" and state.plugin_failures[0].trial_id == 2
