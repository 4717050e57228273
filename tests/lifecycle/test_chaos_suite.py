"""The chaos suite: kill -9 during hyperband with `resume: true`, during bo with early stopping,
and `hpo stop` / `hpo resume` races at concurrency 1, 2 and 4. Real `hpo` processes, real trials,
one real SQLite file per run; every run is checked against the invariants of docs/lifecycle.md
"Guarantees" (tests/lifecycle/invariants.py): never more running than the concurrency, every
trial id once, no report recorded twice, an attempt that exited 0 never run again, integrity,
`replay --check` and `hpo verify` clean."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from .conftest import resume_to_the_end, run_hpo, state_of, write_spec
from .invariants import check_invariants

TRAIN = """
import os, time
import hpo
p = hpo.params()
folder = hpo.checkpoint_dir()
os.makedirs(folder, exist_ok=True)
saved = os.path.join(folder, "epoch")
epoch = int(open(saved).read()) if os.path.exists(saved) else 0
while epoch < int(p.get("epochs", 4)):
    epoch += 1
    time.sleep(0.04)
    hpo.report(step=epoch, loss=(p["x"] - 0.3) ** 2 + 1 / epoch)
    with open(saved + ".tmp", "w") as fh:
        fh.write(str(epoch))
    os.replace(saved + ".tmp", saved)
"""

HYPERBAND = """
    name: g
    settings:
      hyperband:
        max_iter: 9
        eta: 3
        resource: {name: epochs, type: int}
        metric: {name: loss, optimization: minimize}
        resume: true
      concurrency: 3
      matrix:
        x: {uniform: [0, 1]}
    run:
      cmd: PYTHON train.py
    """

BO = """
    name: g
    settings:
      bo:
        n_initial_trials: 4
        n_iterations: 8
        metric: {name: loss, optimization: minimize}
        utility_function: {acquisition_function: ei, eps: 0.0}
      concurrency: 2
      matrix:
        x: {uniform: [0, 1]}
    stopping:
      - {kind: median, min_steps: 2, min_trials: 3}
    early_stopping:
      - {metric: loss, value: -1.0, optimization: minimize}
    run:
      cmd: PYTHON train.py
    """

RANDOM = """
    name: g
    settings:
      random_search: {n_experiments: 12}
      concurrency: CONCURRENCY
      metric: {name: loss, optimization: minimize}
      matrix:
        x: {uniform: [0, 1]}
    declarations: {epochs: 5}
    run:
      cmd: PYTHON train.py
    """


def _engine(tmp_path, *args):
    env = {**os.environ, "HPO_DB": str(tmp_path / ".hpo" / "hpo.db")}
    env.pop("HPO_FAULT", None)
    return subprocess.Popen([sys.executable, "-m", "hpo", *args, "--plain"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _prepare(tmp_path, spec: str):
    (tmp_path / "train.py").write_text(TRAIN)
    return write_spec(tmp_path, spec.replace("PYTHON", sys.executable))


def _launched(tmp_path) -> int:
    try:
        return sum(t.attempts for t in state_of(tmp_path, "g").trials.values())
    except Exception:
        return 0


def _kill_9_again_and_again(tmp_path, spec_path, kills: int, seed: int) -> int:
    rng = random.Random(seed)
    proc = _engine(tmp_path, "run", str(spec_path), "--seed", "3")
    done = 0
    for _ in range(kills):
        launched = _launched(tmp_path)
        deadline = time.monotonic() + 30
        while _launched(tmp_path) <= launched and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)  # let it launch something first: a kill then interrupts real work
        time.sleep(rng.uniform(0.0, 0.6))
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        done += 1
        if state_of(tmp_path, "g").status in ("succeeded", "failed"):
            break
        proc = _engine(tmp_path, "resume", "g")
    if proc.poll() is None:
        proc.wait(timeout=120)
    return done


@pytest.mark.slow
@pytest.mark.parametrize("spec, concurrency", [(HYPERBAND, 3), (BO, 2)], ids=["hyperband-resume", "bo-early-stopping"])
def test_kill_9_during_the_search_keeps_every_invariant(tmp_path, spec, concurrency):
    spec_path = _prepare(tmp_path, spec)
    kills = _kill_9_again_and_again(tmp_path, spec_path, kills=3, seed=len(spec))
    resume_to_the_end(tmp_path, "g")
    assert kills >= 2
    state = state_of(tmp_path, "g")
    assert state.status == "succeeded", state.reason
    counts = check_invariants(tmp_path / ".hpo" / "hpo.db", "g", concurrency)
    assert counts["engines"] >= kills + 1
    for t in state.trials.values():  # what finished has its own values, nothing lost
        if t.status == "succeeded":
            assert t.metrics["loss"] == pytest.approx((t.params["x"] - 0.3) ** 2 + 1 / t.last_step)


@pytest.mark.slow
@pytest.mark.parametrize("concurrency", [1, 2, 4])
def test_stop_and_resume_races_keep_every_invariant(tmp_path, concurrency):
    spec_path = _prepare(tmp_path, RANDOM.replace("CONCURRENCY", str(concurrency)))
    rng = random.Random(concurrency)
    proc = _engine(tmp_path, "run", str(spec_path), "--seed", "5")
    for _ in range(3):
        launched = _launched(tmp_path)
        deadline = time.monotonic() + 30
        while _launched(tmp_path) <= launched and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.4))  # a stop near a trial's own exit, sometimes
        if proc.poll() is not None:
            break
        stop = run_hpo(tmp_path, "stop", "g")
        assert proc.wait(timeout=60) in (0, 3), proc.stderr.read()
        if stop.returncode != 0 or state_of(tmp_path, "g").status == "succeeded":
            break
        proc = _engine(tmp_path, "resume", "g")
    if proc.poll() is None:
        proc.wait(timeout=120)
    resume_to_the_end(tmp_path, "g")
    state = state_of(tmp_path, "g")
    assert state.status == "succeeded" and len(state.trials) == 12
    assert all(t.status == "succeeded" and t.last_step == 5 for t in state.trials.values())
    check_invariants(tmp_path / ".hpo" / "hpo.db", "g", concurrency)
