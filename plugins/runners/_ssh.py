"""Talking to one host with the system OpenSSH client, over a multiplexed master connection.

Every call is ``ssh [options] HOST sh -s`` with a script on stdin (see :mod:`._remote_sh`). The
first call opens a ControlMaster connection (a socket in a private temporary folder); the
following ones reuse it and cost a few milliseconds. ``ControlPersist`` lets the master close by
itself a minute after the last use, so an engine that crashed leaves no ssh process behind for
long; :meth:`SshClient.close` closes it at once.
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


class SshUnavailable(HpoError):
    """The host could not be reached (connection refused, timeout, host key or auth failure)."""


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
    extra: tuple[tuple[str, str], ...] = ()


class SshClient:
    def __init__(self, target: SshTarget, options: SshOptions, control_dir: Path):
        self.target, self.options, self.control_dir = target, options, control_dir
        self._lock = threading.Lock()
        self._connected = False

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

    def run(self, script: str, timeout: float = 60.0) -> bytes:
        """Run ``script`` with ``sh -s`` on the host; its stdout, or raise.

        Raises :class:`SshUnavailable` when ssh itself failed (exit 255 or a timeout), and
        :class:`SshCommandFailed` when the script exited non-zero.
        """
        if not self._connected:
            with self._lock:  # one master per host, not one per concurrent first call
                out = self._run(script, timeout)
                self._connected = True
                return out
        return self._run(script, timeout)

    def _run(self, script: str, timeout: float) -> bytes:
        try:
            proc = subprocess.run(
                [*self.argv(), "sh -s"], input=script.encode(), stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, timeout=timeout + self.options.connect_timeout, check=False,
            )
        except subprocess.TimeoutExpired:
            self._connected = False
            raise SshUnavailable(f"no answer within {timeout + self.options.connect_timeout:g}s") from None
        except OSError as exc:
            raise SshUnavailable(f"cannot run {self.options.executable}: {exc}") from None
        err = proc.stderr.decode("utf-8", "replace").strip()
        if proc.returncode == SSH_FAILED:
            self._connected = False
            raise SshUnavailable(err.splitlines()[-1] if err else "ssh exited with 255")
        if proc.returncode != 0:
            raise SshCommandFailed(err or f"the remote script exited with {proc.returncode}")
        return proc.stdout

    def close(self) -> None:
        """Close the master connection (nothing happens when there is none)."""
        try:
            subprocess.run([*self.argv()[:-1], "-O", "exit", self.target.host],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self._connected = False
