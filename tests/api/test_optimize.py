"""hpo.optimize: a Python objective as the trials, run by the real engine and the python runner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import hpo
from hpo.errors import HpoError, SpecError
from hpo.engine.lifecycle import replay_check

from .conftest import RANDOM, hpo_cli, types_of

BACKENDS = ["process", "thread"]


def objective(trial):
    x, k = trial.params["x"], trial.params["k"]
    for step in (1, 2, 3):
        trial.report(step=step, loss=x * k / step)
    if k == 2 and x > 0.5:
        raise ValueError(f"boom at x={x:.3f}")
    return x * k / 4


@pytest.mark.parametrize("backend", BACKENDS)
def test_optimize_runs_a_group(db, backend):
    group = hpo.optimize(objective, RANDOM, concurrency=2, db=db, backend=backend, seed=7)
    assert group.status == "succeeded" and len(group.trials()) == 5
    states = group.state.trials
    launched = [s.event for s in group.store.read(group.id) if s.type == "TrialLaunched"]
    assert {e.runner for e in launched} == {"python"}
    for t in states.values():
        crashed = t.params["k"] == 2 and t.params["x"] > 0.5
        assert t.status == ("failed" if crashed else "succeeded")
        if crashed:
            assert t.reason.startswith("the objective raised ValueError: boom at x=")
            assert "Traceback (most recent call last)" in t.output_tail and "ValueError: boom" in t.output_tail
            assert [s for s, _ in t.curves["loss"]] == [1, 2, 3]
        else:
            assert t.curves["loss"][-1] == (4, t.params["x"] * t.params["k"] / 4)
    ok = [t for t in states.values() if t.status == "succeeded"]
    assert group.best.id == min(ok, key=lambda t: t.metrics["loss"]).trial_id
    assert replay_check(group.store, group.id) == (5, [])


def test_concurrency_is_used(db):
    def slow(trial):
        time.sleep(1.0)
        return trial.params["x"]

    group = hpo.optimize(slow, RANDOM, n_trials=4, concurrency=4, db=db, backend="thread")
    assert group.status == "succeeded" and len(group.trials()) == 4
    # the log is the witness, not the clock: all four started before the first one ended
    trials = group.state.trials.values()
    assert max(t.started_at for t in trials) < min(t.finished_at for t in trials)
    assert group.state.engine is None and group.state.spec["concurrency"] == 4


def test_n_trials_is_a_budget_and_exhaustion_still_ends_it(db):
    grid = {"matrix": {"x": {"values": [1, 2, 3]}}, "metric": {"name": "loss", "optimization": "minimize"}}
    few = hpo.optimize(lambda t: t.params["x"], grid, n_trials=2, db=db)
    assert len(few.trials()) == 2 and "max_trials=2" in few.state.reason
    all_ = hpo.optimize(lambda t: t.params["x"], grid, n_trials=10, db=db)
    assert len(all_.trials()) == 3 and all_.state.reason == "visited all 3 grid combinations"


@pytest.mark.parametrize("backend", BACKENDS)
def test_what_an_objective_may_return(db, backend):
    results = {1: {"loss": 1.5, "acc": 0.5}, 2: None, 3: np.float64(0.25), 4: "bad", 5: True}

    def returns(trial):
        if trial.id == 2:
            trial.report(loss=2.0)
        return results[trial.id]

    group = hpo.optimize(returns, RANDOM, db=db, backend=backend)
    t = group.state.trials
    assert t[1].metrics == {"loss": 1.5, "acc": 0.5} and t[2].metrics == {"loss": 2.0}
    assert t[3].metrics == {"loss": 0.25} and t[3].status == "succeeded"
    assert t[4].status == t[5].status == "failed"
    assert "returned 'bad'" in t[4].reason and "returned True" in t[5].reason


def test_a_number_without_a_group_metric_is_called_value(db):
    group = hpo.optimize(lambda t: 3, {"matrix": {"x": {"values": [1]}}}, db=db)
    assert group.state.trials[1].metrics == {"value": 3.0}


def closure_factory(offset):
    def inner(trial):
        return trial.params["x"] + offset

    return inner


def test_closures_and_lambdas_run_in_processes(db):
    group = hpo.optimize(closure_factory(10), RANDOM, n_trials=2, db=db)
    assert all(t.value >= 10 for t in group.trials())
    runner = group.state.spec["runner"]
    options = runner["options"]
    assert runner["kind"] == "python" and options["objective"].endswith("closure_factory.<locals>.inner")
    assert options["backend"] == "process" and options["metric"] == "loss"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_stopping_rule_stops_a_running_objective(db, backend, tmp_path):
    marker = tmp_path / "finally-ran"

    def curve(trial):
        try:
            for step in range(1, 50):
                trial.report(step=step, loss=trial.id * 10.0)
                time.sleep(0.02)
            return 0.0
        finally:
            if trial.id == 2:
                marker.write_text("yes")

    spec = {
        "search": {"algorithm": "random", "n_experiments": 2},
        "metric": {"name": "loss", "optimization": "minimize"},
        "matrix": {"x": {"uniform": [0, 1]}},
        "stopping": [{"kind": "threshold", "margin": 1.0, "min_steps": 2}],
    }
    # (not n_trials: once its budget rule ends the search, trial rules no longer run — engine)
    group = hpo.optimize(curve, spec, concurrency=2, db=db, backend=backend)
    t = group.state.trials
    assert t[2].status == "stopped" and t[2].stop_decision["policy"] == "threshold"
    assert t[1].status == "succeeded"
    assert marker.read_text() == "yes"  # TrialStopped unwound the objective


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_objective_may_stop_itself(db, backend):
    def prune(trial):
        trial.report(step=1, loss=1.0)
        raise hpo.TrialStopped("not promising")

    group = hpo.optimize(prune, RANDOM, n_trials=1, db=db, backend=backend)
    t = group.state.trials[1]
    assert (t.status, t.reason) == ("stopped", "not promising")


def test_a_timeout_fails_the_trial(db):
    def forever(trial):
        time.sleep(30)

    spec = {**RANDOM, "run": {"cmd": "unused", "timeout": 0.5}}
    group = hpo.optimize(forever, spec, n_trials=1, db=db)
    t = group.state.trials[1]
    assert t.status == "failed" and t.reason == "timed out after 0.5s"


def test_the_objective_and_the_spec_are_checked(db):
    with pytest.raises(TypeError, match="must take one argument, the trial"):
        hpo.optimize(lambda: 1, RANDOM, db=db)
    with pytest.raises(TypeError, match="must be a function"):
        hpo.optimize(42, RANDOM, db=db)
    with pytest.raises(ValueError, match="backend must be one of"):
        hpo.optimize(objective, RANDOM, db=db, backend="gpu")
    with pytest.raises(ValueError, match="n_trials must be an integer >= 1"):
        hpo.optimize(objective, RANDOM, db=db, n_trials=0)
    with pytest.raises(SpecError, match="runner: hpo.optimize runs a Python objective"):
        hpo.optimize(objective, {**RANDOM, "runner": {"kind": "local"}}, db=db)
    command_group = hpo.create_group({**RANDOM, "run": {"cmd": "true"}}, db=db)
    with pytest.raises(HpoError, match="with the 'local' runner"):
        command_group.optimize(objective)


OBJECTIVE_MODULE = """
import time

