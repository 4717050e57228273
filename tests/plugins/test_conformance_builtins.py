"""Every built-in searcher, stopper and runner passes the kit third-party plugins use."""

from __future__ import annotations

import json
import time

from hpo.api.objective import TrialStopped, bind, unbind
from hpo.plugins.runners.local import LocalRunner
from hpo.plugins.search.async_halving import AsyncHalvingSearcher
from hpo.plugins.search.bo import BOSearcher
from hpo.plugins.search.bohb import BOHBSearcher
from hpo.plugins.search.configs import ConfigsSearcher
from hpo.plugins.search.grid import GridSearcher
from hpo.plugins.search.hyperband import HyperbandSearcher
from hpo.plugins.search.random import RandomSearcher
from hpo.plugins.stoppers.asha import Asha
from hpo.plugins.stoppers.budget import Budget
from hpo.plugins.stoppers.early_stopping import EarlyStopping
from hpo.plugins.stoppers.failures import Failures
from hpo.plugins.stoppers.median import Median
from hpo.plugins.stoppers.threshold import Threshold
from hpo.plugins.stoppers.truncation import Truncation
from hpo.plugins.runners.python_runner import PythonRunner
from hpo.testing import RunnerConformance, SearcherConformance, StopperConformance

LOSS = {"name": "loss", "optimization": "minimize"}
EVERY_DISTRIBUTION = {
    "lr": {"loguniform": [-7, -2]},
    "dropout": {"quniform": [0.1, 0.5, 0.1]},
    "decay": {"qloguniform": [-6, -1, 0.001]},
    "momentum": {"uniform": [0.5, 0.99]},
    "units": {"values": [16, 32, 64]},
    "act": {"pvalues": [["relu", 0.7], ["tanh", 0.3]]},
    "layers": {"range": [1, 4, 1]},
}
DISCRETE = {
    "lr": {"logspace": "-3:-1:3"},
    "units": {"values": [16, 32]},
    "act": {"values": ["relu", "tanh"]},
    "layers": {"range": [1, 3, 1]},
}


class TestGrid(SearcherConformance):
    searcher = GridSearcher
    spec = {"settings": {"grid_search": {"n_experiments": 7}, "matrix": DISCRETE}}
    budget = 7
    seed_matters = False


class TestRandom(SearcherConformance):
    searcher = RandomSearcher
    spec = {"settings": {"random_search": {"n_experiments": 8}, "metric": LOSS,
                         "matrix": {**EVERY_DISTRIBUTION, "noise": {"normal": [0, 1]}}}}
    budget = 8


class TestConfigs(SearcherConformance):
    searcher = ConfigsSearcher
    spec = {"search": {"algorithm": "configs", "configs": [{"x": 1}, {"x": 2}, {"x": 3}]},
            "matrix": {"x": {"values": [1, 2, 3]}}}
    budget = 3
    seed_matters = False


class TestHyperband(SearcherConformance):
    searcher = HyperbandSearcher
    spec = {"settings": {"hyperband": {"max_iter": 9, "eta": 3, "resource": {"name": "steps"}},
                         "metric": LOSS, "matrix": EVERY_DISTRIBUTION}}
    budget = 22  # every rung execution the plan of max_iter 9, eta 3 has
    concurrency = 4


class TestAsyncHalving(SearcherConformance):
    searcher = AsyncHalvingSearcher
    spec = {"settings": {"async_halving": {"max_iter": 9, "eta": 3, "resource": {"name": "steps"},
                                           "max_trials": 12, "resume": True},
                         "metric": LOSS, "matrix": EVERY_DISTRIBUTION}}
    budget = 12
    concurrency = 4


class TestBOHB(SearcherConformance):
    searcher = BOHBSearcher
    # random_fraction 0 and 2 points in the model: the density model draws most configurations
    spec = {"settings": {"bohb": {"max_iter": 9, "eta": 3, "resource": {"name": "steps"},
                                  "iterations": 2, "random_fraction": 0, "min_points_in_model": 2},
                         "metric": LOSS, "matrix": EVERY_DISTRIBUTION}}
    budget = 44  # every rung execution of two runs of the max_iter 9, eta 3 brackets
    concurrency = 4


class TestBayesianOptimization(SearcherConformance):
    searcher = BOSearcher
    spec = {"settings": {"bo": {"n_initial_trials": 3, "n_iterations": 3}, "metric": LOSS,
                         "matrix": EVERY_DISTRIBUTION}}
    budget = 6
    seeds = (0, 1, 5)


class TestEarlyStopping(StopperConformance):
    stopper = EarlyStopping
    options = {"entries": [{"metric": "loss", "value": 0.2, "optimization": "minimize"}]}


class TestFailures(StopperConformance):
    stopper = Failures
    options = {"max_failed": 1}


class TestBudget(StopperConformance):
    stopper = Budget
    options = {"max_trials": 5, "max_duration": "1h"}


class TestMedian(StopperConformance):
    stopper = Median
    options = {}


class TestTruncation(StopperConformance):
    stopper = Truncation
    options = {"percent": 25}


class TestThreshold(StopperConformance):
    stopper = Threshold
    options = {"margin": 0.5}


class TestAsha(StopperConformance):
    stopper = Asha
    options = {"min_resource": 1, "reduction_factor": 3}


class TestLocalRunner(RunnerConformance):
    runner = LocalRunner
    options = {"grace_period": 0.5}


# -- the python runner: the same behaviours as Python functions --------------------------------


def succeed(trial):
    trial.report(step=1, loss=0.5)
    print("hello")
    trial.report(step=2, loss=0.25)


def fail(trial):
    raise RuntimeError("boom")


def hang(trial):
    trial.report(step=1, loss=1.0)
    for _ in range(1200):
        time.sleep(0.05)
        if trial.should_stop:  # threads stop cooperatively; processes get SIGTERM
            raise TrialStopped(trial.stop_reason)


def slow(trial):
    for step in (1, 2, 3):
        trial.report(step=step, loss=step)
        time.sleep(0.3)


def params(trial):
    (trial.dir / "params.json").write_text(json.dumps(trial.params))


def quick(trial):
    trial.report(step=1, loss=0.5)


def beat(trial):
    trial.report(step=1, loss=1.0)
    while not trial.should_stop:
        with open(trial.dir / "beats", "a") as out:
            out.write("x\n")
        time.sleep(0.05)
    raise TrialStopped(trial.stop_reason)


OBJECTIVES = {"succeed": succeed, "fail": fail, "hang": hang, "slow": slow, "params": params,
              "quick": quick, "beat": beat}


class PythonRunnerConformance(RunnerConformance):
    runner = PythonRunner
    runs_shell_commands = False

    def launch(self, tmp_path, behaviour, **kw):
        launch = super().launch(tmp_path, behaviour, **kw)
        bind(launch.group_id, OBJECTIVES[behaviour])
        return launch

    def teardown_method(self):
        for behaviour in OBJECTIVES:
            unbind(f"conformance-{behaviour}")


class TestPythonRunnerProcesses(PythonRunnerConformance):
    options = {"grace_period": 0.5, "backend": "process"}


class TestPythonRunnerThreads(PythonRunnerConformance):
    options = {"grace_period": 0.5, "backend": "thread"}
