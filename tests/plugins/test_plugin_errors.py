"""A plugin that raises, returns garbage or lacks its config is named, and the log stays intact."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import types
from importlib import metadata
from pathlib import Path

import pytest

from hpo.contracts import registry as pluginmanager
from hpo.engine.loop import Engine
from hpo.errors import PluginError, SpecError
from hpo.engine.composition import create_group
from hpo.contracts.hookspecs import hookimpl
from hpo.contracts.registry import Registry, failed_plugins, get_plugin_manager
from hpo.contracts.runner import Exited, Reported, Runner
from hpo.contracts.searcher import Searcher, Suggestion
from hpo.spec import parse_spec
from hpo.eventlog.state import GroupState
from hpo.contracts.stopper import StopDecision, Stopper
from hpo.eventlog.store import EventStore
from hpo.testing import plugin_of, registered

from pydantic import BaseModel


@pytest.fixture
def store(tmp_path):
    s = EventStore(tmp_path / ".hpo" / "hpo.db")
    yield s
    s.close()


def run_group(store, tmp_path, **spec_extra):
    data = {
        "matrix": {"x": {"values": [1, 2, 3]}},
        "metric": {"name": "loss", "optimization": "minimize"},
        "run": {"cmd": "echo '@hpo step=1 loss={{ x }}'; echo '@hpo step=2 loss={{ x }}'"},
        **spec_extra,
    }
    spec = parse_spec(data, algorithms=["boom", "garbage"])
    group_id = create_group(store, spec, seed=0, source_path=str(tmp_path / "spec.yaml"))
    state = Engine(store, group_id, poll_interval=0.01).run()
    validated = [s.event for s in store.read(group_id, trusted=False)]  # every event is well-formed
    assert GroupState.fold(store.read(group_id)).version == len(validated)
    return state, validated


def failure_of(state):
    (failure,) = state.plugin_failures
    assert state.status == "failed" and state.group_stop.policy == "engine"
    return failure


class Boom(Searcher):
    name = "boom"

    def suggest(self, history):
        if len(history) == 1:
            raise ValueError("the model diverged")
        return Suggestion({"x": 1})


def test_a_searcher_that_raises(store, tmp_path):
    with registered(plugin_of(Boom)):
        state, events = run_group(store, tmp_path, search={"algorithm": "boom"})
    failure = failure_of(state)
    assert failure.plugin == "searcher boom" and failure.distribution == "(in-process)"
    assert "plugin 'boom'" in failure.error and "suggest() raised ValueError: the model diverged" in failure.error
    assert [e.type for e in events].count("Suggested") == 1  # the trial before the failure
    assert state.trials[1].status == "succeeded"  # running trials finish


GARBAGE = {
    "not a decision": 42,
    "params not JSON": Suggestion({"x": object()}),
    "a param missing": Suggestion({"y": 1}),
    "params not a dict": Suggestion(["x", 1]),  # type: ignore[arg-type]
    "meta not JSON": Suggestion({"x": 1}, {"when": {1, 2}}),
}


@pytest.mark.parametrize("what", list(GARBAGE))
def test_a_searcher_that_returns_garbage(store, tmp_path, what):
    class Garbage(Searcher):
        name = "garbage"

        def suggest(self, history):
            return GARBAGE[what]

    with registered(plugin_of(Garbage)):
        state, events = run_group(store, tmp_path, search={"algorithm": "garbage"})
    failure = failure_of(state)
    assert failure.plugin == "searcher garbage" and "plugin 'garbage'" in failure.error
    assert "suggest() returned" in failure.error or "is not JSON data" in failure.error
    assert "Suggested" not in [e.type for e in events]


class Explodes(Stopper):
    name = "explodes"

    def decide(self, view):
        if any(t.curves for t in view.trials):
            raise RuntimeError("bad curve")
        return []


class Sloppy(Stopper):
    name = "sloppy"

    def decide(self, view):
        running = [t.trial_id for t in view.trials if t.status == "running" and t.curves]
        return [StopDecision("trial", "", "sloppy", trial_id=t) for t in running]


@pytest.mark.parametrize("stopper, message", [
    (Explodes, "decide() raised RuntimeError: bad curve"),
    (Sloppy, "decide() returned a decision without a reason"),
])
def test_a_stopper_that_fails(store, tmp_path, stopper, message):
    # the trials outlive their reports a little, so the stopper judges them while they run
    run = {"cmd": "echo '@hpo step=1 loss={{ x }}'; echo '@hpo step=2 loss={{ x }}'; sleep 0.3"}
    with registered(plugin_of(stopper)):
        state, events = run_group(store, tmp_path, stopping=[{"kind": stopper.name}], run=run)
    failure = failure_of(state)
    assert failure.plugin == f"stopper {stopper.name}" and failure.distribution == "(in-process)"
    assert message in failure.error
    assert "Stopped" in [e.type for e in events if e.type != "Stopped" or e.scope == "group"]


class Broken(Runner):
    """Reports a metric that is not a number once, then honours stops."""

    name = "broken"

    def __init__(self, config):
        super().__init__(config)
        self.started, self.stopped, self.garbage = [], [], True

    def start(self, launch):
        self.started.append(launch.key)
        return {}

    def poll(self):
        if self.started and self.garbage:
            self.garbage = False
            return [Reported(1, 1, 1, {"loss": "high"}, 0)]  # type: ignore[dict-item]
        out, self.stopped = [Exited(t, a, "stopped", reason=r) for t, a, r in self.stopped], []
        return out

    def stop(self, trial_id, attempt, reason):
        self.stopped.append((trial_id, attempt, reason))


def test_a_runner_that_returns_garbage(store, tmp_path):
    with registered(plugin_of(Broken)):
        state, events = run_group(store, tmp_path, runner={"kind": "broken"})
    failure = failure_of(state)
    assert failure.plugin.startswith("runner") and failure.distribution == "(in-process)"
    assert "poll() reported metrics that are not numbers" in failure.error
    assert "MetricReported" not in [e.type for e in events]


class Dead(Runner):
    """Starts trials, then every poll raises: it can never say how they end."""

    name = "dead"
    started = 0

    def start(self, launch):
        self.started += 1
        return {}

    def poll(self):
        if self.started < 2:
            return []
        raise ConnectionError("lost the cluster")

    def stop(self, trial_id, attempt, reason):
        pass


def test_a_runner_that_keeps_failing_ends_the_group_once(store, tmp_path):
    with registered(plugin_of(Dead)):
        state, events = run_group(store, tmp_path, runner={"kind": "dead"}, settings={"concurrency": 2})
    failure = failure_of(state)
    assert failure.plugin == "runner dead" and "poll() raised ConnectionError: lost the cluster" in failure.error
    types = [e.type for e in events]
    assert types.count("PluginFailed") == 1 and types.count("Stopped") == 1 and types[-1] == "GroupFinished"
    assert [t.status for t in state.trials.values()] == ["stopped", "stopped"]
    assert state.trials[1].reason == "the dead runner failed: plugin 'dead' (from (in-process)): " \
        "the runner's poll() raised ConnectionError: lost the cluster"


class NeedsOptions(BaseModel):
    model_config = {"extra": "forbid"}
    budget: int


class Needy(Searcher):
    name = "needy"
    Config = NeedsOptions

    def suggest(self, history):
        return Suggestion({"x": 1})


def test_a_plugin_missing_its_config_is_named(store):
    spec = parse_spec({"search": {"algorithm": "needy"}, "matrix": {"x": {"values": [1]}},
                       "run": {"cmd": "true"}}, algorithms=["needy"])
    with registered(plugin_of(Needy)), pytest.raises(SpecError) as err:
        create_group(store, spec)
    assert str(err.value) == (
        "<spec>: search.budget: this field is required (the searcher 'needy', registered in-process)"
    )
    assert store.groups() == []  # nothing was written


def test_registering_something_else_is_skipped_and_named(caplog):
    class NotAPlugin:
        name = "nope"

    plugin = types.SimpleNamespace(__name__="odd", hpo_register_searchers=hookimpl(lambda register: register(NotAPlugin)))
    pm = get_plugin_manager()
    with registered(plugin, pm=pm), caplog.at_level(logging.WARNING):
        registry = Registry(pm)
        assert "nope" not in registry.names("searcher") and "grid" in registry.names("searcher")
        with pytest.raises(PluginError, match="no searcher named 'nope'.*plugin 'odd'.*expected a subclass of hpo.search.Searcher"):
            registry.get("searcher", "nope")
    assert "failed to register" in caplog.text


# -- entry points ------------------------------------------------------------------------------


def fake_distribution(root: Path, name: str, modules: dict[str, str], entry_points: dict[str, str]) -> None:
    """An installed distribution on sys.path: a dist-info folder and its modules."""
    info = root / f"{name.replace('-', '_')}-0.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(
        "[hpo]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    )
    for module, code in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(code))


@pytest.fixture
def broken_distribution(tmp_path, monkeypatch):
    root = tmp_path / "site"
    fake_distribution(root, "hpo-broken", {
        "broken_import": "raise ImportError('needs libfoo')",
        "broken_hook": """
            from hpo.contracts.hookspecs import hookimpl
            @hookimpl
            def hpo_register_searcher(register):  # misspelt: no such hook
                pass
        """,
    }, {"brokenimport": "broken_import", "brokenhook": "broken_hook"})
    monkeypatch.syspath_prepend(str(root))
    return root


def test_a_plugin_that_fails_to_load_is_skipped_and_named(broken_distribution, caplog):
    with caplog.at_level(logging.WARNING):
        pm = get_plugin_manager()
    assert pm.get_plugin("brokenimport") is None and pm.get_plugin("brokenhook") is None
    assert pm.get_plugin("grid") is not None
    failed = failed_plugins(pm)
    assert failed["brokenimport"] == (
        "plugin 'brokenimport' (from hpo-broken 0.3) failed to load: ImportError: needs libfoo"
    )
    assert "hpo_register_searcher" in failed["brokenhook"] and "hpo-broken 0.3" in failed["brokenhook"]
    assert "brokenimport" in caplog.text
    with pytest.raises(PluginError, match="no searcher named 'sobolx'.*needs libfoo"):
        Registry(pm).get("searcher", "sobolx")


def test_load_and_disable_select_what_loads(monkeypatch):
    monkeypatch.setenv("HPO_LOAD_PLUGINS", "grid, local")
    only = Registry(get_plugin_manager())
    assert only.names("searcher") == ["grid"] and only.names("runner") == ["local"]
    assert only.names("stopper") == []
    monkeypatch.delenv("HPO_LOAD_PLUGINS")
    monkeypatch.setenv("HPO_DISABLE_PLUGINS", "bo,median")
    some = Registry(get_plugin_manager())
    assert "bo" not in some.names("searcher") and "grid" in some.names("searcher")
    assert "median" not in some.names("stopper") and "asha" in some.names("stopper")


def test_load_and_disable_on_the_command_line(tmp_path):
    def plugins(**env):
        out = subprocess.run([sys.executable, "-m", "hpo", "plugins", "--json"], capture_output=True,
                             text=True, check=True, env={**os.environ, **env}, cwd=tmp_path).stdout
        return {(r["kind"], r["name"]) for r in json.loads(out)}

    everything = plugins()
    assert {("searcher", "bo"), ("searcher", "grid"), ("runner", "python")} <= everything
    assert ("searcher", "bo") not in plugins(HPO_DISABLE_PLUGINS="bo")
    assert plugins(HPO_LOAD_PLUGINS="grid") == {("searcher", "grid")}


def test_registry_names_each_class_origin():
    reg = Registry(get_plugin_manager()).get("searcher", "grid")
    from hpo.plugins.search.grid import GridSearcher

    assert reg.plugin_class is GridSearcher and issubclass(reg.cls, GridSearcher)
    assert (reg.cls.__name__, reg.cls.__module__) == ("GridSearcher", GridSearcher.__module__)
    assert (reg.plugin, reg.distribution) == ("grid", "hpo-groups")
    assert pluginmanager.default_registry().origin("searcher", "grid").version == metadata.version("hpo-groups")


def test_hpo_plugins_lists_the_plugins_that_failed_to_load(broken_distribution, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(broken_distribution), os.environ.get("PYTHONPATH", "")])}

    def hpo_plugins(*args):
        return subprocess.run([sys.executable, "-m", "hpo", "plugins", *args], capture_output=True,
                              text=True, check=True, env=env, cwd=tmp_path).stdout

    rows = json.loads(hpo_plugins("--json"))
    failed = {r["plugin"]: r for r in rows if r["status"] == "failed"}
    assert failed["brokenimport"] == {
        "kind": None, "name": None, "plugin": "brokenimport", "distribution": "hpo-broken 0.3",
        "version": "", "class": None, "status": "failed",
        "error": "plugin 'brokenimport' (from hpo-broken 0.3) failed to load: ImportError: needs libfoo",
    }
    assert "hpo_register_searcher" in failed["brokenhook"]["error"]
    loaded = [r for r in rows if r["status"] == "loaded"]
    assert {("searcher", "grid"), ("stopper", "median")} <= {(r["kind"], r["name"]) for r in loaded}
    assert all(r["error"] is None for r in loaded)
    table = hpo_plugins()
    assert "failed to load" in table and "brokenimport" in table and "needs libfoo" in table


def test_two_plugins_with_the_same_name_are_not_silently_shadowed(caplog):
    class First(Searcher):
        name = "twin"

        def suggest(self, history):
            return Suggestion({"x": 1})

    class Second(First):
        pass

    pm = get_plugin_manager()  # as two installed entry points would (registered() refuses the clash)
    pm.register(plugin_of(First, name="first"), name="first")
    pm.register(plugin_of(Second, name="second"), name="second")
    with caplog.at_level(logging.WARNING):
        held = Registry(pm).get("searcher", "twin")
    other = "second" if held.plugin == "first" else "first"
    why = failed_plugins(pm)[other]
    assert f"plugin {other!r}" in why and "failed to register" in why
    assert f"the searcher name 'twin'" in why and f"plugin {held.plugin!r}" in why
    assert why in caplog.text
