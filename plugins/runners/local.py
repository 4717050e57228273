"""The local runner: each trial attempt is a process group on this machine.

The command runs under ``/bin/sh`` in its own session, with stdout and stderr going to files in
the attempt's folder. A small shell wrapper records the exit status in a file, so an engine that
died and came back can still learn how an attempt it did not start ended.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hpo import procs
from hpo.gpus import GPUS_ENV, GpuError, GpuPool, detect_gpus, visible_devices_env
from hpo.hookspecs import hookimpl
from hpo.logtail import LogTail, output_tail
from hpo.running import Exited, Launch, Message, Reported, Runner

# $1: the user's command, $2: the exit-status file. The subshell keeps `exit` in the command
# from skipping the bookkeeping. The wrapper outlives the SIGTERM of a stop (the subshell gets
# the default action back), so the command has its grace period and its status is recorded.
WRAPPER = 'trap : TERM; ( eval "$1" ); rc=$?; echo $rc > "$2.tmp" && mv "$2.tmp" "$2"; exit $rc'


class LocalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_period: float = Field(5.0, ge=0, description="seconds between SIGTERM and SIGKILL")
    shell: str = "/bin/sh"
    gpus: list[int | str] | None = Field(
        None, description="GPU devices trials may hold (default: $HPO_GPUS, else nvidia-smi)"
    )


@dataclass
class _Attempt:
    launch: Launch
    pid: int
    tail: LogTail
    started: float  # time.time() of the start
    popen: subprocess.Popen | None = None
    ticks: int | None = None
    boot: str = ""
    stop_reason: str | None = None
    timed_out: bool = False
    kill_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_file(self) -> Path:
        return self.launch.trial_dir / "exit_code"


class LocalRunner(Runner):
    name = "local"
    Config = LocalConfig

    def __init__(self, config: LocalConfig):
        super().__init__(config)
        self._attempts: dict[tuple[int, int], _Attempt] = {}
        self._exit_event = threading.Event()  # set by a child's watcher thread when it exits
        self._gpus: GpuPool | None = None

    def _gpu_pool(self, needed: int) -> GpuPool | None:
        """The GPU pool, detected on first need; None while GPUs are neither asked for nor set."""
        if self._gpus is None and (needed or self.config.gpus is not None or GPUS_ENV in os.environ):
            self._gpus = GpuPool(detect_gpus(self.config.gpus))
        return self._gpus

    def can_start(self, launch: Launch) -> bool:
        if not launch.gpus:
            return True
        try:
            pool = self._gpu_pool(launch.gpus)
        except GpuError:
            return True  # start() fails the trial with the detection error
        return pool.fits(launch.gpus) or not pool.possible(launch.gpus)

    def start(self, launch: Launch) -> dict[str, Any]:
        env = {**os.environ, **launch.env}
        pool = self._gpu_pool(launch.gpus)
        devices = pool.acquire(launch.key, launch.gpus) if pool is not None else ()
        if pool is not None:
            env.update(visible_devices_env(devices))
        try:
            return self._spawn(launch, env, devices)
        except BaseException:
            if pool is not None:
                pool.release(launch.key)
            raise

    def _spawn(self, launch: Launch, env: dict[str, str], devices: tuple[str, ...]) -> dict[str, Any]:
        d = launch.trial_dir
        with open(d / "stdout.log", "ab") as out, open(d / "stderr.log", "ab") as err:
            popen = subprocess.Popen(
                [self.config.shell, "-c", WRAPPER, "hpo-trial", launch.command, str(d / "exit_code")],
                cwd=launch.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        threading.Thread(target=self._watch, args=(popen,), daemon=True).start()
        att = _Attempt(launch, popen.pid, LogTail(d / "stdout.log"), time.time(), popen)
        att.ticks, att.boot = procs.start_ticks(popen.pid), procs.boot_id()
        (d / "pid").write_text(f"{popen.pid} {att.ticks} {att.boot}\n")
        self._attempts[launch.key] = att
        handle = {"pid": popen.pid, "ticks": att.ticks, "boot": att.boot, "started": att.started}
        return {**handle, "gpus": list(devices)} if devices else handle

    def _watch(self, popen: subprocess.Popen) -> None:
        popen.wait()
        self._exit_event.set()

    def wait(self, timeout: float) -> None:
        """Sleep up to ``timeout``, waking as soon as one of our children exits."""
        if self._exit_event.wait(timeout):
            self._exit_event.clear()

    def reattach(self, launch: Launch, handle: dict[str, Any], offset: int) -> bool:
        pid = int(handle.get("pid", 0))
        exit_known = (launch.trial_dir / "exit_code").exists()
        if not exit_known and not (pid and procs.alive(pid, handle.get("ticks"), handle.get("boot"))):
            procs.kill_group(pid, signal.SIGKILL) if pid and procs.group_alive(pid) else None
            return False
        att = _Attempt(
            launch, pid, LogTail(launch.trial_dir / "stdout.log", offset),
            float(handle.get("started", time.time())), None, handle.get("ticks"), handle.get("boot", ""),
        )
        self._attempts[launch.key] = att
        if handle.get("gpus"):
            try:
                self._gpu_pool(len(handle["gpus"])).claim(launch.key, handle["gpus"])
            except GpuError:
                pass  # the GPU list changed since; the attempt keeps running, untracked
        return True

    def discard(self, launch: Launch) -> None:
        pid_file = launch.trial_dir / "pid"
        if pid_file.exists():
            parts = pid_file.read_text().split()
            pid, ticks = int(parts[0]), int(parts[1]) if len(parts) > 1 and parts[1] != "None" else None
            if procs.alive(pid, ticks, parts[2] if len(parts) > 2 else None):
                procs.kill_group(pid, signal.SIGKILL)
        for name in ("stdout.log", "stderr.log", "exit_code", "pid"):
            (launch.trial_dir / name).unlink(missing_ok=True)

    def running(self) -> list[tuple[int, int]]:
        return list(self._attempts)

    def stop(self, trial_id: int, attempt: int, reason: str) -> None:
        att = self._attempts.get((trial_id, attempt))
        if att is None or att.stop_reason is not None:
            return
        att.stop_reason = reason
        self._signal(att, signal.SIGTERM)
        att.kill_at = time.monotonic() + self.config.grace_period

    def _signal(self, att: _Attempt, sig: int) -> None:
        procs.kill_group(att.pid, sig)

    def poll(self) -> list[Message]:
        out: list[Message] = []
        now = time.time()
        for key, att in list(self._attempts.items()):
            launch = att.launch
            for report, offset in att.tail.read_reports():
                out.append(Reported(launch.trial_id, launch.attempt, report.step, report.metrics, offset))
            if (
                launch.timeout is not None
                and att.stop_reason is None
                and now - att.started > launch.timeout
            ):
                att.timed_out = True
                self.stop(launch.trial_id, launch.attempt, f"timed out after {launch.timeout:g}s")
            if att.kill_at is not None and time.monotonic() >= att.kill_at:
                self._signal(att, signal.SIGKILL)
                att.kill_at = None
            code = self._exit_code(att)
            if code is None:
                continue
            for report, offset in att.tail.flush_reports():
                out.append(Reported(launch.trial_id, launch.attempt, report.step, report.metrics, offset))
            procs.kill_group(att.pid, signal.SIGKILL)  # nothing of the trial outlives it
            out.append(self._exited(att, code))
            del self._attempts[key]
            if self._gpus is not None:
                self._gpus.release(key)
        return out

    def _exit_code(self, att: _Attempt) -> int | str | None:
        if att.popen is not None:
            return att.popen.poll()
        if att.exit_file.exists():
            try:
                return int(att.exit_file.read_text().strip() or "0")
            except ValueError:
                return "unreadable exit status file"
        if procs.alive(att.pid, att.ticks, att.boot):
            return None
        return "the process vanished without an exit status"

    def _exited(self, att: _Attempt, code: int | str) -> Exited:
        d, launch = att.launch.trial_dir, att.launch
        tail = output_tail(d / "stdout.log", d / "stderr.log")
        if att.tail.protocol_errors:
            tail = "protocol errors:\n" + "\n".join(att.tail.protocol_errors[-5:]) + "\n" + tail
        base = dict(trial_id=launch.trial_id, attempt=launch.attempt, output_tail=tail)
        exit_code = code if isinstance(code, int) and code >= 0 else None
        sig = -code if isinstance(code, int) and code < 0 else None
        if isinstance(code, int) and code > 128 and att.stop_reason is not None:
            sig = code - 128
        if att.timed_out:
            return Exited(status="failed", exit_code=exit_code, signal=sig, reason=att.stop_reason or "timeout", **base)
        if att.stop_reason is not None:
            return Exited(status="stopped", exit_code=exit_code, signal=sig, reason=att.stop_reason, **base)
        if isinstance(code, str):
            return Exited(status="failed", reason=code, **base)
        if code == 0:
            return Exited(status="succeeded", exit_code=0, **base)
        if sig is not None:
            return Exited(status="failed", signal=sig, reason=f"killed by {procs.signame(sig)}", **base)
        return Exited(status="failed", exit_code=code, reason=f"exited with code {code}", **base)

    def close(self, stop_running: bool) -> None:
        if stop_running:
            for att in self._attempts.values():
                procs.kill_group(att.pid, signal.SIGKILL)
                if att.popen is not None:
                    att.popen.wait()
        self._attempts.clear()
        if self._gpus is not None:
            self._gpus = GpuPool(self._gpus.devices)


@hookimpl
def hpo_register_runners(register):
    register(LocalRunner)
