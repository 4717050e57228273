"""Sections and layouts: settings/hptuning, concurrency, metric, seed, search forms, run,
runner, stopping, declarations, warnings and unknown keys, and the JSON round trip."""

from __future__ import annotations

import json

import pytest

from hpo.errors import SpecError
from hpo.spec import GroupSpec, MetricSpec, RunnerSpec, StopperSpec, describe, load_spec, parse_spec

MATRIX = {"lr": {"values": [0.1, 0.2]}}
RUN = {"cmd": "train --lr={{ lr }}"}


def spec(**top):
    data = {"matrix": MATRIX, "run": RUN}
    data.update(top)
    return parse_spec(data)


def error(data_or_text, **kw) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_spec(data_or_text, **kw)
    return info.value


def test_minimal_spec_defaults():
    s = spec()
    assert s.search.algorithm == "grid" and s.search.path == "settings" and s.search.options == {}
    assert s.concurrency == 1 and s.metric is None and s.seed is None
    assert s.runner == RunnerSpec() and s.stoppers == [] and s.early_stopping == []
    assert s.version is None and s.kind is None and s.warnings == []


@pytest.mark.parametrize("section", ["settings", "hptuning"])
def test_matrix_under_either_block(section):
    s = parse_spec(
        {"version": 1, "kind": "group", section: {"matrix": MATRIX, "concurrency": 3}, "run": RUN}
    )
    assert list(s.matrix) == ["lr"] and s.concurrency == 3
    assert s.matrix["lr"].path == f"{section}.matrix.lr.values"
    assert s.search.path == section


def test_settings_and_hptuning_together_is_an_error():
    e = error({"settings": {}, "hptuning": {"matrix": MATRIX}, "run": RUN})
    assert e.path == "hptuning"


def test_two_matrices_is_an_error():
    e = error({"matrix": MATRIX, "settings": {"matrix": MATRIX}, "run": RUN})
    assert e.path == "settings.matrix"


def test_missing_matrix_names_the_path():
    assert error({"hptuning": {"concurrency": 2}, "run": RUN}).path == "hptuning.matrix"
    assert error({"run": RUN}).path == "matrix"


def test_version_and_kind():
    assert spec(version=1).version == 1
    e = error({"version": 0.6, "matrix": MATRIX, "run": RUN})
    assert e.path == "version" and "unsupported version 0.6" in e.message
    e = error({"kind": "experiment", "matrix": MATRIX, "run": RUN})
    assert e.path == "kind" and "group" in e.message


def test_concurrency_sources():
    assert spec(concurrency=4).concurrency == 4
    assert spec(settings={"concurrent_experiments": 5}).concurrency == 5
    assert spec(settings={"random_search": {"concurrency": 6}}).concurrency == 6
    same = spec(concurrency=2, settings={"concurrency": 2, "bo": {"concurrency": 2}})
    assert same.concurrency == 2 and "concurrency" not in same.search.options


def test_conflicting_concurrency_names_both_paths():
    e = error(
        {
            "matrix": MATRIX,
            "run": RUN,
            "settings": {"concurrency": 2, "hyperband": {"concurrency": 3}},
        }
    )
    assert e.path == "settings.hyperband.concurrency"
    assert "settings.concurrency" in e.message


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_concurrency(bad):
    assert error({"matrix": MATRIX, "run": RUN, "concurrency": bad}).path == "concurrency"


def test_metric_sources_and_conflicts():
    m = MetricSpec(name="loss", optimization="minimize")
    assert spec(metric={"name": "loss", "optimization": "minimize"}).metric == m
    assert spec(settings={"metric": {"name": "loss", "optimization": "minimize"}}).metric == m
    assert spec(metric="acc").metric == MetricSpec(name="acc")
    e = error(
        {
            "matrix": MATRIX,
            "run": RUN,
            "metric": "acc",
            "settings": {"bo": {"metric": {"name": "loss"}}},
        }
    )
    assert "conflicting metric" in e.message
    e = error({"matrix": MATRIX, "run": RUN, "metric": {"name": "a", "optimization": "up"}})
    assert e.path == "metric.optimization"


def test_seed():
    assert spec(seed=0).seed == 0
    assert spec(hptuning={"seed": 42}).seed == 42
    assert error({"matrix": MATRIX, "run": RUN, "seed": -1}).path == "seed"
    assert error({"matrix": MATRIX, "run": RUN, "seed": "x"}).path == "seed"


