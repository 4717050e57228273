"""The attempt base every runner shares (hpo.runkit.attempt): stop, grace period, timeout, and
one exit after the reports, driven by hand with an attempt whose process is a list of signals."""

from __future__ import annotations

import signal
import time

from hpo.contracts.runner import Exited, Reported, RunnerNotice
from hpo.runkit.attempt import Attempt, AttemptRunner

from .conftest import make_launch


class Recorded(Attempt):
    def __init__(self, launch, **kw):
        super().__init__(launch, **kw)
        self.sent: list[int] = []
        self.code: int | None = None

    def send(self, sig):
        self.sent.append(sig)

    def exit_status(self):
        return self.code


class RecordedRunner(AttemptRunner):
    name = "recorded"

    def start(self, launch):
        self.attempts[launch.key] = Recorded(launch, grace_period=0.2)
        return {}


def test_a_stop_is_sigterm_then_sigkill_after_the_grace_period(tmp_path):
    att = Recorded(make_launch(tmp_path, "x"), grace_period=0.2)
    att.stop("enough")
    att.stop("again")
    att.check_time()
    assert att.sent == [signal.SIGTERM] and att.stop_reason == "enough"
    time.sleep(0.25)
    att.check_time()
    att.check_time()
    assert att.sent == [signal.SIGTERM, signal.SIGKILL] and att.signal_sent == signal.SIGKILL
    record = att.exited(None)
    assert (record.status, record.signal, record.reason) == ("stopped", signal.SIGKILL, "enough")


def test_a_timeout_stops_and_fails_the_attempt_but_only_once_it_runs(tmp_path):
    att = Recorded(make_launch(tmp_path, "x", timeout=0.1), grace_period=5)
    att.started = None  # waiting to run: the timeout does not count yet
    time.sleep(0.15)
    att.check_time()
    assert att.sent == [] and not att.timed_out
    att.started = time.time() - 0.2
    att.check_time()
    assert att.sent == [signal.SIGTERM] and att.timed_out
    record = att.exited(143)
    assert (record.status, record.reason) == ("failed", "timed out after 0.1s")


def test_the_runner_delivers_reports_then_one_exit_and_forgets_the_attempt(tmp_path):
    r = RecordedRunner(RecordedRunner.Config())
    launch = make_launch(tmp_path, "x")
    (launch.trial_dir / "stdout.log").write_text("@hpo step=1 loss=2\nnoise\n@hpo loss=1")
    r.start(launch)
    assert [(m.step, m.metrics) for m in r.poll()] == [(1, {"loss": 2.0})]
    r.attempts[launch.key].code = 0
    r.notices.append(RunnerNotice("a host went down"))
    out = r.poll()
    assert [type(m) for m in out] == [RunnerNotice, Reported, Exited]  # queued notices come first
    assert out[1].metrics == {"loss": 1.0} and out[2].status == "succeeded" and "noise" in out[2].output_tail
    r.stop(*launch.key, "too late")  # no longer followed: nothing happens
    assert r.poll() == [] and r.running() == []
