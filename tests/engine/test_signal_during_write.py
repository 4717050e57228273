"""A signal that lands in the middle of a write never makes the engine take its own events for a
foreign write: the write finishes, then the group pauses with the signal as its reason. Real
engine, real SQLite file, a real signal sent to this process right after the store committed."""

import os
import signal

import pytest

from hpo.engine.loop import Engine
from hpo.eventlog.state import GroupState

from .conftest import python_cmd
from .test_engine import make

SPEC = """
settings:
  concurrency: 2
  matrix:
    x: {{values: [1, 2, 3, 4]}}
    sleep: {{values: [0.3]}}
run:
  cmd: {cmd}
"""


class SignalAfterCommit:
    """The store, sending ``sig`` to this process once its ``n``-th append has committed."""

    def __init__(self, store, sig: int, n: int):
        self.store, self.sig, self.left = store, sig, n

    def __getattr__(self, name):
        return getattr(self.store, name)

    def append(self, *args, **kwargs):
        stored = self.store.append(*args, **kwargs)
        self.left -= 1
        if self.left == 0:
            os.kill(os.getpid(), self.sig)  # delivered before the engine records what it wrote
        return stored

    def read_chained(self, *args, **kwargs):
        return self.store.read_chained(*args, **kwargs)


@pytest.mark.parametrize("sig, requested_by", [(signal.SIGTERM, "SIGTERM"), (signal.SIGHUP, "SIGHUP"),
                                               (signal.SIGINT, "keyboard")], ids=["SIGTERM", "SIGHUP", "SIGINT"])
@pytest.mark.parametrize("n", [2, 4])
def test_a_signal_right_after_a_commit_pauses_the_group_cleanly(store, workdir, sig, requested_by, n):
    gid = make(store, workdir, SPEC.format(cmd=python_cmd()))
    engine = Engine(SignalAfterCommit(store, sig, n), gid, poll_interval=0.01)
    state = engine.run()  # returns: paused, not LogTampered
    assert state.status == "stopped"
    assert state.group_stop.evidence == {"requested_by": requested_by}
    assert "tampered" not in state.group_stop.evidence
    folded = GroupState.fold(store.read(gid))
    assert folded.status == "stopped" and folded.version == state.version
    assert all("tampered" not in (s.event.evidence or {}) for s in store.read(gid) if s.type == "Stopped")