def test_algorithm_keys():
    for key, name in [
        ("grid_search", "grid"),
        ("random_search", "random"),
        ("hyperband", "hyperband"),
        ("bo", "bo"),
    ]:
        s = spec(hptuning={key: {"n": 1}})
        assert (s.search.algorithm, s.search.path, s.search.options) == (
            name,
            f"hptuning.{key}",
            {"n": 1},
        )
    assert spec(settings={"random_search": None}).search.options == {}


def test_plugin_algorithm_names():
    s = parse_spec(
        {"matrix": MATRIX, "run": RUN, "settings": {"halton": {"n": 8}}}, algorithms=["halton"]
    )
    assert (s.search.algorithm, s.search.path) == ("halton", "settings.halton")
    e = error({"matrix": MATRIX, "run": RUN, "settings": {"halton": {"n": 8}}})
    assert e.path == "settings.halton" and "unknown key 'halton'" in e.message


def test_installed_algorithms_are_known_by_their_own_keys(monkeypatch):
    """The spec knows no algorithm by name: each installed searcher says which keys select it."""
    from ..plugins.conftest import require

    require("hpo_sobol", "hpo-sobol", "pip install ./examples/hpo-sobol; CI installs it")
    s = parse_spec({"matrix": MATRIX, "run": RUN, "settings": {"sobol": {"n_experiments": 8}}})
    assert (s.search.algorithm, s.search.path) == ("sobol", "settings.sobol")
    assert spec(settings={"grid_search": {}}).search.algorithm == "grid"
    assert "unknown key 'grid'" in error({"matrix": MATRIX, "run": RUN, "settings": {"grid": {}}}).message

    from hpo.contracts import registry

    monkeypatch.setenv("HPO_LOAD_PLUGINS", "random")
    monkeypatch.setattr(registry, "default_plugin_manager", registry.get_plugin_manager)
    assert spec(settings={"random_search": {}}).search.algorithm == "random"
    e = error({"matrix": MATRIX, "run": RUN, "settings": {"grid_search": {}}})
    assert "unknown key 'grid_search'" in e.message and "random_search" in e.message


def test_generic_search_form():
    s = spec(search={"algorithm": "random_search", "n_experiments": 5, "concurrency": 2})
    assert (s.search.algorithm, s.search.path, s.search.options) == (
        "random",
        "search",
        {"n_experiments": 5},
    )
    assert s.concurrency == 2
    s = parse_spec(
        {"matrix": MATRIX, "run": RUN, "settings": {"search": {"algorithm": "halton"}}},
        algorithms=("halton",),
    )
    assert (s.search.algorithm, s.search.path) == ("halton", "settings.search")
    e = error({"matrix": MATRIX, "run": RUN, "search": {"algorithm": "randm"}})
    assert e.path == "search.algorithm" and "did you mean" in e.message
    assert error({"matrix": MATRIX, "run": RUN, "search": {"n": 1}}).path == "search.algorithm"


def test_two_algorithms_is_an_error():
    e = error({"matrix": MATRIX, "run": RUN, "settings": {"random_search": {}, "hyperband": {}}})
    assert "two search algorithms" in e.message and "settings.random_search" in e.message
    e = error({"matrix": MATRIX, "run": RUN, "search": {"algorithm": "bo"}, "settings": {"bo": {}}})
    assert "two search algorithms" in e.message


def test_old_settings_n_experiments_moves_into_the_block():
    s = spec(settings={"n_experiments": 0.3, "concurrent_experiments": 2})
    assert s.search.options == {"n_experiments": 0.3} and s.concurrency == 2
    s = spec(settings={"n_experiments": 5, "random_search": {"n_experiments": 5}})
    assert s.search.options == {"n_experiments": 5}
    e = error(
        {
            "matrix": MATRIX,
            "run": RUN,
            "settings": {"n_experiments": 5, "random_search": {"n_experiments": 6}},
        }
    )
    assert "conflicting n_experiments" in e.message


def test_declarations_and_params():
    assert spec(declarations={"bs": 32, "name": "x", "flags": [1, 2]}).declarations == {
        "bs": 32,
        "name": "x",
        "flags": [1, 2],
    }
    assert spec(params={"bs": 32}).declarations == {"bs": 32}
    assert error({"matrix": MATRIX, "run": RUN, "params": {}, "declarations": {}}).path == "params"
    e = error("matrix: {lr: {values: [1]}}\nrun: {cmd: x}\ndeclarations: {day: 2020-01-01}\n")
    assert e.path == "declarations.day" and "quote it" in e.message


