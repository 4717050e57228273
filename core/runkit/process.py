"""An attempt that is a process group on this machine, and the shell wrapper that lets an engine
which died learn how such an attempt ended.

:class:`ProcessAttempt` is led by one process in its own session (its pid is also its process
group). Started by this runner, it is our child: its status comes from ``waitpid``, and it is
reaped only after what is left of its group was killed, so its pid cannot be reused meanwhile.
Found again after a crash (:meth:`ProcessAttempt.find`), its status comes from the exit-status
file it writes, and its liveness from its :class:`~hpo.runkit.procs.ProcessRecord`: a zombie is
not alive, and a pid that now names another process is neither followed nor signalled. When it
ends, or is found gone, what it left is killed: its process group, and every process that
carries its marker (:mod:`hpo.runkit.markers`), which is how a ``setsid`` or double-forked
descendant is found.

:data:`WRAPPER` is ``/bin/sh`` code that runs a trial's command and records its exit status in
the attempt folder; :func:`wrapper_argv` is the command line that runs it, :func:`spawn` starts
it in a new session at the cost of one ``posix_spawn``, and :func:`wrappers_of` finds those still
running for an attempt folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil

from hpo.contracts.runner import Launch
from hpo.runkit.attempt import Attempt
from hpo.runkit.exits import EXIT_FILE, VANISHED, read_exit_file
from hpo.runkit.markers import Sweeps, kill_marked, token_in
from hpo.runkit.procs import GONE, RUNNING, ZOMBIE, ProcessRecord

# $1: the user's command, $2: the attempt's folder (absolute), $3: the workdir. The wrapper opens
# its own log files (appending) and changes to the workdir, so starting a trial costs the engine
# no file-system call. The subshell keeps `exit` in the command from skipping the bookkeeping.
# The wrapper outlives the SIGTERM of a stop, so the command has its grace period and its status
# is recorded. So does the subshell, until the program it runs has ended: a shell takes a trapped
# signal only after its foreground command, so a trial that saves its work on SIGTERM is not cut
# short, and the rest of the command does not run (the programs it starts get SIGTERM's default
# action back). The subshell then exits with the program's status, or 143 for a 0: it cannot
# tell a program that exited 0 from a builtin (`wait`, a loop) the signal interrupted, and a
# stopped trial must not pass for one that finished. The status is written with one
# `echo` (a shell builtin: no `mv` to fork and exec); a reader takes it only once its newline is
# there, so a half-written file is never read as a status.
SUBSHELL = "( trap 'rc=$?; [ $rc -ne 0 ] || rc=143; exit $rc' TERM; eval \"$1\" )"
WRAPPER = (
    'trap : TERM; exec >>"$2/stdout.log" 2>>"$2/stderr.log" && cd -- "$3" || exit 126; '
    + SUBSHELL + '; rc=$?; echo $rc > "$2/exit_code"; exit $rc'
)
WRAPPER_NAME = "hpo-trial"  # $0 of the wrapper, how wrappers_of recognises it

# signals Python ignores that a trial must get back with their default action (as subprocess does)
_RESET_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, name)
)
_SPAWN = {"session": hasattr(os, "posix_spawn")}  # False once posix_spawn cannot start a session

# Children a runner left running when it closed without stopping them (the engine crashed, or
# lost its lease): reaped by a later start in this process, like subprocess does for its
# forgotten Popens.
FORGOTTEN: set[int] = set()


def wrapper_argv(launch: Launch, shell: str = "/bin/sh") -> list[str]:
    """The command line that runs ``launch.command`` under :data:`WRAPPER`."""
    return [shell, "-c", WRAPPER, WRAPPER_NAME, launch.command,
            os.path.abspath(launch.trial_dir), str(launch.workdir)]


def spawn(argv: list[str], env: Mapping[bytes, bytes] | Mapping[str, str]) -> tuple[int, subprocess.Popen | None]:
    """Start ``argv`` in a new session, stdin, stdout and stderr on ``/dev/null``; its pid, and
    the ``Popen`` where ``posix_spawn`` cannot start a session here (keep it referenced: a
    collected ``Popen`` of a running child gets reaped behind our back)."""
    if _SPAWN["session"]:
        try:  # a vfork and an exec, no Python work in the child
            return os.posix_spawn(
                argv[0], argv, env, setsid=True, setsigdef=_RESET_SIGNALS,
                file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDWR, 0),
                              (os.POSIX_SPAWN_DUP2, 0, 1), (os.POSIX_SPAWN_DUP2, 0, 2)],
            ), None
        except NotImplementedError:  # no POSIX_SPAWN_SETSID in this libc
            _SPAWN["session"] = False
    popen = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    return popen.pid, popen


def wrappers_of(trial_dir: str) -> list[ProcessRecord]:
    """The wrappers still running for the attempt folder ``trial_dir``, found by their command
    line (an engine that crashed between a start and its record has nothing else to go by)."""
    want = ["-c", WRAPPER, WRAPPER_NAME]
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        argv = proc.info["cmdline"] or []
        if argv[1:4] == want and len(argv) > 5 and argv[5] == trial_dir and proc.pid != os.getpid():
            found.append(ProcessRecord.of(proc.pid))
    return found


def reap(pid: int, block: bool = False) -> bool:
    """Reap our child ``pid``; True once it is reaped (or is not our child)."""
    try:
        return os.waitpid(pid, 0 if block else os.WNOHANG)[0] != 0
    except ChildProcessError:
        return True


def reap_forgotten() -> None:
    """Reap the children closed runners left running that have ended since."""
    for pid in list(FORGOTTEN):
        if reap(pid):
            FORGOTTEN.discard(pid)


class ProcessAttempt(Attempt):
    """An attempt led by ``record.pid``, in its own session, on this machine.

    ``child``: this process started it (and reaps it). ``exit_file``: where the attempt writes
    its exit status (``trial_dir/exit_code`` by default), the only way to learn the status of
    an attempt found again after a crash. ``sweeps``: the runner's
    :class:`~hpo.runkit.markers.Sweeps`, which kill what the attempt left outside its group when
    it ends (without: at once).
    """

    def __init__(self, launch: Launch, record: ProcessRecord, *, child: bool,
                 exit_file: Path | None = None, sweeps: Sweeps | None = None, **kw: Any):
        super().__init__(launch, **kw)
        self.sweeps = sweeps or Sweeps(interval=0, share=1)
        self.record = record
        self.child = child
        self.exit_file = exit_file or launch.trial_dir / EXIT_FILE
        self.code: int | None = None  # our child's status once it ended (it is reaped at release)
        self.reaped = False
        self.popen: subprocess.Popen | None = None  # kept so subprocess never reaps it behind our back

    @classmethod
    def start(cls, launch: Launch, env: Mapping[str, str] | None = None, shell: str = "/bin/sh",
              **kw: Any) -> ProcessAttempt:
        """Start ``launch.command`` under :data:`WRAPPER` in a new session, with ``env`` (by
        default this process's environment plus ``launch.env``)."""
        pid, popen = spawn(wrapper_argv(launch, shell), env if env is not None else {**os.environ, **launch.env})
        att = cls(launch, ProcessRecord.of(pid), child=True, **kw)
        att.popen = popen
        return att

    @classmethod
    def find(cls, launch: Launch, handle: dict[str, Any], offset: int, **kw: Any) -> ProcessAttempt | None:
        """The attempt a handle made by :meth:`handle` names, found again after a crash; None
        when it is gone (what is left of its group is killed, unless the pid is another's, and
        so is every process that carries its marker)."""
        record = ProcessRecord.from_handle(handle)
        exit_file = kw.pop("exit_file", None) or launch.trial_dir / EXIT_FILE
        if record is None:  # a finished attempt adopted by its folder: no process to follow
            if not handle.get("finished") or read_exit_file(exit_file) is None:
                kill_marked([token_in(launch.env)])
                return None
            record = ProcessRecord(0)
        if read_exit_file(exit_file) is None:
            state = record.state()
            if state != RUNNING:
                if state in (ZOMBIE, GONE):
                    record.signal_group(signal.SIGKILL)
                kill_marked([token_in(launch.env)])
                return None
        started = handle.get("started")
        return cls(launch, record, child=False, exit_file=exit_file, offset=offset,
                   started=None if started is None else float(started), **kw)

    def handle(self) -> dict[str, Any]:
        """What the engine records to find the attempt again: the process record and the start."""
        return {**self.record.to_handle(), "started": self.started}

    def send(self, sig: int) -> None:
        if self._signal_group(sig) or not self.child or self.code is not None:
            return
        try:  # our child, right after the fork, may not lead its own session yet
            os.kill(self.record.pid, sig)
        except ProcessLookupError:
            pass

    def _signal_group(self, sig: int) -> bool:
        """Signal the attempt's group. An unreaped child's pid cannot be another process's, so
        it needs no identity check; any other pid goes through its record."""
        if not (self.child and not self.reaped):
            return self.record.signal_group(sig)
        try:
            os.killpg(self.record.pid, sig)
            return True
        except (ProcessLookupError, PermissionError):
            return False

    def ended(self) -> bool:
        return self.exit_status() is not None

    def exit_status(self) -> int | str | None:
        if self.child:
            code = self._child_status()
            if code is not None or self.child:
                return code
        code = read_exit_file(self.exit_file)
        if code is not None:
            return code
        if self.record.alive():
            return None
        code = read_exit_file(self.exit_file)  # it may have written it between the two checks
        return VANISHED if code is None else code

    def _child_status(self) -> int | None:
        """Our child's status once it ended; it stays a zombie (its pid reserved) until release."""
        if self.code is not None:
            return self.code
        pid = self.record.pid
        try:
            if hasattr(os, "waitid"):
                info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
                if info is None:
                    return None
                self.code = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
            else:
                done, status = os.waitpid(pid, os.WNOHANG)
                if not done:
                    return None
                self.code, self.reaped = os.waitstatus_to_exitcode(status), True
        except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored): the exit file says it
            self.child = False
            return None
        return self.code

    def release(self) -> None:
        """Kill what is left of the group, reap, then have every process that carries the
        attempt's marker (those that left the group) killed: nothing of the trial outlives it."""
        self._signal_group(signal.SIGKILL)
        if self.child and not self.reaped:
            try:  # right after a fork our child may not lead its own group yet: killpg missed it
                os.kill(self.record.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.reaped = reap(self.record.pid, block=True)
        if self.popen is not None and self.popen.returncode is None:
            self.popen.returncode = self.code if self.code is not None else -signal.SIGKILL
        self.sweeps.ended(token_in(self.launch.env))

    def kill(self) -> None:
        """SIGKILL the whole attempt now and reap it (the runner is closing)."""
        self.release()

    def detach(self) -> None:
        """Leave it running (the runner is closing); a child is reaped once it ends."""
        if self.child and not self.reaped:
            FORGOTTEN.add(self.record.pid)
