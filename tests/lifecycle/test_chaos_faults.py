"""The chaos suite's fault points: the engine killed (SIGKILL) right before and right after an
append of every event type a group run writes, then `hpo resume` to the end.

The types come from the event vocabulary (``hpo.eventlog.events.EVENT_TYPES``), so a new type is
covered as soon as it exists; only the types a group run cannot write are skipped, each with the
reason. Each run is a hyperband group with ``resume: true`` and a trial stopping rule at
concurrency 2 (real `hpo` processes, real trials, one real SQLite file); ``Stopped`` is also
run with a group stop (an early-stopping entry met mid-search). Each is checked against the
invariants of docs/lifecycle.md "Guarantees" (tests/lifecycle/invariants.py).
"""

import os
import signal
import socket
import subprocess
import sys

import pytest

from hpo.eventlog import events as ev
from hpo.eventlog.store import EventStore

from .conftest import resume_to_the_end, state_of, write_spec
from .invariants import check_invariants

CONCURRENCY = 2

TRAIN = """
import os, time
import hpo
print("@hpo loss=1_000", flush=True)  # a report line that does not parse: counted (ReportsRejected)
if os.environ.get("HPO_TRIAL_ID") == "3" and os.environ.get("HPO_ATTEMPT") == "1":
    raise SystemExit(3)  # trial 3's first attempt fails and runs again (retry_on: [exit])
p = hpo.params()
folder = hpo.checkpoint_dir()
os.makedirs(folder, exist_ok=True)
saved = os.path.join(folder, "epoch")
epoch = int(open(saved).read()) if os.path.exists(saved) else 0
while epoch < int(p["epochs"]):
    epoch += 1
    time.sleep(p["pause"])
    hpo.report(step=epoch, loss=(p["x"] - 0.3) ** 2 + 1 / epoch)
    with open(saved + ".tmp", "w") as fh:
        fh.write(str(epoch))
    os.replace(saved + ".tmp", saved)
"""

# 14 trials (hyperband's three brackets, promotions continuing from their checkpoints; each
# prints a bad report line, and trial 3's first attempt fails and is retried), about 2 s; the threshold rule stops the few trials that start far behind the best (4 to 6)
SPEC = """
    name: g
    settings:
      hyperband:
        max_iter: 4
        eta: 2
        resource: {name: epochs, type: int}
        metric: {name: loss, optimization: minimize}
        resume: true
      concurrency: CONCURRENCY
      matrix:
        x: {uniform: [0, 1]}
    declarations: {pause: PAUSE}
    stopping:
      - RULE
    run:
      cmd: PYTHON train.py
      retry_on: [exit]
    """

CANNOT_WRITE = {
    "StopRequested": "appended by `hpo stop`, never by the engine",
    "PluginFailed": "appended only when a plugin raises or breaks its contract, which a group run "
                    "with the built-in plugins never does",
    "RunnerNoticed": "appended only when a runner loses a host or a daemon (ssh, docker, Dask); "
                     "the local runner has none to lose",
}
# n for the types a group appends many times, so the kill lands mid-group (14 suggestions,
# launches and finishes, 13 to 17 report batches); 1 otherwise
NTH = {"Suggested": 5, "TrialLaunched": 5, "TrialFinished": 5, "MetricReported": 5, "ReportsRejected": 5}
# only an engine that resumes a crashed one reattaches: the first engine is killed here, with
# trials running, and the fault is set on the resume
FIRST_KILL = {"TrialReattached": "after:TrialLaunched:4"}
# the lease is renewed every 5 s (a third of 15 s): that group's trials are slower, so it runs about 10 s
PAUSE = {"LeaseRenewed": 0.7}


TRIAL_RULE = "{kind: threshold, margin: 0.05}"
# a group stop, for Stopped's second case: the first report at or below 0.35 (trial 8 or 9 of
# 14 with this seed) ends the search and stops the trials still running
GROUP_RULE = "{kind: early_stopping, entries: [{metric: loss, value: 0.35, optimization: minimize}]}"


