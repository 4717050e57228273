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


def test_bad_report_lines_are_counted_events_with_their_first_examples(store, workdir):
    """Every bad line is counted, the first five kept word for word, in a handful of events:
    20,000 bad lines do not make 20,000 events, nor a list of 20,000 in memory."""
    bad = [f"@hpo loss={i}_0" for i in range(20_000)]
    (workdir / "hostile.txt").write_text("\n".join(HOSTILE + bad) + "\n")
    gid = make(store, workdir, SPEC.format(python=sys.executable))
    state = Engine(store, gid, poll_interval=0.01).run()
    assert state.status == "succeeded", state.reason
    rejected = [s.event for s in store.read(gid) if s.type == "ReportsRejected"]
    expected = sum(1 for line in HOSTILE if "@hpo" in line and parse_or_error(line)) + 20_000
    for t in state.trials.values():
        mine = [e for e in rejected if e.trial_id == t.trial_id]
        assert 1 <= len(mine) <= 3  # the first, maybe one 5 s later, the end
        assert sum(e.count for e in mine) == t.rejected == expected
        assert len(t.rejected_examples) == 5 and sum(len(e.examples) for e in mine) == 5
    assert state == GroupState.fold(store.read(gid))


def parse_or_error(line: str) -> bool:
    """Whether the protocol parser rejects ``line``."""
    from hpo.trial.protocol import ProtocolError, parse_line

    try:
        parse_line(line)
    except ProtocolError:
        return True
    return False


def test_the_views_show_the_rejected_lines(store, workdir):
    from rich.console import Console

    from hpo.engine.plans import Plan
    from hpo.views.lines import LineProgress
    from hpo.views.overview import overview
    from hpo.views.records import group_summary, trial_records
    from hpo.views.status import status_view

    (workdir / "hostile.txt").write_text("@hpo loss=1_000\n@hpo step=-1 loss=2\n")
    gid = make(store, workdir, SPEC.format(python=sys.executable))
    console = Console(record=True, width=200)
    engine = Engine(store, gid, poll_interval=0.01)
    engine.listeners.append(LineProgress(console))
    state = engine.run()
    printed = console.export_text()
    assert "report line" in printed and "rejected" in printed and "1_000" in printed
    status = Console(record=True, width=200)
    status.print(status_view(overview(state, Plan())))
    text = status.export_text()
    assert "report lines rejected: 4 in 2 trials" in text and "1_000" in text
    assert group_summary(state)["bad_lines"] == 4
    assert [r["bad_lines"] for r in trial_records(state)] == [2, 2]


def test_the_largest_step_sqlite_stores_is_recorded_exactly(store, workdir):
    """A trial's step up to 2**63 - 1 (the contract's limit) is recorded as printed, in both line
    forms, and not rounded through a float on the way."""
    (workdir / "hostile.txt").write_text(
        '@hpo {"step": 9007199254740993, "loss": 5}\n@hpo step=9223372036854775806 loss=4\n')
    gid = make(store, workdir, SPEC.format(python=sys.executable).replace(
        "hpo.report(step=7,", "hpo.report(step=2**63 - 1,"))
    state = Engine(store, gid, poll_interval=0.01).run()
    assert state.status == "succeeded", state.reason
    for t in state.trials.values():
        assert t.status == "succeeded" and t.rejected == 0, t.rejected_examples
        assert [s for s, _ in t.curves["loss"]] == [9007199254740993, 2**63 - 2, 2**63 - 1]
    assert state == GroupState.fold(store.read(gid))
    write_snapshot(store, state)
    assert store.integrity_check() == "ok"
