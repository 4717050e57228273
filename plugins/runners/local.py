"""The local runner: each trial attempt is a process group on this machine.

The command runs under ``/bin/sh`` in its own session, with stdout and stderr going to files in
the attempt's folder. A small shell wrapper records the exit status in a file, so an engine that
died and came back can still learn how an attempt it did not start ended.

Starting an attempt is on the engine's critical path, so it is kept to one ``posix_spawn`` (a
vfork and an exec, no Python work in the child) and no file-system call at all: the wrapper,
once running, opens its own ``stdout.log``/``stderr.log`` and changes to the workdir. Exits are
noticed through a pidfd per child (no thread per child); an engine that crashed between a start
and its record finds the orphan again by the attempt folder in its environment (``discard``).
"""

from __future__ import annotations

import errno
import os
import select
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hpo.runkit import procs
from hpo.runkit.gpus import GPUS_ENV, GpuError, GpuPool, detect_gpus, visible_devices_env
from hpo.contracts.hookspecs import hookimpl
from hpo.runkit.env import trial_environment
from hpo.runkit.logtail import LogTail, output_tail
from hpo.contracts.runner import Exited, Launch, Message, Reported, Runner

from ._local_wrapper import (
    EXIT_FILE, FORGOTTEN, WRAPPER, base_env, read_exit_file, reap, reap_forgotten, wrappers_of,
)

