"""Talking to one host with the system OpenSSH client, over a multiplexed master connection.

Every call is ``ssh [options] HOST sh -s`` with a script on stdin (see :mod:`._remote_sh`). The
first call opens a ControlMaster connection (a socket in a private temporary folder); the
following ones reuse it and cost a few milliseconds. ``ControlPersist`` lets the master close by
itself a minute after the last use, so an engine that crashed leaves no ssh process behind for
long; :meth:`SshClient.close` closes it at once.

sshd runs every command through the user's login shell, which may read rc files first (bash
reads ``~/.bashrc`` for ssh commands). So every script starts by printing :data:`READY` on stdout
and stderr: what comes before it is the login shell's, not the script's (a noisy rc file, kept
in :attr:`SshClient.login_noise` and never parsed as the script's answer), and a call that gives
up with no :data:`READY` seen was stuck in the login shell (a slow or waiting rc file), which the
reason says. Every call has a time limit, and a failure quotes ssh's own last words.
"""

from __future__ import annotations

import math
import os
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from hpo.errors import HpoError

SSH_FAILED = 255  # what ssh exits with when the connection (not the remote command) failed
READY = b"@@hpo-ready\n"
PREAMBLE = "echo @@hpo-ready; echo @@hpo-ready >&2\n"
RC_ADVICE = "check its rc files (~/.bashrc, ~/.profile: one that runs `pyenv init`, prints, or waits for input)"


class SshUnavailable(HpoError):
    """The host could not be reached (connection refused, timeout, host key or auth failure).
    ``ran``: the script had begun on the host before the connection failed."""

    ran = False


class SshTimedOut(SshUnavailable):
    """An ssh call gave up at its time limit (in the login shell, or while the script ran)."""


class SshCommandFailed(HpoError):
    """The host answered but the remote script failed."""


@dataclass(frozen=True)
class SshTarget:
    host: str
    port: int | None = None
    user: str | None = None
    identity_file: str | None = None


@dataclass(frozen=True)
class SshOptions:
    executable: str = "ssh"
    known_hosts: str | None = None
    strict_host_key_checking: bool | str = True  # True | False | "accept-new"
    connect_timeout: float = 10.0
    server_alive_interval: float = 5.0
    control_persist: int = 60
    command_timeout: float = 30.0  # seconds a call may take after connecting
    extra: tuple[tuple[str, str], ...] = ()


