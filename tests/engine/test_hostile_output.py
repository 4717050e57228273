"""A trial's output is hostile input: no line it prints can fail the group or the engine.

Real processes print the lines (a file of them, written by the test, is `cat`-ed by the trial
command), the real local runner follows them, and the engine records what is valid.
"""

import sys

from hpo.engine.loop import Engine
from hpo.eventlog.snapshots import write_snapshot
from hpo.eventlog.state import GroupState

from .test_engine import make
from ..core.test_protocol import HOSTILE

SPEC = """
settings:
  grid_search: {{}}
  concurrency: 2
  metric: {{name: loss, optimization: minimize}}
  matrix:
    x: {{values: [1, 2]}}
run:
  cmd: cat hostile.txt && {python} -c "import hpo; hpo.report(step=7, loss={{{{ x }}}})"
"""


def test_hostile_report_lines_never_fail_the_group(store, workdir):
    (workdir / "hostile.txt").write_text("\n".join(HOSTILE) + "\n")
    gid = make(store, workdir, SPEC.format(python=sys.executable))
    state = Engine(store, gid, poll_interval=0.01).run()
    assert state.status == "succeeded", state.reason
    assert sorted(t.metrics["loss"] for t in state.trials.values()) == [1.0, 2.0]
    assert all(t.last_step == 7 and t.status == "succeeded" for t in state.trials.values())
    assert state == GroupState.fold(store.read(gid))
    write_snapshot(store, state)  # a step SQLite cannot hold never reaches the state
    assert store.integrity_check() == "ok"