def objective(trial):
    for step in range(1, 4):
        trial.report(step=step, loss=trial.params["x"] + step)
        time.sleep(float(trial.params.get("sleep", 0)))
    return trial.params["x"]
"""


def test_a_spec_names_an_importable_objective_and_hpo_runs_it(db, tmp_path):
    (tmp_path / "myobjective.py").write_text(OBJECTIVE_MODULE)
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent("""
        name: py
        settings:
          random_search: {n_experiments: 3}
          metric: {name: loss, optimization: minimize}
          matrix: {x: {uniform: [0, 1]}}
        runner: {kind: python, objective: "myobjective:objective", metric: loss}
        run: {cmd: "(python)"}
        """))
    env_path = {"PYTHONPATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "hpo", "run", str(spec), "--plain"], cwd=tmp_path,
                            env={**os.environ, **env_path, "HPO_DB": str(db)}, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    group = hpo.load_group("py", db=db)
    assert group.status == "succeeded"
    assert all(t.value == t.params["x"] for t in group.trials())


def test_a_killed_engine_leaves_process_trials_running_and_resume_reattaches(db, tmp_path):
    (tmp_path / "myobjective.py").write_text(OBJECTIVE_MODULE)
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import hpo
        from myobjective import objective
        spec = {{"matrix": {{"x": {{"values": [1, 2]}}, "sleep": {{"values": [0.6]}}}},
                 "metric": {{"name": "loss", "optimization": "minimize"}}}}
        hpo.optimize(objective, spec, concurrency=2, db={str(db)!r}, name="crash")
    """))
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "HPO_FAULT": "collected:1"}
    crashed = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, timeout=60)
    assert crashed.returncode == -signal.SIGKILL  # killed right after its first reports were written
    before = hpo.load_group("crash", db=db)
    assert before.status == "running" and {t.status for t in before.trials()} == {"running"}
    resumed = hpo_cli(db, "resume", "crash", "--plain")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    after = hpo.load_group("crash", db=db)
    assert after.status == "succeeded"
    assert types_of(after).count("TrialReattached") == 2
    for t in after.state.trials.values():
        assert t.attempts == 1 and [s for s, _ in t.curves["loss"]] == [1, 2, 3, 4]
    assert replay_check(after.store, after.id)[1] == []


def test_continue_a_paused_group_from_python(db):
    group = hpo.create_group(RANDOM, db=db, seed=2)
    group.tell(group.ask(), 0.9)
    group.ask()
    group.close()  # trial 2 is interrupted
    group.optimize(objective)
    assert group.status == "succeeded"
    t = group.state.trials
    assert len(t) == 5 and t[2].attempts == 2
    launched = [(s.event.trial_id, s.event.runner) for s in group.store.read(group.id) if s.type == "TrialLaunched"]
    assert launched[:2] == [(1, "api"), (2, "api")] and {r for _, r in launched[2:]} == {"python"}


def test_hpo_resume_of_an_ask_tell_group_says_what_to_do(db):
    group = hpo.create_group({"matrix": {"x": {"values": [1]}}}, db=db, name="nb")
    group.close()
    resumed = hpo_cli(db, "resume", "nb", "--plain")
    t = hpo.load_group("nb", db=db).state.trials[1]
    assert t.status == "failed" and "driven from Python" in t.reason and "hpo.load_group" in t.reason
    assert resumed.returncode == 1
