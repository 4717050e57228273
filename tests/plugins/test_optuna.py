"""The optuna search plugin: Optuna's samplers over the matrix, pure and replayable."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import textwrap

import pytest

from .conftest import require

require("optuna", "optuna", "pip install 'hpo-groups[optuna]'; CI installs it", module_level=True)

import optuna  # noqa: E402

import hpo  # noqa: E402
from hpo.errors import SpecError  # noqa: E402
from hpo.engine.lifecycle import replay_check  # noqa: E402
from hpo.plugins.search.optuna_adapter import OptunaSearcher  # noqa: E402
from hpo.spec import parse_spec  # noqa: E402
from hpo.testing import SearcherConformance, history, record  # noqa: E402

LOSS = {"name": "loss", "optimization": "minimize"}
MATRIX = {
    "lr": {"loguniform": [-7, -2]},
    "momentum": {"uniform": [0.5, 0.99]},
    "dropout": {"quniform": [0.0, 0.5, 0.1]},
    "units": {"values": [64, 16, 32]},
    "layers": {"range": [1, 5, 1]},
    "act": {"values": ["relu", "tanh"]},
    "opt": {"pvalues": [["adam", 0.6], ["sgd", 0.4]]},
}


def spec(sampler="tpe", n_trials=8, matrix=None, **kwargs):
    search = {"algorithm": "optuna", "sampler": sampler, "n_trials": n_trials}
    if kwargs:
        search["sampler_kwargs"] = kwargs
    return {"search": search, "metric": LOSS, "matrix": matrix or MATRIX}


def quadratic(trial):
    p = trial.params
    return (p["lr"] * 100 - 0.3) ** 2 + (p["momentum"] - 0.9) ** 2 + p["dropout"] + p["layers"] / 10


class TestTPE(SearcherConformance):
    searcher = OptunaSearcher
    spec = spec("tpe", 8, n_startup_trials=3)
    budget = 8


class TestNSGA2(SearcherConformance):
    searcher = OptunaSearcher
    spec = spec("nsga2", 6, population_size=4)
    budget = 6


SAMPLERS = [
    "tpe", "random", "nsga2",
    pytest.param("gp", marks=pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                                 reason="the gp sampler needs PyTorch")),
    pytest.param("cmaes", marks=pytest.mark.skipif(importlib.util.find_spec("cmaes") is None,
                                                   reason="the cmaes sampler needs cmaes")),
]


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_every_sampler_runs_a_group_that_replays(tmp_path, sampler):
    numeric = {k: v for k, v in MATRIX.items() if k in ("lr", "momentum", "dropout", "layers")}
    group = hpo.optimize(quadratic, spec(sampler, 12, numeric), concurrency=2, db=tmp_path / "hpo.db",
                         backend="thread", seed=0)
    assert group.status == "succeeded" and len(group.trials()) == 12
    assert replay_check(group.store, group.id) == (12, [])
    metas = [s.event.meta for s in group.store.read(group.id) if s.type == "Suggested"]
    assert {m["sampler"] for m in metas} == {sampler}


def test_a_real_group_with_tpe_from_the_command_line(tmp_path):
    """`hpo run` with a shell command, 16 trials 2 at a time; TPE after 6 random ones."""
    (tmp_path / "spec.yaml").write_text(textwrap.dedent("""
        name: tpe
        search: {algorithm: optuna, sampler: tpe, n_trials: 16, sampler_kwargs: {n_startup_trials: 6}}
        concurrency: 2
        metric: {name: loss, optimization: minimize}
        matrix:
          x: {uniform: [-4, 4]}
          y: {quniform: [-2, 2, 0.5]}
          kind: {values: [a, b]}
        run:
          cmd: >-
            python3 -c 'import json, os; p = json.loads(os.environ["HPO_PARAMS"]);
            print("@hpo loss=%r" % ((p["x"] - 1) ** 2 + p["y"] ** 2 + (p["kind"] == "b")))'
        """))
    env = {**os.environ, "HPO_DB": str(tmp_path / "hpo.db")}
    run = subprocess.run([sys.executable, "-m", "hpo", "run", "spec.yaml", "--seed", "5", "--plain"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    check = subprocess.run([sys.executable, "-m", "hpo", "replay", "tpe", "--check"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0 and "16 suggestions re-derived, 0 differ" in check.stdout
    group = hpo.load_group("tpe", db=tmp_path / "hpo.db")
    assert group.status == "succeeded" and len(group.trials()) == 16
    assert all(t.params["y"] * 2 == int(t.params["y"] * 2) for t in group.trials())
    first, later = group.trials()[:6], group.trials()[6:]
    assert min(t.value for t in later) <= min(t.value for t in first)  # the model helps


def make(sampler="tpe", seed=0, **kw):
    return OptunaSearcher(parse_spec({**spec(sampler, **kw), "run": {"cmd": "x"}}, algorithms=["optuna"]), seed)


def test_the_matrix_maps_to_optuna_distributions():
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    dists = make().distributions
    lr = dists["lr"]
    assert isinstance(lr, FloatDistribution) and lr.log
    assert (lr.low, lr.high) == (pytest.approx(math.exp(-7)), pytest.approx(math.exp(-2)))
    assert dists["momentum"] == FloatDistribution(0.5, 0.99)
    assert dists["dropout"] == IntDistribution(0, 5)  # multiples of q
    assert dists["units"] == IntDistribution(0, 2)  # ordinal over the sorted values
    assert dists["layers"] == IntDistribution(0, 3)
    assert dists["act"] == CategoricalDistribution(["relu", "tanh"])
    assert dists["opt"] == CategoricalDistribution(["adam", "sgd"])
    s = make()
    by_name = {d.name: d for d in s.dimensions}
    assert by_name["units"].to_optuna(32) == 1 and by_name["units"].from_optuna(2) == 64
    assert by_name["dropout"].to_optuna(0.3) == 3 and by_name["dropout"].from_optuna(3) == 0.3


def test_trial_states_as_optuna_sees_them():
    s = make()
    State = optuna.trial.TrialState
    params = {"lr": 0.01, "momentum": 0.9, "dropout": 0.2, "units": 16, "layers": 2, "act": "relu", "opt": "sgd"}
    cases = {
        "succeeded": (0.5, State.COMPLETE), "failed": (None, State.FAIL), "stopped": (0.7, State.PRUNED),
        "pending": (None, State.RUNNING), "running": (None, State.RUNNING),
    }
    for status, (value, state) in cases.items():
        frozen = s._frozen(optuna, record(1, params, status, value))
        assert frozen.state == state, status
    assert s._frozen(optuna, record(1, {**params, "units": 128}, "succeeded", 0.1)) is None  # another matrix
    assert s._frozen(optuna, record(1, {"lr": 0.01}, "succeeded", 0.1)) is None


def test_pending_trials_are_told_as_running():
    s = make(sampler="tpe", n_startup_trials=2)
    done = [record(i, s.suggest(history()).params, "succeeded", float(i)) for i in (1, 2, 3)]
    alone = s.suggest(history(*done))
    pending = record(4, alone.params, "running")
    assert s.suggest(history(*done, pending)).params != alone.params  # the liar moves it


def test_spec_errors():
    with pytest.raises(SpecError, match="unbounded"):
        make(matrix={"x": {"normal": [0, 1]}})
    with pytest.raises(SpecError, match="sampler_kwargs.seed: the seed is the group's"):
        OptunaSearcher(parse_spec({**spec("tpe", seed=3), "run": {"cmd": "x"}}, algorithms=["optuna"]), 0)
    with pytest.raises(SpecError, match="does not take these options"):
        make(colour="blue")
    with pytest.raises(SpecError, match="n_trials: this field is required"):
        OptunaSearcher(parse_spec({"search": {"algorithm": "optuna"}, "metric": LOSS, "matrix": MATRIX,
                                   "run": {"cmd": "x"}}, algorithms=["optuna"]), 0)
    with pytest.raises(SpecError, match="needs a metric"):
        OptunaSearcher(parse_spec({"search": {"algorithm": "optuna", "n_trials": 3}, "matrix": MATRIX,
                                   "run": {"cmd": "x"}}, algorithms=["optuna"]), 0)


def test_samplers_that_need_more_say_what_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    with pytest.raises(SpecError, match="the gp sampler needs PyTorch: pip install torch"):
        make("gp")


def test_optuna_logging_is_left_as_it_was():
    optuna.logging.set_verbosity(optuna.logging.INFO)
    try:
        make().suggest(history())
        assert optuna.logging.get_verbosity() == optuna.logging.INFO
    finally:
        optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_it_is_listed_as_a_plugin(tmp_path):
    out = subprocess.run([sys.executable, "-m", "hpo", "plugins", "--json"], capture_output=True, text=True,
                         check=True, cwd=tmp_path).stdout
    row = next(r for r in json.loads(out) if r["name"] == "optuna")
    assert (row["kind"], row["distribution"]) == ("searcher", "hpo-groups")