def test_declaration_shadowed_by_matrix_warns_and_is_dropped():
    s = spec(declarations={"lr": 0.5, "bs": 1})
    assert s.declarations == {"bs": 1}
    assert any("declarations.lr" in w and "matrix wins" in w for w in s.warnings)


def test_builtin_names_are_reserved():
    e = error({"matrix": {"trial_id": {"values": [1]}}, "run": RUN})
    assert "builtin" in e.message


def test_early_stopping_locations():
    entry = {"metric": "acc", "value": 0.9, "optimization": "maximize"}
    assert len(spec(early_stopping=[entry]).early_stopping) == 1
    assert len(spec(hptuning={"early_stopping": [entry]}).early_stopping) == 1
    e = error(
        {
            "matrix": MATRIX,
            "run": RUN,
            "early_stopping": [entry],
            "settings": {"early_stopping": [entry]},
        }
    )
    assert e.path == "settings.early_stopping"
    e = error({"matrix": MATRIX, "run": RUN, "early_stopping": [{"metric": "acc", "value": 0.9}]})
    assert e.path == "early_stopping[0].optimization"
    e = error({"matrix": MATRIX, "run": RUN, "early_stopping": [{**entry, "valeu": 1}]})
    assert e.path == "early_stopping[0].valeu" and "did you mean 'value'" in e.message


def test_stopping_and_runner():
    s = spec(stopping=[{"kind": "median", "min_trials": 3}], runner={"kind": "ssh", "hosts": ["a"]})
    assert s.stoppers == [StopperSpec(kind="median", options={"min_trials": 3}, path="stopping[0]")]
    assert s.runner == RunnerSpec(kind="ssh", options={"hosts": ["a"]}, path="runner")
    assert spec(runner="docker").runner.kind == "docker"
    assert spec(settings={"stopping": [{"kind": "x"}]}).stoppers[0].path == "settings.stopping[0]"
    assert error({"matrix": MATRIX, "run": RUN, "stopping": [{"min": 1}]}).path == "stopping[0]"
    assert error({"matrix": MATRIX, "run": RUN, "stopping": {"kind": "x"}}).path == "stopping"


def test_run_section():
    s = spec(run={"cmd": "a", "timeout": 30, "env": {"A": 1, "B": True}, "workdir": "w", "gpus": 1})
    assert (s.run.timeout, s.run.env, s.run.workdir, s.run.gpus) == (
        30.0,
        {"A": "1", "B": "true"},
        "w",
        1,
    )
    assert (
        spec(run={"cmd": ["pip install x", "train {{ lr }}"]}).run.cmd
        == "pip install x && train {{ lr }}"
    )
    assert error({"matrix": MATRIX, "run": {"cmd": "a", "timeout": -1}}).path == "run.timeout"
    assert error({"matrix": MATRIX, "run": {"cmd": "a", "gpus": -1}}).path == "run.gpus"
    assert error({"matrix": MATRIX, "run": {"image": "x"}}).path == "run.cmd"
    assert error({"matrix": MATRIX}).path == "run.cmd"
    assert error({"matrix": MATRIX, "run": {"cmd": ""}}).path == "run.cmd"


def test_folded_line_continuations_are_joined():
    text = (
        "matrix: {lr: {values: [1]}}\nrun:\n  cmd: train \\\n    --lr={{ lr }} \\\n    --x=1 \\\n"
    )
    assert parse_spec(text).run.cmd == "train  --lr={{ lr }}  --x=1"
    literal = "matrix: {lr: {values: [1]}}\nrun:\n  cmd: |\n    train \\\n      --lr={{ lr }}\n"
    assert parse_spec(literal).run.cmd == "train \\\n  --lr={{ lr }}"


def test_exec_section_and_conditional_cmd():
    s = parse_spec({"matrix": MATRIX, "exec": {"cmd": "x {{ lr }}"}})
    assert s.run.cmd == "x {{ lr }}"
    e = error({"matrix": MATRIX, "exec": {"cmd": {"if": {"cond": "a", "do": "b"}}}})
    assert e.path == "exec.cmd" and "conditional commands" in e.message


