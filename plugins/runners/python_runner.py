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
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field

from hpo.runkit import procs
from hpo.contracts.hookspecs import hookimpl
from hpo.runkit.env import trial_environment
from hpo.runkit.logtail import LogTail, output_tail
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
from hpo.contracts.runner import Exited, Launch, Message, Reported, Runner
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


@dataclass
class _Attempt:
    launch: Launch
    tail: LogTail
    started: float
    pid: int = 0
    ticks: int | None = None
    boot: str = ""
    child: bool = False  # our own child process: reap it with waitpid
    code: int | None = None  # exit status once reaped (negative: killed by that signal)
    thread: threading.Thread | None = None
    outcome: dict[str, str] | None = None  # thread backend: how the call ended
    stop_reason: str | None = None
    timed_out: bool = False
    kill_at: float | None = None


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


class PythonRunner(Runner):
    name = "python"
    Config = PythonConfig

    def __init__(self, config: PythonConfig):
        super().__init__(config)
        self._attempts: dict[tuple[int, int], _Attempt] = {}
        self._imported: Callable[..., Any] | None = None

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
        att = _Attempt(launch, LogTail(paths["stdout"]), time.time(), pid, child=True)
        att.ticks, att.boot = procs.start_ticks(pid), procs.boot_id()
        paths["pid"].write_text(f"{pid} {att.ticks} {att.boot}\n")
        self._attempts[launch.key] = att
        return {"backend": "process", "pid": pid, "ticks": att.ticks, "boot": att.boot,
                "started": att.started}

    def _start_thread(self, launch: Launch, fn: Callable, params: dict) -> dict[str, Any]:
        paths = attempt_paths(launch.trial_dir)
        att = _Attempt(launch, LogTail(paths["stdout"]), time.time())
        lock = threading.Lock()

        def sink(step: int | None, metrics: dict) -> None:
            with lock, open(paths["stdout"], "a", encoding="utf-8") as out:
                out.write(format_report(step, metrics) + "\n")

        trial = trial_from_env(launch.env, params, sink=sink, stopped=lambda: att.stop_reason)

        def body() -> None:
            with open(paths["stderr"], "a", encoding="utf-8") as err:
                att.outcome = run_objective(fn, trial, self.config.metric, sink, err)

        att.thread = threading.Thread(target=body, name=f"hpo-trial-{launch.trial_id}", daemon=True)
        self._attempts[launch.key] = att
        att.thread.start()
        return {"backend": "thread", "started": att.started}

    # -- following -------------------------------------------------------------------------

    def reattach(self, launch: Launch, handle: dict[str, Any], offset: int) -> bool:
        pid = int(handle.get("pid", 0) or 0)
        if handle.get("backend") != "process" or not pid:
            return False  # a thread died with its engine
        exit_known = attempt_paths(launch.trial_dir)["exit"].exists()
        if not exit_known and not procs.alive(pid, handle.get("ticks"), handle.get("boot")):
            return False
        att = _Attempt(launch, LogTail(attempt_paths(launch.trial_dir)["stdout"], offset),
                       float(handle.get("started", time.time())), pid, handle.get("ticks"),
                       handle.get("boot", ""))
        self._attempts[launch.key] = att
        return True

    def discard(self, launch: Launch) -> None:
        paths = attempt_paths(launch.trial_dir)
        procs.kill_recorded(paths["pid"])
        for path in paths.values():
            path.unlink(missing_ok=True)

    def running(self) -> list[tuple[int, int]]:
        return list(self._attempts)

    def stop(self, trial_id: int, attempt: int, reason: str) -> None:
        att = self._attempts.get((trial_id, attempt))
        if att is None or att.stop_reason is not None:
            return
        att.stop_reason = reason
        if att.thread is None:
            _signal(att, signal.SIGTERM)
        att.kill_at = time.monotonic() + self.config.grace_period

    def poll(self) -> list[Message]:
        out: list[Message] = []
        for key, att in list(self._attempts.items()):
            launch = att.launch
            out += self._reports(att, att.tail.read_reports())
            timeout = launch.timeout
            if timeout is not None and att.stop_reason is None and time.time() - att.started > timeout:
                att.timed_out = True
                self.stop(launch.trial_id, launch.attempt, f"timed out after {timeout:g}s")
            overdue = att.kill_at is not None and time.monotonic() >= att.kill_at
            if overdue and att.thread is None:
                _signal(att, signal.SIGKILL)
                att.kill_at = None
            code = self._exit_code(att)
            if code is None and not (overdue and att.thread is not None):
                continue
            out += self._reports(att, att.tail.flush_reports())
            if att.thread is None:
                procs.kill_group(att.pid, signal.SIGKILL)  # nothing of the trial outlives it
            out.append(self._exited(att, code))
            del self._attempts[key]
        return out

    @staticmethod
    def _reports(att: _Attempt, reports: list) -> list[Message]:
        launch = att.launch
        return [Reported(launch.trial_id, launch.attempt, r.step, r.metrics, offset) for r, offset in reports]

    def _exit_code(self, att: _Attempt) -> int | str | None:
        if att.thread is not None:
            return None if att.thread.is_alive() else 0
        if att.child and att.code is None:
            try:
                pid, status = os.waitpid(att.pid, os.WNOHANG)
            except ChildProcessError:
                att.child = False  # reaped elsewhere: fall back to the exit-status file
            else:
                if pid == 0:
                    return None
                att.code = os.waitstatus_to_exitcode(status)
        if att.code is not None:
            return att.code
        exit_file = attempt_paths(att.launch.trial_dir)["exit"]
        if exit_file.exists():
            try:
                return int(exit_file.read_text().strip() or "0")
            except ValueError:
                return "unreadable exit status file"
        if procs.alive(att.pid, att.ticks, att.boot):
            return None
        return "the process vanished without an exit status"

    def _exited(self, att: _Attempt, code: int | str | None) -> Exited:
        launch, paths = att.launch, attempt_paths(att.launch.trial_dir)
        tail = output_tail(paths["stdout"], paths["stderr"])
        if att.tail.protocol_errors:
            tail = "protocol errors:\n" + "\n".join(att.tail.protocol_errors[-5:]) + "\n" + tail
        base = dict(trial_id=launch.trial_id, attempt=launch.attempt, output_tail=tail)
        outcome = att.outcome if att.thread is not None else _read_outcome(paths["result"])
        exit_code = code if isinstance(code, int) and code >= 0 and att.thread is None else None
        sig = -code if isinstance(code, int) and code < 0 else None
        if att.stop_reason is not None:
            reason = att.stop_reason
            if code is None:
                reason += f"; the thread did not stop within {self.config.grace_period:g}s and was left running"
            status = "failed" if att.timed_out else "stopped"
            return Exited(status=status, exit_code=exit_code, signal=sig, reason=reason, **base)
        if outcome is not None:
            return Exited(status=outcome["status"], exit_code=exit_code, reason=outcome["reason"], **base)
        if isinstance(code, str):
            return Exited(status="failed", reason=code, **base)
        if sig is not None:
            return Exited(status="failed", signal=sig, reason=f"killed by {procs.signame(sig)}", **base)
        if code == 0:
            return Exited(status="succeeded", exit_code=0, **base)
        return Exited(status="failed", exit_code=exit_code, reason=f"exited with code {code}", **base)

    def close(self, stop_running: bool) -> None:
        if stop_running:
            for att in self._attempts.values():
                if att.thread is not None:
                    att.stop_reason = att.stop_reason or "the engine closed"
                    continue
                _signal(att, signal.SIGKILL)
                if att.child and att.code is None:
                    try:
                        os.waitpid(att.pid, 0)
                    except ChildProcessError:
                        pass
        self._attempts.clear()


def _signal(att: _Attempt, sig: int) -> None:
    """Signal the attempt's process group, and our own child itself: right after the fork it
    may not have made its own session yet."""
    procs.kill_group(att.pid, sig)
    if att.child and att.code is None:
        try:
            os.kill(att.pid, sig)
        except ProcessLookupError:
            pass


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
