"""The ``python`` runner: each trial is a call ``objective(trial)`` of a Python function.

``hpo.optimize`` selects it (``runner: {kind: python, objective: module:function}`` in a spec
does too), so a Python objective gets everything a command gets from the engine: stoppers,
``hpo stop``, resume, replay and every view. Two backends:

- ``process`` (the default): every attempt is a forked process in its own session whose stdout
  and stderr go to the attempt's files, exactly like a local trial. Reports come back through
  the same line protocol; a stop is SIGTERM (raised in the objective as
  :class:`~hpo.api.objective.TrialStopped`, so ``finally`` blocks run) then SIGKILL after the grace
  period; a timeout fails the attempt; a trial outlives an engine killed with ``kill -9`` and a
  resumed engine reattaches it (pid, process start time, boot id, exit-status file).
  One process per attempt, not a worker pool: a pool cannot stop or time out one task, and one
  crashing task breaks the whole pool.
- ``thread``: every attempt is a thread of the engine's process — no fork, shared objects, but
  a stop is cooperative (the next ``trial.report`` raises ``TrialStopped``) and nothing outlives
  the engine.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import IO, Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field

from hpo.contracts.hookspecs import hookimpl
from hpo.runkit.attempt import Attempt, AttemptRunner
from hpo.runkit.process import ProcessAttempt, reap_forgotten
from hpo.runkit.procs import ProcessRecord, kill_recorded
from hpo.runkit.env import trial_environment
from hpo.runkit.markers import Sweeps, kill_marked, token_in
from hpo.api.objective import (
    ObjectiveError,
    TrialStopped,
    attempt_paths,
    bound,
    resolve,
    result_metrics,
    trial_from_env,
)
from hpo.trial.protocol import format_report
from hpo.contracts.runner import Exited, Launch, Message
from hpo.trial import PARAMS_ENV


class PythonConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    objective: str | None = Field(
        None, description="module:function to call (hpo.optimize fills it in)"
    )
    backend: Literal["process", "thread"] = "process"
    metric: str | None = Field(
        None, description="the metric a returned number is reported as (default: value)"
    )
    grace_period: float = Field(5.0, ge=0, description="seconds between SIGTERM and SIGKILL")


LEFT_RUNNING = "the thread did not stop"


class ForkedAttempt(ProcessAttempt):
    """The ``process`` backend's attempt: a forked process that records how the call ended."""

    def exited(self, code: int | str | None) -> Exited:
        outcome = _read_outcome(attempt_paths(self.launch.trial_dir)["result"])
        exit_code = code if isinstance(code, int) and code >= 0 else None
        if self.stop_reason is not None and not self.timed_out and outcome and outcome["status"] == "stopped":
            # the objective honoured the stop (TrialStopped) and its process exited 0: stopped
            return Exited(self.launch.trial_id, self.launch.attempt, "stopped", exit_code,
                          reason=self.stop_reason, output_tail=self.output_tail())
        if self.stop_reason is not None or outcome is None:
            return super().exited(code)
        return Exited(self.launch.trial_id, self.launch.attempt, outcome["status"], exit_code,
                      reason=outcome["reason"], output_tail=self.output_tail())


class ThreadAttempt(Attempt):
    """The ``thread`` backend's attempt: a stop is cooperative (``trial.should_stop``), and a
    thread that ignores it past the grace period is left running."""

    def __init__(self, launch: Launch, **kw: Any):
        super().__init__(launch, **kw)
        self.thread: threading.Thread | None = None
        self.outcome: dict[str, str] | None = None  # how the call ended
        self.abandoned = False

    def send(self, sig: int) -> None:
        self.abandoned = sig == signal.SIGKILL  # a thread cannot be killed: stop waiting for it

    def exit_status(self) -> int | str | None:
        if self.thread is not None and not self.thread.is_alive():
            return 0
        return LEFT_RUNNING if self.abandoned else None

    def exited(self, code: int | str | None) -> Exited:
        base = dict(trial_id=self.launch.trial_id, attempt=self.launch.attempt,
                    output_tail=self.output_tail())
        if self.stop_reason is not None:
            reason = self.stop_reason
            if code == LEFT_RUNNING:
                reason += f"; the thread did not stop within {self.grace_period:g}s and was left running"
            return Exited(status="failed" if self.timed_out else "stopped", reason=reason, **base)
        outcome = self.outcome or {"status": "failed", "reason": "the thread ended without an outcome"}
        return Exited(status=outcome["status"], reason=outcome["reason"], **base)

def run_objective(
    fn: Callable[..., Any], trial: Any, metric: str | None, sink: Callable, err: IO[str]
) -> dict[str, Any]:
    """Call the objective; ``{"status", "reason"}`` says how it ended (tracebacks go to ``err``;
    ``sys.exit(n)`` adds ``"code"``)."""
    try:
        metrics = result_metrics(fn(trial), metric)
        if metrics:
            sink(None, metrics)
        return {"status": "succeeded", "reason": ""}
    except TrialStopped as exc:
        return {"status": "stopped", "reason": str(exc) or "the objective raised TrialStopped"}
    except SystemExit as exc:
        if exc.code in (None, 0):
            return {"status": "succeeded", "reason": ""}
        code = exc.code if isinstance(exc.code, int) else 1
        return {"status": "failed", "reason": f"the objective exited with code {exc.code}", "code": code}
    except BaseException as exc:  # noqa: BLE001 - any failure of user code fails the trial
        traceback.print_exception(exc, file=err)
        err.flush()
        return {"status": "failed", "reason": f"the objective raised {type(exc).__name__}: {exc}"}


