"""Trials are not told where the event log is: the engine's own variables (``HPO_DB`` and every
other ``HPO_`` name) never reach a trial, whichever runner starts it, while the trial's own
variables and ``run.env`` do; and the database is created readable by its owner only."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hpo.contracts.runner import Reported
from hpo.api.objective import bind, unbind
from hpo.runkit.env import trial_environment

from .conftest import drain, make_launch
from .kits import dask_kit, docker_kit, local_kit, ssh_kit

ENGINE_ONLY = {"HPO_DB": "/somewhere/hpo.db", "HPO_ENGINE_ONLY": "x"}
# each metric is 10 when the variable is set in the trial, 0 when it is not
PROBE = 'echo "@hpo db=${HPO_DB+1}0 engine=${HPO_ENGINE_ONLY+1}0 trial=${HPO_TRIAL_ID+1}0 mine=${MINE+1}0"'
WANTED = {"db": 0.0, "engine": 0.0, "trial": 10.0, "mine": 10.0}
LAUNCH_ENV = {"HPO_TRIAL_ID": "1", "MINE": "yes"}
# the trial's own variables: exactly what docs/trial-contract.md lists
TRIAL_VARIABLES = {"HPO_PARAMS", "HPO_TRIAL_ID", "HPO_GROUP_ID", "HPO_ATTEMPT", "HPO_TRIAL_DIR",
                   "HPO_CHECKPOINT_DIR", "HPO_ATTEMPT_TOKEN"}
CONTRACT = Path(__file__).parents[2] / "docs" / "trial-contract.md"


def seen(runner, tmp_path) -> dict:
    runner.start(make_launch(tmp_path, PROBE, env=LAUNCH_ENV))
    (report,) = [m for m in drain(runner) if isinstance(m, Reported)]
    return report.metrics


@pytest.fixture
def engine_env(monkeypatch):
    for name, value in ENGINE_ONLY.items():
        monkeypatch.setenv(name, value)


def test_trial_environment_drops_the_engine_variables_only():
    env = {"PATH": "/bin", "HPO_DB": "x", "HPO_GPUS": "0", "HPOX": "kept", "MY_HPO_DB": "kept"}
    assert trial_environment(env) == {"PATH": "/bin", "HPOX": "kept", "MY_HPO_DB": "kept"}
    assert trial_environment({b"HPO_DB": b"x", b"HOME": b"/h"}) == {b"HOME": b"/h"}


def test_the_contract_lists_the_trials_own_variables():
    section = CONTRACT.read_text().split("## The trial's environment", 1)[1].split("\n## ", 1)[0]
    own = section.split("the trial's own variables:", 1)[1].split("\n- ", 1)[0]
    assert set(re.findall(r"`(HPO_[A-Z_]+)`", own)) == TRIAL_VARIABLES


def test_local_runner(engine_env, tmp_path):
    runner = local_kit(tmp_path).make()
    try:
        assert seen(runner, tmp_path) == WANTED
    finally:
        runner.close(stop_running=True)


def test_ssh_runner(engine_env, tmp_path, sshd, known_hosts):
    runner = ssh_kit(tmp_path, [sshd], known_hosts).make()
    try:
        assert seen(runner, tmp_path) == WANTED
    finally:
        runner.close(stop_running=True)


def test_docker_runner(engine_env, tmp_path, dockerd):
    runner = docker_kit(tmp_path, dockerd).make()
    try:
        assert seen(runner, tmp_path) == WANTED
    finally:
        runner.close(stop_running=True)


def test_dask_runner_with_its_own_cluster(engine_env, tmp_path):
    pytest.importorskip("distributed", reason="Dask is not installed (pip install 'hpo-groups[dask]')")
    # the runner's local cluster starts now, so its workers inherit the engine's variables
    runner = dask_kit(tmp_path, "local").make()
    runner.config.n_workers = 1
    try:
        assert seen(runner, tmp_path) == WANTED
    finally:
        runner.close(stop_running=True)


def probe(trial):
    trial.report(step=1, **{k: 10.0 * (name in os.environ) for k, name in
                            (("db", "HPO_DB"), ("engine", "HPO_ENGINE_ONLY"), ("trial", "HPO_TRIAL_ID"),
                             ("mine", "MINE"))})


def test_python_runner_processes(engine_env, tmp_path):
    from hpo.plugins.runners.python_runner import PythonRunner

    runner = PythonRunner(PythonRunner.parse_config({"backend": "process"}, "runner"))
    launch = make_launch(tmp_path, "", env={**LAUNCH_ENV, "HPO_PARAMS": "{}"}, group="env-probe")
    bind("env-probe", probe)
    try:
        runner.start(launch)
        (report,) = [m for m in drain(runner) if isinstance(m, Reported)]
        assert report.metrics == WANTED
        assert os.environ["HPO_DB"] == ENGINE_ONLY["HPO_DB"]  # the engine keeps its own
    finally:
        unbind("env-probe")
        runner.close(stop_running=True)


def test_a_group_run_by_the_engine(tmp_path):
    """Through `hpo run`, told where the database is by HPO_DB: the trial's whole environment is
    the engine's minus its HPO_ variables, plus the trial's own and run.env."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent("""
        settings:
          metric: {name: loss, optimization: minimize}
          matrix:
            x: {values: [1]}
        run:
          cmd: env > "$HPO_TRIAL_DIR/env.txt"; echo "@hpo loss=1"
          env: {MINE: yes}
        """))
    db = tmp_path / "private" / "hpo.db"
    env = {**os.environ, "HPO_DB": str(db), "HPO_ENGINE_ONLY": "x"}
    proc = subprocess.run([sys.executable, "-m", "hpo", "run", str(spec), "--plain"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    (dump,) = list(db.parent.glob("groups/*/trials/1/attempt-1/env.txt"))
    names = {line.split("=", 1)[0] for line in dump.read_text().splitlines() if "=" in line}
    assert {n for n in names if n.startswith("HPO_")} == TRIAL_VARIABLES
    assert "MINE" in names and "PATH" in names
    assert str(db) not in dump.read_text()
    for path in (db, db.with_name("hpo.db-wal")):
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
