"""``RunnerConformance``: the contract every runner keeps (see ``docs/plugins/runners.md``).

Driven by hand, without an engine: ``start`` returns a JSON handle; ``poll`` returns the
reports in order with growing byte offsets, then exactly one exit per attempt; a non-zero exit
fails the attempt with its output; ``stop`` ends it as ``stopped`` with the reason; a timeout
fails it; params and the environment reach the trial intact (and the command reaches the shell
intact, for runners of shell commands); attempts run side by side; ``close`` lets go of
everything; a stop that races the attempt's own exit ends it exactly once; and a runner that can
``reattach`` picks an attempt up after the given offset, takes neither a zombie nor a process
that reuses the recorded pid for the attempt, and never signals such a process.

Each test starts attempts that behave in a known way: :meth:`RunnerConformance.launch` builds
them from the shell commands in :data:`BEHAVIOURS`. A runner that runs something other than
shell commands overrides ``launch`` (the ``python`` runner's tests bind Python functions).
"""

from __future__ import annotations

import copy
import json
import os
import signal
import time
from pathlib import Path
from typing import Any, ClassVar

import psutil
import pytest
from pydantic import BaseModel

from hpo.contracts.runner import Exited, Launch, Message, Reported, Runner
from hpo.runkit.process import FORGOTTEN
from hpo.runkit.procs import ProcessRecord
from hpo.trial import CHECKPOINT_DIR_ENV, GROUP_ID_ENV, PARAMS_ENV, TRIAL_DIR_ENV, TRIAL_ID_ENV

BEHAVIOURS = {
    "succeed": "echo '@hpo step=1 loss=0.5'; echo hello; echo '@hpo step=2 loss=0.25'",
    "fail": "echo boom >&2; exit 3",
    "hang": "echo '@hpo step=1 loss=1'; sleep 60",
    "slow": "for s in 1 2 3; do echo \"@hpo step=$s loss=$s\"; sleep 0.3; done",
    "quick": "echo '@hpo step=1 loss=0.5'",
    "beat": "echo '@hpo step=1 loss=1'; while :; do echo x >> \"$HPO_TRIAL_DIR/beats\"; sleep 0.05; done",
    "params": "printf '%s' \"$HPO_PARAMS\" > \"$HPO_TRIAL_DIR/params.json\"",
    "quoting": "printf '%s|' \"it's\" 'say \"hi\"' '$HOME' \"a  b\" > \"$HPO_TRIAL_DIR/quoted.txt\"",
}
QUOTED = "it's|say \"hi\"|$HOME|a  b|"
TRICKY_PARAMS = {"s": "it's a \"test\" $(echo no) `no` ; rm -rf x\n", "n": 3, "f": 0.1, "b": True}


