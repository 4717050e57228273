"""Attempts lost to the infrastructure run again (``run.max_retries``), and a non-zero exit too
with ``run.retry_on: [exit]``; each retry is an event with its reason. Real engine, real
processes, a real SQLite file."""

import sys
import textwrap

import pytest

from hpo.engine.loop import Engine
from hpo.eventlog.state import GroupState
from hpo.plugins.runners.local import LocalRunner
from hpo.spec import parse_spec
from hpo.errors import SpecError

from .test_engine import make

# fails the first time it runs in a trial's folder, then succeeds
FLAKY = (f"{sys.executable} -c \"import os, hpo; first = not os.path.exists('{{{{ trial_dir }}}}/../tried'); "
         "open('{{ trial_dir }}/../tried', 'w').close(); hpo.report(loss={{ x }}); raise SystemExit(3 if first else 0)\"")
ALWAYS_FAILS = f"{sys.executable} -c \"import hpo; hpo.report(loss={{{{ x }}}}); raise SystemExit(3)\""


def spec(cmd: str, run_extra: str = "", concurrency: int = 2) -> str:
    return textwrap.dedent(f"""
    settings:
      concurrency: {concurrency}
      metric: {{name: loss, optimization: minimize}}
      matrix:
        x: {{values: [1, 2, 3]}}
    run:
      cmd: {cmd}
    """) + "".join(f"  {line}\n" for line in run_extra.splitlines() if line)


def events(store, gid, type_):
    return [s.event for s in store.read(gid) if s.type == type_]


def test_a_non_zero_exit_runs_again_when_the_spec_asks(store, workdir):
    gid = make(store, workdir, spec(FLAKY, "retry_on: [exit]"))
    state = Engine(store, gid, poll_interval=0.01).run()
    assert state.status == "succeeded", state.reason
    assert all(t.status == "succeeded" and t.attempts == 2 and t.retries == 1 for t in state.trials.values())
    retried = events(store, gid, "TrialRetried")
    assert sorted(e.trial_id for e in retried) == [1, 2, 3]
    assert all(e.attempt == 1 and e.retry == 1 and e.max_retries == 2 and "code 3" in e.reason for e in retried)
    assert state == GroupState.fold(store.read(gid))


def test_a_non_zero_exit_is_not_retried_by_default(store, workdir):
    gid = make(store, workdir, spec(FLAKY))
    state = Engine(store, gid, poll_interval=0.01).run()
    assert all(t.status == "failed" and t.attempts == 1 for t in state.trials.values())
    assert events(store, gid, "TrialRetried") == []


def test_retries_end_when_spent_and_the_reason_says_so(store, workdir):
    gid = make(store, workdir, spec(ALWAYS_FAILS, "retry_on: [exit]\nmax_retries: 1"))
    state = Engine(store, gid, poll_interval=0.01).run()
    assert all(t.status == "failed" and t.attempts == 2 and t.retries == 1 for t in state.trials.values())
    assert all("not run again: its 1 retry is spent" in t.reason for t in state.trials.values())
    assert len(events(store, gid, "TrialRetried")) == 3


class StartsOnSecondTry(LocalRunner):
    """A local runner whose first start of each trial fails, as a host that drops at launch."""

    def start(self, launch):
        if launch.attempt == 1:
            raise OSError("connection reset while starting")
        return super().start(launch)


def test_a_start_that_failed_runs_again_without_counting_as_failed(store, workdir):
    gid = make(store, workdir, spec(f"{sys.executable} -c \"import hpo; hpo.report(loss={{{{ x }}}})\""))
    runner = StartsOnSecondTry(LocalRunner.parse_config({}, "runner"))
    state = Engine(store, gid, poll_interval=0.01, runner=runner).run()
    assert state.status == "succeeded", state.reason
    assert all(t.status == "succeeded" and t.attempts == 2 for t in state.trials.values())
    assert all("could not start it: connection reset" in e.reason for e in events(store, gid, "TrialRetried"))


def test_never_more_running_than_the_concurrency_with_retries(store, workdir):
    from ..lifecycle.invariants import most_running

    gid = make(store, workdir, spec(FLAKY, "retry_on: [exit]", concurrency=2))
    Engine(store, gid, poll_interval=0.01).run()
    assert most_running(list(store.read(gid))) <= 2


@pytest.mark.parametrize("bad, says", [("max_retries: -1", "max_retries"), ("retry_on: [timeout]", "retry_on"),
                                       ("max_retries: lots", "max_retries")])
def test_bad_retry_options_are_named(bad, says):
    with pytest.raises(SpecError, match=says):
        parse_spec(spec("echo hi", bad), source="spec.yaml")


def test_the_views_show_the_retries(store, workdir):
    from rich.console import Console

    from hpo.engine.plans import Plan
    from hpo.views.lines import LineProgress
    from hpo.views.overview import overview
    from hpo.views.records import trial_records
    from hpo.views.status import status_view

    gid = make(store, workdir, spec(FLAKY, "retry_on: [exit]"))
    console = Console(record=True, width=200)
    state = Engine(store, gid, poll_interval=0.01, listeners=[LineProgress(console)]).run()
    printed = console.export_text()
    assert printed.count("it runs again (retry 1 of 2)") == 3 and "exited with code 3" in printed
    out = Console(record=True, width=200)
    out.print(status_view(overview(state, Plan())))
    text = out.export_text()
    assert "retried 3 times in 3 trials" in text and "trial 1 (1x, now succeeded): exited with code 3" in text
    assert [r["retries"] for r in trial_records(state)] == [1, 1, 1]


class OneHeld(LocalRunner):
    """A local runner with one attempt lost somewhere that may still run: it holds a slot."""

    def held(self):
        return 1


def test_a_lost_attempt_that_may_still_run_keeps_its_slot(store, workdir):
    from ..lifecycle.invariants import most_running

    cmd = f"{sys.executable} -c \"import time, hpo; time.sleep(0.3); hpo.report(loss={{{{ x }}}})\""
    gid = make(store, workdir, spec(cmd, concurrency=2))
    state = Engine(store, gid, poll_interval=0.01, runner=OneHeld(LocalRunner.parse_config({}, "runner"))).run()
    assert state.status == "succeeded"
    assert most_running(list(store.read(gid))) == 1  # 2 slots, one held by the lost attempt


def test_an_ssh_host_holds_its_lost_attempts_until_lost_after():
    from hpo.plugins.runners._ssh_hosts import Host

    host = Host.__new__(Host)
    host.lost, host.lost_at = [], {}
    host.lose("/runs/g/1-1", None)
    assert host.held(lost_after=300) == 1 and host.held(lost_after=0) == 0
    host.lost = []  # the host came back and the probe killed it
    assert host.held(lost_after=300) == 0
