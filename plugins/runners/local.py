"""The local runner: each trial attempt is a process group on this machine.

The command runs under ``/bin/sh`` in its own session, with stdout and stderr going to files in
the attempt's folder. The kit's wrapper (:data:`hpo.runkit.process.WRAPPER`) records the exit
status in a file, so an engine that died and came back can still learn how an attempt it did
not start ended.

Starting an attempt is on the engine's critical path, so it is kept to one ``posix_spawn`` (a
vfork and an exec, no Python work in the child) and no file-system call at all: the wrapper,
once running, opens its own ``stdout.log``/``stderr.log`` and changes to the workdir. Exits are
noticed through a pidfd per child (no thread per child); an engine that crashed between a start
and its record finds the orphan again by the attempt folder on its command line (``discard``).
Stops, timeouts, exits and reattaching are the kit's (:class:`hpo.runkit.process.ProcessAttempt`).
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hpo.contracts.hookspecs import hookimpl
from hpo.contracts.runner import Launch, Message
from hpo.runkit.attempt import AttemptRunner
from hpo.runkit.exits import EXIT_FILE, read_exit_file
from hpo.runkit.gpus import GpuDriverError, MachineGpus, visible_devices_env
from hpo.runkit.machines import BackendUnreachable
from hpo.runkit.process import ProcessAttempt, reap_forgotten, spawn, wrapper_argv, wrappers_of
from hpo.runkit.procs import ProcessRecord, kill_recorded
from hpo.runkit.env import trial_environment
from hpo.runkit.markers import Sweeps, kill_marked, token_in

from ._local_wrapper import base_env

_HAS_PIDFD = hasattr(os, "pidfd_open")


class LocalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grace_period: float = Field(5.0, ge=0, description="seconds between SIGTERM and SIGKILL")
    shell: str = "/bin/sh"
    gpus: list[int | str] | None = Field(
        None, description="GPU devices trials may hold (default: $HPO_GPUS, else nvidia-smi)"
    )


class LocalAttempt(ProcessAttempt):
    pidfd: int | None = None  # readable once the process has exited (Linux)

    def close_pidfd(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None

    def release(self) -> None:
        super().release()
        self.close_pidfd()


def _open_pidfd(pid: int) -> int | None:
    if not _HAS_PIDFD:
        return None
    try:
        return os.pidfd_open(pid)
    except OSError:  # an old kernel, a seccomp filter, or the process is already gone
        return None


class LocalRunner(AttemptRunner[LocalAttempt]):
    name = "local"
    Config = LocalConfig

    def __init__(self, config: LocalConfig):
        super().__init__(config)
        self._wake: tuple[int, int] | None = None  # a pipe the fallback watcher threads write to
        self.gpus = MachineGpus(config.gpus)
        self.sweeps = Sweeps()  # what ended attempts left outside their groups
        # wait() returns as soon as a trial we started exits (pidfd, else a watcher thread), so
        # the engine need not poll fast to notice exits
        self.wakes_on_exit = _HAS_PIDFD or hasattr(os, "waitid")

    def can_start(self, launch: Launch) -> bool:
        return self.gpus.can_start(launch.gpus)

    def start(self, launch: Launch) -> dict[str, Any]:
        if not os.path.isdir(launch.workdir):  # moved, deleted, or on a disk not mounted now:
            # no trial can start, so the engine holds them (and pauses the group after
            # run.backend_wait) instead of failing each through its retries
            raise BackendUnreachable(f"the trials' working folder {launch.workdir} does not exist "
                                     "(the spec's folder, or run.workdir)")
        env = trial_environment(base_env())
        for key, value in launch.env.items():
            env[os.fsencode(key)] = os.fsencode(value)
        try:
            pool = self.gpus.get(launch.gpus)
        except GpuDriverError as exc:  # no GPU can start here for now: the engine holds the trials
            raise BackendUnreachable(f"the GPU driver does not answer: {exc}") from None
        devices = pool.acquire(launch.key, launch.gpus) if pool is not None else ()
        if pool is not None:
            for key, value in visible_devices_env(devices).items():
                env[os.fsencode(key)] = os.fsencode(value)
        try:
            handle = self._spawn(launch, env)
        except BaseException:
            self.gpus.release(launch.key)
            raise
        return {**handle, "gpus": list(devices)} if devices else handle

    def _spawn(self, launch: Launch, env: dict[bytes, bytes]) -> dict[str, Any]:
        reap_forgotten()
        pid, popen = spawn(wrapper_argv(launch, self.config.shell), env)
        att = LocalAttempt(launch, ProcessRecord.of(pid), child=True,
                           grace_period=self.config.grace_period, sweeps=self.sweeps)
        att.popen, att.pidfd = popen, _open_pidfd(pid)
        if att.pidfd is None:
            self._watch(att)
        self.attempts[launch.key] = att
        return att.handle()

    def _watch(self, att: LocalAttempt) -> None:
        """Where pidfds are missing: a thread that wakes ``wait`` when the process exits."""
        if self._wake is None:
            self._wake = os.pipe()
            os.set_blocking(self._wake[1], False)
        wake, popen, pid = self._wake[1], att.popen, att.record.pid

        def watch() -> None:
            try:
                if hasattr(os, "waitid"):
                    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # leaves it for poll to reap
                elif popen is not None:
                    popen.wait()  # reaps it: poll then reads the exit-status file
                else:
                    return
                os.write(wake, b"x")
            except OSError:
                pass

        threading.Thread(target=watch, daemon=True).start()

    def poll(self) -> list[Message]:
        out = super().poll()
        self.sweeps.due()  # what attempts that ended in a burst left, once a pass is due
        return out

    def wait(self, timeout: float) -> None:
        """Sleep up to ``timeout``, waking as soon as one of our trials exits."""
        fds = [a.pidfd for a in self.attempts.values() if a.pidfd is not None]
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
        att = LocalAttempt.find(launch, handle, offset, grace_period=self.config.grace_period,
                                sweeps=self.sweeps)
        if att is None:
            return False
        if att.exit_status() is None:
            att.pidfd = _open_pidfd(att.record.pid)
        self.attempts[launch.key] = att
        self.gpus.claim(launch.key, handle.get("gpus") or [])
        return True

    def adopt(self, launch: Launch) -> dict[str, Any] | None:
        """A wrapper still running for the attempt's folder, or the exit status it left there."""
        live = wrappers_of(os.path.abspath(launch.trial_dir))
        if live:
            return {**live[0].to_handle(), "started": None}
        if read_exit_file(launch.trial_dir / EXIT_FILE) is not None:
            return {"pid": 0, "finished": True}
        return None

    def discard(self, launch: Launch) -> None:
        d = launch.trial_dir
        for wrapper in wrappers_of(os.path.abspath(d)):
            wrapper.signal_group(signal.SIGKILL)
        kill_recorded(d / "pid")  # written by hpo versions before the wrapper opened its own logs
        kill_marked([token_in(launch.env)])  # and what it left outside its group
        for name in ("stdout.log", "stderr.log", "exit_code", "exit_code.tmp", "pid"):
            (d / name).unlink(missing_ok=True)

    def released(self, att: LocalAttempt) -> None:
        self.gpus.release(att.key)

    def close(self, stop_running: bool) -> None:
        for att in self.attempts.values():
            att.kill() if stop_running else att.detach()
            att.close_pidfd()
        self.attempts.clear()
        self.sweeps.flush()
        self.gpus.reset()


@hookimpl
def hpo_register_runners(register):
    register(LocalRunner)