class PythonRunner(AttemptRunner[Attempt]):
    name = "python"
    Config = PythonConfig

    def __init__(self, config: PythonConfig):
        super().__init__(config)
        self._imported: Callable[..., Any] | None = None
        self.sweeps = Sweeps()  # what ended attempts' processes left outside their groups

    # -- starting --------------------------------------------------------------------------

    def objective(self, launch: Launch) -> Callable[..., Any]:
        fn = bound(launch.group_id)
        if fn is not None:
            return fn
        if self.config.objective is None:
            raise ObjectiveError(
                f"group {launch.group_id} has no objective to run: it is driven from Python "
                "(ask/tell, or hpo.optimize in a process that ended); continue it with "
                "hpo.load_group(GROUP).ask() or .optimize(objective), or give the spec "
                "`runner: {kind: python, objective: module:function}`"
            )
        if self._imported is None:
            self._imported = resolve(self.config.objective)
        return self._imported

    def start(self, launch: Launch) -> dict[str, Any]:
        fn = self.objective(launch)
        params = json.loads(launch.env.get(PARAMS_ENV) or "{}")
        if self.config.backend == "thread":
            return self._start_thread(launch, fn, params)
        return self._start_process(launch, fn, params)

    def _start_process(self, launch: Launch, fn: Callable, params: dict) -> dict[str, Any]:
        paths = attempt_paths(launch.trial_dir)
        reap_forgotten()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 1
            try:
                os.setsid()
                code = _child(fn, params, launch, self.config.metric)
            finally:
                os._exit(code)
        att = ForkedAttempt(launch, ProcessRecord.of(pid), child=True, exit_file=paths["exit"],
                            grace_period=self.config.grace_period, sweeps=self.sweeps)
        paths["pid"].write_text(att.record.dumps())
        self.attempts[launch.key] = att
        return {"backend": "process", **att.handle()}

    def _start_thread(self, launch: Launch, fn: Callable, params: dict) -> dict[str, Any]:
        paths = attempt_paths(launch.trial_dir)
        att = ThreadAttempt(launch, grace_period=self.config.grace_period)
        lock = threading.Lock()

        def sink(step: int | None, metrics: dict) -> None:
            with lock, open(paths["stdout"], "a", encoding="utf-8") as out:
                out.write(format_report(step, metrics) + "\n")

        trial = trial_from_env(launch.env, params, sink=sink, stopped=lambda: att.stop_reason)

        def body() -> None:
            with open(paths["stderr"], "a", encoding="utf-8") as err:
                att.outcome = run_objective(fn, trial, self.config.metric, sink, err)

        att.thread = threading.Thread(target=body, name=f"hpo-trial-{launch.trial_id}", daemon=True)
        self.attempts[launch.key] = att
        att.thread.start()
        return {"backend": "thread", "started": att.started}

    # -- following -------------------------------------------------------------------------

    def reattach(self, launch: Launch, handle: dict[str, Any], offset: int) -> bool:
        if handle.get("backend") != "process":
            return False  # a thread died with its engine
        att = ForkedAttempt.find(launch, handle, offset, exit_file=attempt_paths(launch.trial_dir)["exit"],
                                 grace_period=self.config.grace_period, sweeps=self.sweeps)
        if att is None:
            return False
        self.attempts[launch.key] = att
        return True

    def poll(self) -> list[Message]:
        out = super().poll()
        self.sweeps.due()  # what attempts that ended in a burst left, once a pass is due
        return out

    def discard(self, launch: Launch) -> None:
        paths = attempt_paths(launch.trial_dir)
        kill_recorded(paths["pid"])
        kill_marked([token_in(launch.env)])  # what it left outside its group
        for path in paths.values():
            path.unlink(missing_ok=True)

    def close(self, stop_running: bool) -> None:
        for att in self.attempts.values():
            if isinstance(att, ThreadAttempt):
                att.stop_reason = att.stop_reason or "the engine closed"  # its next report raises
            elif stop_running:
                att.kill()
            else:
                att.detach()
        self.attempts.clear()
        self.sweeps.flush()

def _child(fn: Callable, params: dict, launch: Launch, metric: str | None) -> int:
    """The forked process of one attempt: redirect output, call the objective, record the end."""
    paths = attempt_paths(launch.trial_dir)
    for fd, path in ((1, paths["stdout"]), (2, paths["stderr"])):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(target, fd)
        os.close(target)
    # whatever sys.stdout was (a terminal, pytest's capture), print() and hpo.report() now
    # write to the attempt's files, line by line
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)
    kept = trial_environment(os.environ)  # the trial is not told where the log is
    os.environ.clear()
    os.environ.update({**kept, **launch.env})
    try:
        os.chdir(launch.workdir)
    except OSError:
        pass
    stopped: list[str] = []

    def on_term(signum: int, frame: Any) -> None:
        if not stopped:
            stopped.append("stopped (SIGTERM)")
            raise TrialStopped("stopped (SIGTERM)")

    signal.signal(signal.SIGTERM, on_term)

    def sink(step: int | None, metrics: dict) -> None:
        sys.stdout.write(format_report(step, metrics) + "\n")
        sys.stdout.flush()

    trial = trial_from_env(launch.env, params, sink=sink, stopped=lambda: stopped[0] if stopped else None)
    outcome = run_objective(fn, trial, metric, sink, sys.stderr)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the bookkeeping below must not be cut short
    code = 0 if outcome["status"] != "failed" else int(outcome.get("code", 1))
    sys.stdout.flush()
    sys.stderr.flush()
    _write(paths["result"], json.dumps(outcome))
    _write(paths["exit"], f"{code}\n")
    return code


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _read_outcome(path: Path) -> dict[str, str] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and data.get("status") in ("succeeded", "failed", "stopped"):
        return {"status": data["status"], "reason": str(data.get("reason", ""))}
    return None


@hookimpl
def hpo_register_runners(register):
    register(PythonRunner)