def test_ignored_sections_warn():
    s = parse_spec({
        "matrix": MATRIX, "build": {}, "environment": {}, "logging": {}, "tags": [], "project": {},
        "framework": "x", "backend": "y", "model": {}, "train": {},
        "settings": {"run_type": "minikube", "logging": {}},
        "run": {"cmd": "a", "image": "i", "build_steps": [], "install": [], "steps": []},
    })  # fmt: skip
    named = [w.split(":")[0] for w in s.warnings]
    assert named == ["build", "environment", "logging", "tags", "project", "framework", "backend",
                     "model", "train", "settings.run_type", "settings.logging", "run.image",
                     "run.build_steps", "run.install", "run.steps"]  # fmt: skip


def test_unknown_keys_suggest_the_closest():
    e = error({"matrix": MATRIX, "run": RUN, "setings": {}})
    assert e.path == "setings" and "did you mean 'settings'" in e.message
    e = error({"matrix": MATRIX, "run": RUN, "settings": {"concurency": 2}})
    assert e.path == "settings.concurency" and "did you mean 'concurrency'" in e.message
    e = error({"matrix": MATRIX, "run": {"cmd": "a", "timout": 3}})
    assert e.path == "run.timout" and "did you mean 'timeout'" in e.message


def test_top_level_must_be_a_mapping():
    assert "empty" in error("").message
    assert "mapping" in error("- a\n- b\n").message


def test_json_round_trip_of_a_full_spec():
    s = parse_spec({
        "version": 1, "kind": "group", "name": "g", "description": "d",
        "matrix": {"a": {"logspace": "0:2:3"}, "b": {"pvalues": [["x", 0.5], ["y", 0.5]]},
                   "c": {"qloguniform": [0, 2, 0.5]}, "d": {"values": [True, "s", 1]}},
        "declarations": {"k": [1, {"z": None}]}, "seed": 3, "concurrency": 2,
        "settings": {"hyperband": {"max_iter": 9, "resource": {"name": "r", "type": "int"},
                                    "metric": {"name": "loss", "optimization": "minimize"}}},
        "early_stopping": [{"metric": "loss", "value": 0.1, "optimization": "minimize"}],
        "stopping": [{"kind": "median"}], "runner": {"kind": "local", "max": 2},
        "run": {"cmd": "t {{ a }} {{ r }}", "env": {"X": "1"}}, "build": {},
    })  # fmt: skip
    data = json.loads(json.dumps(s.to_json()))
    again = GroupSpec.from_json(data)
    assert again == s and again.to_json() == data
    assert data["matrix"]["a"]["values"] == [1.0, 10.0, 100.0]


def test_load_spec_names_the_file(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("matrix:\n  lr: {values: [1]}\nrun: {cmd: x}\nsetings: {}\n")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert info.value.file == str(path) and str(path) in str(info.value)
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "missing.yaml")


def test_describe_shows_space_values_and_warnings():
    s = parse_spec({
        "matrix": {"lr": {"logspace": "0:2:3"}, "act": {"pvalues": [["relu", 0.2], ["tanh", 0.8]]}},
        "settings": {"random_search": {"n_experiments": 5}, "concurrency": 2, "metric": "acc"},
        "run": {"cmd": "t"}, "build": {},
    })  # fmt: skip
    text = describe(s)
    assert "algorithm:   random (from settings.random_search) with n_experiments=5" in text
    assert "concurrency: 2" in text and "acc (maximize)" in text
    assert "space:       6 combinations" in text
    assert "logspace(start=0, stop=2, num=3) -> [1.0, 10.0, 100.0] (3 values)" in text
    assert "relu p=0.2, tanh p=0.8" in text
    assert "build: accepted and ignored" in text
    assert "infinite (continuous)" in describe(
        spec(matrix={"u": {"uniform": [0, 1]}}, run={"cmd": "t"})
    )


def test_plugin_options_must_be_json_data():
    e = error(
        "matrix: {lr: {values: [1]}}\nrun: {cmd: x}\nsettings:\n  random_search: {start: 2020-01-01}\n"
    )
    assert e.path == "settings.random_search.start" and "quote it" in e.message
    e = error({"matrix": MATRIX, "run": RUN, "runner": {"kind": "ssh", "hosts": {1: "a"}}})
    assert e.path == "runner.hosts" and "keys must be strings" in e.message
    e = error({"matrix": MATRIX, "run": RUN, "stopping": [{"kind": "x", "min": float("nan")}]})
    assert e.path == "stopping[0].min"