class RunnerConformance:
    """Subclass as ``TestMyRunner`` and set ``runner`` and ``options`` (its spec options).

    ``grace_period`` should be small in ``options`` where the runner has one, so stop tests are
    quick. Set ``runs_shell_commands = False`` for a runner that does not run ``Launch.command``.
    """

    runner: ClassVar[type[Runner]]
    options: ClassVar[dict[str, Any]] = {}
    runs_shell_commands: ClassVar[bool] = True
    wait_limit: ClassVar[float] = 30.0  # seconds any single wait may take
    exit_settle: ClassVar[float] = 1.0  # seconds after which a "quick" attempt has surely ended

    def make(self) -> Runner:
        cls = self.runner
        return cls(cls.parse_config(copy.deepcopy(self.options), "runner"))

    @pytest.fixture
    def runners(self):
        """Make runners with ``runners()``; every one is closed (stopping what runs) after."""
        made: list[Runner] = []

        def make() -> Runner:
            made.append(self.make())
            return made[-1]

        yield make
        for r in made:
            r.close(stop_running=True)

    def launch(self, tmp_path: Path, behaviour: str, trial_id: int = 1, attempt: int = 1,
               timeout: float | None = None, params: dict[str, Any] | None = None) -> Launch:
        """An attempt that behaves as ``behaviour`` says (a key of :data:`BEHAVIOURS`)."""
        trial_dir = tmp_path / "trials" / str(trial_id) / f"attempt-{attempt}"
        trial_dir.mkdir(parents=True, exist_ok=True)
        group = f"conformance-{behaviour}"
        env = {
            PARAMS_ENV: json.dumps(params if params is not None else {"x": trial_id}),
            TRIAL_ID_ENV: str(trial_id), GROUP_ID_ENV: group, TRIAL_DIR_ENV: str(trial_dir),
            CHECKPOINT_DIR_ENV: str(trial_dir.parent / "checkpoints"), "HPO_ATTEMPT": str(attempt),
        }
        return Launch(group, trial_id, attempt, BEHAVIOURS[behaviour], env, trial_dir, tmp_path,
                      timeout)

    def drain(self, runner: Runner, until=None, limit: float | None = None) -> list[Message]:
        """Poll until ``until(messages)`` (default: an exit arrived); fail after ``wait_limit``."""
        until = until or (lambda msgs: any(isinstance(m, Exited) for m in msgs))
        messages: list[Message] = []
        deadline = time.monotonic() + (limit or self.wait_limit)
        while time.monotonic() < deadline:
            messages += runner.poll()
            if until(messages):
                return messages
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting; got {messages}")

    @staticmethod
    def exits(messages: list[Message]) -> list[Exited]:
        return [m for m in messages if isinstance(m, Exited)]

    # -- the contract ---------------------------------------------------------------------------

    def test_declares_a_name_a_version_and_a_config(self):
        cls = self.runner
        assert isinstance(cls.name, str) and cls.name, "set `name`: the `runner.kind` in specs"
        assert isinstance(cls.version, str) and cls.version
        assert isinstance(cls.Config, type) and issubclass(cls.Config, BaseModel)

    def test_idle_poll_is_empty(self, runners):
        r = runners()
        assert r.poll() == [] and r.running() == []

    def test_reports_in_order_then_one_exit(self, runners, tmp_path):
        r = runners()
        launch = self.launch(tmp_path, "succeed")
        handle = r.start(launch)
        json.dumps(handle)  # the engine records it in TrialLaunched
        assert r.running() == [launch.key]
        messages = self.drain(r)
        messages += r.poll()
        reports = [m for m in messages if isinstance(m, Reported)]
        assert [(m.step, m.metrics) for m in reports] == [(1, {"loss": 0.5}), (2, {"loss": 0.25})]
        assert all(isinstance(m.offset, int) for m in reports)
        assert 0 < reports[0].offset < reports[1].offset, "offsets must grow"
        (exited,) = self.exits(messages)
        assert (exited.trial_id, exited.attempt, exited.status) == (1, 1, "succeeded")
        assert messages[-1] is exited, "the exit comes after the attempt's reports"
        assert r.running() == [] and r.poll() == []

    def test_a_failing_attempt_is_failed_with_its_output(self, runners, tmp_path):
        r = runners()
        r.start(self.launch(tmp_path, "fail"))
        (exited,) = self.exits(self.drain(r))
        assert exited.status == "failed" and exited.reason
        assert "boom" in exited.output_tail
        if self.runs_shell_commands:
            assert exited.exit_code == 3 and "3" in exited.reason

    def test_stop_ends_an_attempt_as_stopped(self, runners, tmp_path):
        r = runners()
        launch = self.launch(tmp_path, "hang")
        r.start(launch)
        self.drain(r, until=lambda msgs: any(isinstance(m, Reported) for m in msgs))
        r.stop(1, 1, "enough of this")
        (exited,) = self.exits(self.drain(r))
        assert (exited.status, exited.reason) == ("stopped", "enough of this")
        assert r.running() == []

    def test_a_timeout_fails_the_attempt(self, runners, tmp_path):
        r = runners()
        r.start(self.launch(tmp_path, "hang", timeout=0.5))
        (exited,) = self.exits(self.drain(r))
        assert exited.status == "failed" and "timed out" in exited.reason

    def test_params_and_environment_reach_the_trial_intact(self, runners, tmp_path):
        r = runners()
        launch = self.launch(tmp_path, "params", params=TRICKY_PARAMS)
        r.start(launch)
        (exited,) = self.exits(self.drain(r))
        assert exited.status == "succeeded", exited
        assert json.loads((launch.trial_dir / "params.json").read_text()) == TRICKY_PARAMS

    def test_the_command_reaches_the_shell_intact(self, runners, tmp_path):
        if not self.runs_shell_commands:
            pytest.skip("runs_shell_commands = False")
        r = runners()
        launch = self.launch(tmp_path, "quoting")
        r.start(launch)
        (exited,) = self.exits(self.drain(r))
        assert exited.status == "succeeded", exited
        assert (launch.trial_dir / "quoted.txt").read_text() == QUOTED

    def test_attempts_run_side_by_side(self, runners, tmp_path):
        r = runners()
        keys = [(1, 1), (2, 1), (1, 2)]
        for trial_id, attempt in keys:
            r.start(self.launch(tmp_path, "succeed", trial_id=trial_id, attempt=attempt))
        assert sorted(r.running()) == sorted(keys)
        messages = self.drain(r, until=lambda msgs: len(self.exits(msgs)) == 3)
        for key in keys:
            mine = [m for m in messages if (m.trial_id, m.attempt) == key]
            assert [type(m).__name__ for m in mine] == ["Reported", "Reported", "Exited"], key
            assert mine[-1].status == "succeeded"

    def test_close_lets_go_of_everything(self, runners, tmp_path):
        r = runners()
        r.start(self.launch(tmp_path, "hang"))
        r.close(stop_running=True)
        assert r.running() == [] and r.poll() == []

    def test_reattach_picks_up_after_the_offset(self, runners, tmp_path):
        first = runners()
        launch = self.launch(tmp_path, "slow")
        handle = first.start(launch)
        got = self.drain(first, until=lambda msgs: any(isinstance(m, Reported) for m in msgs))
        offset = [m for m in got if isinstance(m, Reported)][-1].offset
        first.close(stop_running=False)  # an engine that dies leaves its trials running
        second = runners()
        if not second.reattach(launch, json.loads(json.dumps(handle)), offset):
            pytest.skip(f"the {self.runner.name} runner does not reattach")
        messages = self.drain(second)
        steps = [m.step for m in messages if isinstance(m, Reported)]
        reported = [m.step for m in got if isinstance(m, Reported)]
        assert reported + steps == [1, 2, 3], "every report exactly once across the two runners"
        assert self.exits(messages)[0].status == "succeeded"

    def test_a_stop_racing_the_attempts_own_exit_ends_it_once(self, runners, tmp_path):
        r = runners()
        ended = self.launch(tmp_path, "quick", trial_id=1)  # stopped after it ended, unpolled
        ending = self.launch(tmp_path, "quick", trial_id=2)  # stopped as it ends
        r.start(ended)
        time.sleep(self.exit_settle)
        r.stop(*ended.key, "too late")
        r.stop(*ended.key, "again")  # a second stop changes nothing
        r.start(ending)
        messages = self.drain(r, until=lambda msgs: any(
            isinstance(m, Reported) and m.trial_id == 2 for m in msgs))
        r.stop(*ending.key, "too late")
        messages += self.drain(r, until=lambda msgs: len(self.exits(messages + msgs)) == 2)
        messages += r.poll()
        for launch in (ended, ending):
            mine = [m for m in messages if (m.trial_id, m.attempt) == launch.key]
            assert [type(m).__name__ for m in mine] == ["Reported", "Exited"], mine
            assert (mine[0].step, mine[0].metrics) == (1, {"loss": 0.5})
            exited = mine[-1]
            assert (exited.status, exited.reason) == ("stopped", "too late") or (
                exited.status == "succeeded" and exited.exit_code in (0, None)), exited
        r.stop(*ended.key, "after the end")  # nothing runs: nothing happens
        assert r.poll() == [] and r.running() == []

    # -- reattaching: the recorded process, and no other ------------------------------------------

    def zombie_of(self, handle: dict[str, Any]) -> int | None:
        """Turn the attempt ``handle`` names into a zombie: its process ended and nobody reaped it
        yet. Returns its pid, or None where that cannot be done here (the runner records no child
        process of this one), which skips the test."""
        record = ProcessRecord.from_handle(handle)
        if record is None:
            return None
        try:
            if psutil.Process(record.pid).ppid() != os.getpid():
                return None
        except psutil.Error:
            return None
        os.killpg(record.pid, signal.SIGKILL)
        deadline = time.monotonic() + self.wait_limit
        while psutil.Process(record.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, f"process {record.pid} did not end"
            time.sleep(0.01)
        return record.pid

    def reused_pid(self, handle: dict[str, Any]) -> dict[str, Any] | None:
        """The handle as if the recorded process had ended and its pid now named a process that
        started later: the recorded start time, one unit earlier. None where the handle records
        no numeric start time (which skips the test)."""
        start = handle.get("start")
        if not handle.get("pid") or isinstance(start, bool) or not isinstance(start, (int, float)):
            return None
        return {**handle, "start": start - 1}

    def test_reattach_does_not_take_a_zombie_for_a_running_attempt(self, runners, tmp_path):
        first = runners()
        launch = self.launch(tmp_path, "hang")
        handle = json.loads(json.dumps(first.start(launch)))
        self.drain(first, until=lambda msgs: any(isinstance(m, Reported) for m in msgs))
        pid = self.zombie_of(handle)
        if pid is None:  # the fixture stops the attempt
            pytest.skip(f"the {self.runner.name} runner's handle names no child process of this one")
        first.close(stop_running=False)  # the engine died, and nobody reaped its trial
        try:
            second = runners()
            if second.reattach(launch, handle, 0):
                (exited,) = self.exits(self.drain(second))
                assert exited.status == "failed", f"a zombie's attempt ended {exited.status}"
        finally:
            FORGOTTEN.discard(pid)
            os.waitpid(pid, 0)

    def test_reattach_leaves_a_process_that_reuses_the_pid_alone(self, runners, tmp_path):
        first = runners()
        launch = self.launch(tmp_path, "beat")
        handle = json.loads(json.dumps(first.start(launch)))
        self.drain(first, until=lambda msgs: any(isinstance(m, Reported) for m in msgs))
        forged = self.reused_pid(handle)
        if forged is None:  # the fixture stops the attempt
            pytest.skip(f"the {self.runner.name} runner's handle records no start time")
        first.close(stop_running=False)  # the engine died; its trial lives on
        try:
            assert not runners().reattach(launch, forged, 0), \
                "reattached to a process that only reuses the recorded pid"
            beats = launch.trial_dir / "beats"
            before = beats.stat().st_size
            time.sleep(0.5)
            assert beats.stat().st_size > before, "the process that reuses the pid was stopped"
        finally:
            assert runners().reattach(launch, handle, 0), "the real record was not found again"
