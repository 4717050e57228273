"""A pausing signal (Ctrl-C, SIGTERM, SIGHUP) that arrives while the engine is appending waits
until the append is folded: the pause then writes on from the engine's own head, never taking
the engine's own last write for someone else's (which would be recorded as tampering)."""

import os
import signal

import pytest

from hpo.engine.composition import create_group
from hpo.engine.loop import Engine
from hpo.eventlog.chain import verify
from hpo.spec import parse_spec

SPEC = """
settings:
  concurrency: 2
  metric: {name: score, optimization: maximize}
  matrix:
    x: {values: [1, 2, 3, 4]}
run:
  cmd: echo "@hpo step=1 score={{ x }}"; sleep 5
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_during_an_append_pauses_cleanly(store, workdir, monkeypatch, sig):
    gid = create_group(store, parse_spec(SPEC, source=str(workdir / "spec.yaml")), seed=0)
    engine = Engine(store, gid, poll_interval=0.01)
    real_append, appends = store.append, []

    def append_then_signal(*args, **kwargs):
        stored = real_append(*args, **kwargs)
        appends.append([s.type for s in stored])
        if any(s.type == "TrialLaunched" for s in stored) and len(appends) < 20:
            os.kill(os.getpid(), sig)  # lands after the commit, before the engine folds it
        return stored

    monkeypatch.setattr(store, "append", append_then_signal)
    state = engine.run()
    assert state.status == "stopped", state.reason
    assert state.group_stop.evidence["requested_by"] in (sig.name, "keyboard")
    assert any("TrialLaunched" in a for a in appends)
    assert verify(store, gid).ok
    # each launched trial was stopped to run again on resume, unless it exited 0 as the stop came
    # (kept as a success: docs/lifecycle.md)
    assert all((t.status == "stopped" and t.resumable) or (t.status == "succeeded" and t.exit_code == 0)
               for t in state.trials.values() if t.attempts), [(t.trial_id, t.status, t.reason) for t in state.trials.values()]
