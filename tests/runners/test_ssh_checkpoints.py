"""Checkpoints follow the trial over SSH: a hyperband group with ``resume: true`` on a host whose
filesystem differs from the engine's (an sshd in its own mount namespace, with private tmpfs
over the engine's folder and over its own run folder). Each promoted trial finds its parent's
checkpoint on that host, checks it holds its own config and trains only the extra steps."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from hpo.engine.composition import create_group
from hpo.engine.loop import Engine
from hpo.eventlog.store import EventStore
from hpo.plugins.runners.ssh import SshRunner
from hpo.spec import parse_spec

from ._sshd import SshServer
from .conftest import drain, exits, make_launch, skip_or_fail

TRAIN = textwrap.dedent("""
    import json, os, sys
    import hpo

    if os.path.exists(os.environ["ENGINE_DIR"]):
        sys.exit("the engine's folder is visible on this host: the test proves nothing")
    p, ckpt = hpo.params(), hpo.checkpoint_dir()
    model = ckpt / "model.json"
    state = {"x": p["x"], "steps": 0, "trained_by": []}
    if model.exists():
        state = json.loads(model.read_text())
        if state["x"] != p["x"]:
            sys.exit(f"the checkpoint holds x={state['x']}, not this trial's x={p['x']}")
    start = state["steps"]
    for step in range(start + 1, p["epochs"] + 1):
        state["steps"] = step
        hpo.report(step=step, loss=(p["x"] - 0.3) ** 2 + 1 / step, trained_from=start)
    state["trained_by"].append([hpo.trial_id(), start, p["epochs"]])
    model.write_text(json.dumps(state))
    (ckpt / "weights.bin").write_bytes(os.urandom(50_000))
""")


@pytest.fixture
def far_host(ssh_keys, tmp_path):
    """An sshd whose filesystem hides the engine's folder and keeps its own run folder."""
    engine, remote = tmp_path / "engine", tmp_path / "remote"
    engine.mkdir()
    remote.mkdir()
    server = SshServer(ssh_keys, tmp_path / "sshd-far", private=[engine, remote])
    try:
        server.start()
    except RuntimeError as exc:
        skip_or_fail("netns", f"no private mount namespace for sshd here: {exc}")
    yield server, engine, remote
    server.stop()


def runner_options(server, tmp_path, remote, **extra):
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "train.py").write_text(TRAIN)
    return {"hosts": [server.host_options(slots=2, python=sys.executable, workdir=str(code))],
            "known_hosts": str(server.known_hosts(tmp_path / "known_hosts")),
            "rundir": str(remote / "runs"), "poll_interval": 0.05, **extra}


def test_promoted_trials_continue_their_parents_model_on_a_host_that_does_not_share_the_filesystem(far_host, tmp_path):
    server, engine, remote = far_host
    spec = {
        "settings": {
            "hyperband": {"max_iter": 9, "eta": 3, "resource": {"name": "epochs", "type": "int"},
                          "metric": {"name": "loss", "optimization": "minimize"}, "resume": True},
            "concurrency": 2, "matrix": {"x": {"uniform": [0, 1]}}},
        "run": {"cmd": "python train.py", "env": {"ENGINE_DIR": str(engine / ".hpo")}},
        "runner": {"kind": "ssh", **runner_options(server, tmp_path, remote)},
    }
    text, source = json.dumps(spec), str(engine / "spec.yaml")
    store = EventStore(engine / ".hpo" / "hpo.db")
    try:
        gid = create_group(store, parse_spec(text, source=source), seed=3, source=text, source_path=source)
        state = Engine(store, gid, poll_interval=0.02).run()
        events = list(store.read(gid))
    finally:
        store.close()
    assert state.status == "succeeded", state.reason
    assert all(t.status == "succeeded" for t in state.trials.values()), \
        {i: t.reason for i, t in state.trials.items() if t.status != "succeeded"}
    promoted = {i: t for i, t in state.trials.items() if t.meta.get("parent") is not None}
    assert promoted, "the plan promotes trials"
    for i, t in promoted.items():
        parent = state.trials[t.meta["parent"]]
        # it trained only the steps past its parent's: its first report is one past them
        assert t.metrics["trained_from"] == parent.params["epochs"], (i, t.metrics)
    launched = {e.event.trial_id: e.event.handle for e in events if e.type == "TrialLaunched"}
    finished = {e.event.trial_id: e.event.details for e in events if e.type == "TrialFinished"}
    for i in state.trials:
        sent, back = launched[i]["checkpoint_sent"], finished[i]["checkpoint_fetched"]
        assert sent["path"].startswith(str(remote / "runs")) and not Path(sent["path"]).exists()  # not here
        assert sent["seconds"] >= 0 and back["bytes"] > 50_000 and back["seconds"] >= 0
        assert (sent["bytes"] > 50_000) == (i in promoted)  # a promoted trial got its parent's model
    # the engine keeps each chain's model: its history is one config trained step after step
    chains = list((engine / ".hpo" / "groups" / gid / "trials").glob("*/checkpoints/model.json"))
    assert len(chains) == len(state.trials) - len(promoted)
    for path in chains:
        history = json.loads(path.read_text())["trained_by"]
        assert history[0][1] == 0 and all(a[2] == b[1] for a, b in zip(history, history[1:]))


def test_a_checkpoint_over_the_limit_fails_its_trial_with_the_reason(far_host, tmp_path, closing):
    server, engine, remote = far_host
    runner = SshRunner(SshRunner.parse_config(runner_options(server, tmp_path, remote, checkpoint_limit="40KB"),
                                              "runner"))
    closing(runner)
    ckpt = engine / "trials" / "1" / "checkpoints"
    env = {"HPO_CHECKPOINT_DIR": str(ckpt), "HPO_PARAMS": json.dumps({"x": 0.5, "epochs": 1}),
           "HPO_TRIAL_ID": "1", "ENGINE_DIR": str(tmp_path / "nowhere")}
    launch = make_launch(engine, "python train.py", env=env)
    handle = runner.start(launch)
    assert handle["checkpoint_sent"]["bytes"] < 40_000  # nothing yet: an empty folder went
    [exited] = exits(drain(runner))
    assert exited.status == "failed" and not exited.lost
    assert "checkpoint_limit of 40000 bytes" in exited.reason and "could not be fetched back" in exited.reason
    assert not ckpt.exists()  # nothing half-copied