# signals Python ignores that a trial must get back with their default action (as subprocess does)
_RESET_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, name)
)
_HAS_PIDFD = hasattr(os, "pidfd_open")


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
    popen: subprocess.Popen | None = None  # only where posix_spawn cannot start a session
    ticks: int | None = None
    boot: str = ""
    stop_reason: str | None = None
    timed_out: bool = False
    kill_at: float | None = None
    child: bool = False  # our own child (we reap it), not one reattached after a crash
    pidfd: int | None = None  # readable once the process has exited (Linux)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_file(self) -> Path:
        return self.launch.trial_dir / EXIT_FILE

    def close_pidfd(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


def _open_pidfd(pid: int) -> int | None:
    if not _HAS_PIDFD:
        return None
    try:
        return os.pidfd_open(pid)
    except OSError:  # an old kernel, a seccomp filter, or the process is already gone
        return None


class LocalRunner(Runner):
    name = "local"
    Config = LocalConfig

    def __init__(self, config: LocalConfig):
        super().__init__(config)
        self._attempts: dict[tuple[int, int], _Attempt] = {}
        self._wake: tuple[int, int] | None = None  # a pipe the fallback watcher threads write to
        self._gpus: GpuPool | None = None
        self._spawn_ok = hasattr(os, "posix_spawn")  # False once it cannot start a session here
        # wait() returns as soon as a trial we started exits (pidfd, else a watcher thread), so
        # the engine need not poll fast to notice exits
        self.wakes_on_exit = _HAS_PIDFD or hasattr(os, "waitid")

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
        if not os.path.isdir(launch.workdir):  # the wrapper's `cd` would fail: say it here
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(launch.workdir))
        env = trial_environment(base_env())
        for key, value in launch.env.items():
            env[os.fsencode(key)] = os.fsencode(value)
        pool = self._gpu_pool(launch.gpus)
        devices = pool.acquire(launch.key, launch.gpus) if pool is not None else ()
        if pool is not None:
            for key, value in visible_devices_env(devices).items():
                env[os.fsencode(key)] = os.fsencode(value)
        try:
            return self._spawn(launch, env, devices)
        except BaseException:
            if pool is not None:
                pool.release(launch.key)
            raise

    def _spawn(self, launch: Launch, env: dict[bytes, bytes], devices: tuple[str, ...]) -> dict[str, Any]:
        d = os.path.abspath(launch.trial_dir)
        argv = [self.config.shell, "-c", WRAPPER, "hpo-trial", launch.command, d, str(launch.workdir)]
        reap_forgotten()
        popen = None
        pid = self._posix_spawn(argv, env) if self._spawn_ok else None
        if pid is None:
            popen = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
            pid = popen.pid
        att = _Attempt(launch, pid, LogTail(launch.trial_dir / "stdout.log"), time.time(), popen,
                       child=True)
        att.ticks, att.boot = procs.start_ticks(pid), procs.boot_id()
        att.pidfd = _open_pidfd(pid)
        if att.pidfd is None:
            self._watch(att)
        self._attempts[launch.key] = att
        handle = {"pid": pid, "ticks": att.ticks, "boot": att.boot, "started": att.started}
        return {**handle, "gpus": list(devices)} if devices else handle

    def _posix_spawn(self, argv: list[str], env: dict[bytes, bytes]) -> int | None:
        """vfork + exec of the wrapper in a new session; None where that is not supported."""
        try:
            return os.posix_spawn(
                argv[0], argv, env, setsid=True, setsigdef=_RESET_SIGNALS,
                file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDWR, 0),
                              (os.POSIX_SPAWN_DUP2, 0, 1), (os.POSIX_SPAWN_DUP2, 0, 2)],
            )
        except NotImplementedError:  # no POSIX_SPAWN_SETSID in this libc
            self._spawn_ok = False
            return None

    def _watch(self, att: _Attempt) -> None:
        """Where pidfds are missing: a thread that wakes ``wait`` when the process exits."""
        if self._wake is None:
            self._wake = os.pipe()
            os.set_blocking(self._wake[1], False)
        wake, popen, pid = self._wake[1], att.popen, att.pid

        def watch() -> None:
            try:
                if popen is not None:
                    popen.wait()
                elif hasattr(os, "waitid"):
                    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # leaves it for poll to reap
                else:
                    return
                os.write(wake, b"x")
            except OSError:
                pass

        threading.Thread(target=watch, daemon=True).start()

    def wait(self, timeout: float) -> None:
        """Sleep up to ``timeout``, waking as soon as one of our trials exits."""
        fds = [a.pidfd for a in self._attempts.values() if a.pidfd is not None]
        if self._wake is not None:
            fds.append(self._wake[0])
        if not fds:
            time.sleep(timeout)
            return
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        if poller.poll(timeout * 1000) and self._wake is not None:
            try:
                os.read(self._wake[0], 4096)
            except BlockingIOError:
                pass

    def reattach(self, launch: Launch, handle: dict[str, Any], offset: int) -> bool:
        pid = int(handle.get("pid", 0))
        exit_known = (launch.trial_dir / EXIT_FILE).exists()
        if not exit_known and not (pid and procs.alive(pid, handle.get("ticks"), handle.get("boot"))):
            procs.kill_group(pid, signal.SIGKILL) if pid and procs.group_alive(pid) else None
            return False
        att = _Attempt(
            launch, pid, LogTail(launch.trial_dir / "stdout.log", offset),
            float(handle.get("started", time.time())), None, handle.get("ticks"), handle.get("boot", ""),
        )
        if not exit_known:
            att.pidfd = _open_pidfd(pid)
        self._attempts[launch.key] = att
        if handle.get("gpus"):
            try:
                self._gpu_pool(len(handle["gpus"])).claim(launch.key, handle["gpus"])
            except GpuError:
                pass  # the GPU list changed since; the attempt keeps running, untracked
        return True

    def discard(self, launch: Launch) -> None:
        d = launch.trial_dir
        for pid in wrappers_of(os.path.abspath(d)):
            try:
                procs.kill_group(os.getpgid(pid), signal.SIGKILL)  # the wrapper's whole group
            except ProcessLookupError:
                pass
        procs.kill_recorded(d / "pid")  # written by hpo versions before the wrapper opened its own logs
        for name in ("stdout.log", "stderr.log", EXIT_FILE, "exit_code.tmp", "pid"):
            (d / name).unlink(missing_ok=True)

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
            att.close_pidfd()
            out.append(self._exited(att, code))
            del self._attempts[key]
            if self._gpus is not None:
                self._gpus.release(key)
        return out

    def _exit_code(self, att: _Attempt) -> int | str | None:
        if att.popen is not None:
            return att.popen.poll()
        if att.child:
            try:
                pid, status = os.waitpid(att.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored): the file says it
                att.child = False
            else:
                return os.waitstatus_to_exitcode(status) if pid else None
        code = read_exit_file(att.exit_file)
        if code is not None:
            return code
        if procs.alive(att.pid, att.ticks, att.boot):
            return None
        code = read_exit_file(att.exit_file)  # it may have written it between the read and the check
        return "the process vanished without an exit status" if code is None else code

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
        for att in self._attempts.values():
            if stop_running:
                procs.kill_group(att.pid, signal.SIGKILL)
                if att.popen is not None:
                    att.popen.wait()
                elif att.child:
                    reap(att.pid, block=True)
            elif att.child and att.popen is None:
                FORGOTTEN.add(att.pid)  # still running: reaped once it ends (next start, or exit)
            att.close_pidfd()
        self._attempts.clear()
        if self._gpus is not None:
            self._gpus = GpuPool(self._gpus.devices)


@hookimpl
def hpo_register_runners(register):
    register(LocalRunner)