class SshClient:
    def __init__(self, target: SshTarget, options: SshOptions, control_dir: Path, name: str = ""):
        self.target, self.options, self.control_dir = target, options, control_dir
        self.name = name or target.host
        self._lock = threading.Lock()
        self._connected = False
        self.login_noise = ""  # what the login shell printed before the last script ran

    def argv(self) -> list[str]:
        o, t = self.options, self.target
        args = [
            o.executable,
            "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={max(1, math.ceil(o.connect_timeout))}",
            "-o", f"ServerAliveInterval={max(1, math.ceil(o.server_alive_interval))}",
            "-o", "ServerAliveCountMax=3",
            "-o", "ControlMaster=auto",
            "-o", f"ControlPath={self.control_dir}/%C",
            "-o", f"ControlPersist={o.control_persist}",
            "-o", "LogLevel=ERROR",
        ]
        if o.strict_host_key_checking is False:
            args += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
        else:
            mode = "accept-new" if o.strict_host_key_checking == "accept-new" else "yes"
            args += ["-o", f"StrictHostKeyChecking={mode}"]
            if o.known_hosts:
                args += ["-o", f"UserKnownHostsFile={os.path.expanduser(o.known_hosts)}"]
        if t.port:
            args += ["-p", str(t.port)]
        if t.user:
            args += ["-l", t.user]
        if t.identity_file:
            args += ["-i", os.path.expanduser(t.identity_file), "-o", "IdentitiesOnly=yes"]
        for key, value in o.extra:
            args += ["-o", f"{key}={value}"]
        return args + [t.host]

    def run(self, script: str, timeout: float | None = None) -> bytes:
        """Run ``script`` with ``sh -s`` on the host; its stdout after :data:`READY`, or raise.

        Raises :class:`SshUnavailable` when ssh itself failed (exit 255; :class:`SshTimedOut`
        when it gave up after ``connect_timeout`` + ``timeout`` seconds, by default the
        options' ``command_timeout``), and :class:`SshCommandFailed` when the script exited
        non-zero.
        """
        limit = self.options.command_timeout if timeout is None else timeout
        if not self._connected:
            with self._lock:  # one master per host, not one per concurrent first call
                out = self._run(script, limit)
                self._connected = True
                return out
        return self._run(script, limit)

    def _run(self, script: str, limit: float) -> bytes:
        budget = limit + self.options.connect_timeout
        try:
            proc = subprocess.Popen([*self.argv(), "sh -s"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as exc:
            raise SshUnavailable(f"cannot run {self.options.executable}: {exc}") from None
        try:
            out, err = proc.communicate((PREAMBLE + script).encode(), timeout=budget)
            timed_out = False
        except subprocess.TimeoutExpired:
            out, err = self._give_up(proc)
            timed_out = True
        ran = READY in out or READY in err
        out = self._after_login(out, err)
        err_text = _after(err).decode("utf-8", "replace").strip()
        if timed_out or proc.returncode == SSH_FAILED:
            self._connected = False
            failed = (SshTimedOut(self._timeout_reason(ran, budget)) if timed_out
                      else SshUnavailable(self._failure_reason(err_text, ran)))
            failed.ran = ran
            raise failed
        if proc.returncode != 0:
            raise SshCommandFailed(err_text or f"the remote script exited with {proc.returncode}")
        return out

    def _give_up(self, proc: subprocess.Popen) -> tuple[bytes, bytes]:
        """Kill a call past its limit; what it printed so far. The master connection this call
        started (ControlPersist) holds its pipes open while the remote side hangs: it is closed
        too, and the next call opens a fresh one."""
        proc.kill()
        try:
            return proc.communicate(timeout=1)
        except subprocess.TimeoutExpired:
            self.close()
        try:
            return proc.communicate(timeout=5)
        except subprocess.TimeoutExpired as exc:  # nothing more will come: keep what did
            for pipe in (proc.stdout, proc.stderr):
                pipe.close()
            proc.wait()
            return exc.stdout or b"", exc.stderr or b""

    def _after_login(self, out: bytes, err: bytes) -> bytes:
        """The script's stdout; what the login shell printed before it goes to :attr:`login_noise`."""
        before = b""
        if READY in out:
            before, out = out.split(READY, 1)
        if READY in err:
            before += err.split(READY, 1)[0]
        self.login_noise = before.decode("utf-8", "replace").strip()
        return out

    def _timeout_reason(self, ran: bool, budget: float) -> str:
        if ran:
            return f"the command on {self.name} did not finish within {budget:g}s (command_timeout)"
        printed = f" (it printed {self.login_noise[-200:]!r} first)" if self.login_noise else ""
        return (f"the login shell on {self.name} did not run the command within {budget:g}s{printed}: "
                + RC_ADVICE)

    def _failure_reason(self, err: str, ran: bool) -> str:
        """ssh's own last words (exit 255), or what is known when it said nothing."""
        lines = [line.strip() for line in err.splitlines() if line.strip()]
        if lines:
            return " ".join(line if line[-1] in ".:;!?" else line + "." for line in lines[-3:]).rstrip(".")
        if ran:
            return (f"the connection to {self.name} dropped while the command ran "
                    "(ssh exited with 255 and said nothing more)")
        return "ssh exited with 255 before the command ran and said nothing more"

    def close(self) -> None:
        """Close the master connection (nothing happens when there is none)."""
        try:
            subprocess.run([*self.argv()[:-1], "-O", "exit", self.target.host],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self._connected = False


def _after(err: bytes) -> bytes:
    """Stderr after :data:`READY` (all of it when the script never ran: then it is ssh's)."""
    return err.split(READY, 1)[1] if READY in err else err