def _cases():
    for name in ev.EVENT_TYPES:
        for when in ("before", "after"):
            marks = [pytest.mark.skip(reason=CANNOT_WRITE[name])] if name in CANNOT_WRITE else []
            yield pytest.param(name, when, TRIAL_RULE, marks=marks, id=f"{when}-{name}")
            if name == "Stopped":
                yield pytest.param(name, when, GROUP_RULE, id=f"{when}-{name}-group")


def _engine(tmp_path, *args, fault=None):
    env = {**os.environ, "HPO_DB": str(tmp_path / ".hpo" / "hpo.db")}
    env.pop("HPO_FAULT", None)
    if fault:
        env["HPO_FAULT"] = fault
    return subprocess.Popen([sys.executable, "-m", "hpo", *args, "--plain"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _killed_by_the_fault(proc, fault: str) -> None:
    rc = proc.wait(timeout=120)
    assert rc == -signal.SIGKILL, f"HPO_FAULT={fault} never fired (exit {rc}): {proc.stderr.read()}"


def _appends_of(tmp_path, pid: int) -> list[list[str]]:
    """The types in each append the engine process ``pid`` made (an append's events share its
    stamp and writer)."""
    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    try:
        rows = [s for s in store.tail(0) if s.writer == f"{socket.gethostname()}:{pid}"]
    finally:
        store.close()
    appends: list[list[str]] = []
    for i, s in enumerate(rows):
        if i == 0 or s.ts != rows[i - 1].ts:
            appends.append([])
        appends[-1].append(s.type)
    return appends


def _landed(tmp_path, pid: int, event_type: str, when: str, n: int) -> None:
    """The kill came right before (after) the n-th append holding ``event_type``."""
    appends = _appends_of(tmp_path, pid)
    holding = [a for a in appends if event_type in a]
    if when == "before":
        assert len(holding) == n - 1, f"killed after {len(holding)} appends of {event_type}, not {n - 1}"
    else:
        assert len(holding) == n and event_type in appends[-1], (
            f"the last append was {appends[-1] if appends else None}, the {len(holding)}th of "
            f"{event_type}; expected the {n}th")


@pytest.mark.slow
@pytest.mark.parametrize("event_type, when, rule", list(_cases()))
def test_a_kill_before_or_after_an_append_keeps_every_invariant(tmp_path, event_type, when, rule):
    (tmp_path / "train.py").write_text(TRAIN)
    spec = (SPEC.replace("PYTHON", sys.executable).replace("CONCURRENCY", str(CONCURRENCY))
            .replace("PAUSE", str(PAUSE.get(event_type, 0.04))).replace("RULE", rule))
    spec_path = write_spec(tmp_path, spec)
    run = ("run", str(spec_path), "--seed", "3")
    n = NTH.get(event_type, 1)
    fault = f"{when}:{event_type}:{n}"
    if event_type in FIRST_KILL:
        first = _engine(tmp_path, *run, fault=FIRST_KILL[event_type])
        _killed_by_the_fault(first, FIRST_KILL[event_type])
        run = ("resume", "g")
    proc = _engine(tmp_path, *run, fault=fault)
    _killed_by_the_fault(proc, fault)
    _landed(tmp_path, proc.pid, event_type, when, n)

    if event_type == "GroupCreated" and when == "before":  # nothing was written: run it again
        again = _engine(tmp_path, *run)
        assert again.wait(timeout=120) == 0, again.stderr.read()
    resume_to_the_end(tmp_path, "g")
    state = state_of(tmp_path, "g")
    assert state.status == "succeeded", state.reason
    if rule == GROUP_RULE:
        assert state.group_stop.policy == "early_stopping" and len(state.trials) < 14
    else:
        assert len(state.trials) == 14
    check_invariants(tmp_path / ".hpo" / "hpo.db", "g", CONCURRENCY)
    for t in state.trials.values():  # every finished trial has its own values
        assert t.status in ("succeeded", "stopped"), (t.trial_id, t.status, t.reason)
        if t.status == "succeeded":
            assert t.last_step == t.params["epochs"]
            assert t.metrics["loss"] == pytest.approx((t.params["x"] - 0.3) ** 2 + 1 / t.last_step)
