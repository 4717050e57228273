"""Checkpoints over the SSH connection: the trial's checkpoint folder is streamed as a tar
archive through the host's master connection before its attempt starts, and back when it ends.

The scripts the runner sends travel on ``sh -s``'s stdin, but an archive needs that stdin
itself, so a transfer is the one call whose command is on the remote command line: ``tar`` and
a folder, read by the user's login shell. The folder (under ``rundir``) may therefore hold only
characters every shell reads literally (:data:`SAFE`). What the login shell prints first ends
before the marker the command prints, as for every other call (see :mod:`._ssh`). A transfer
may take ``checkpoint_timeout`` seconds; a broken link ends it sooner (``ServerAliveInterval``).
"""

from __future__ import annotations

import io
import re
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

from hpo.contracts.runner import Exited, Launch, Message
from hpo.runkit.checkpoints import (CheckpointTooLarge, CheckpointTransferFailed, Transfer, fetched,
                                    local_folder, relocate, unpack, write_tar)

from ._ssh import READY, SSH_FAILED, SshClient, SshCommandFailed, SshUnavailable

SAFE = re.compile(r"[A-Za-z0-9._/+@%=:,-]+")
MAX_NOISE = 1 << 16  # bytes the login shell may print before the marker


def _folder(path: str) -> str:
    if not SAFE.fullmatch(path):
        raise CheckpointTransferFailed(
            f"the remote checkpoint folder {path!r} holds characters a login shell may not read "
            "literally; use a rundir (and a remote $HOME) of letters, digits and ._/+@%=:,-")
    return path


class _Call:
    """One ssh process carrying an archive, its stderr in a file (nothing blocks on it), killed
    when it passes its time limit."""

    def __init__(self, client: SshClient, command: str, stdin: int, timeout: float):
        self.client, self.timeout, self.expired = client, timeout, False
        self.err = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen([*client.argv(), command], stdin=stdin,
                                         stdout=subprocess.PIPE, stderr=self.err)
        except OSError as exc:
            self.err.close()
            raise SshUnavailable(f"cannot run {client.options.executable}: {exc}") from None
        self.timer = threading.Timer(timeout, self._expire)
        self.timer.daemon = True
        self.timer.start()

    def _expire(self) -> None:
        self.expired = True
        self.proc.kill()

    def abandon(self) -> None:
        self.proc.kill()
        try:
            self.ended()
        except (SshUnavailable, SshCommandFailed):
            pass

    def ended(self) -> None:
        """Wait for ssh; raise what went wrong (it timed out, the connection failed, the command did)."""
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
        self.proc.wait()
        self.timer.cancel()
        if self.err.closed:
            return
        self.err.seek(0)
        text = self.err.read().decode("utf-8", "replace").split("@@hpo-ready", 1)[-1].strip()[-500:]
        self.err.close()
        if self.expired:
            raise SshUnavailable(f"the checkpoint transfer with {self.client.name} did not end within "
                                 f"{self.timeout:g}s (checkpoint_timeout)")
        if self.proc.returncode == SSH_FAILED:
            raise SshUnavailable(text or "ssh exited with 255 during the checkpoint transfer")
        if self.proc.returncode != 0:
            raise SshCommandFailed(text or f"the checkpoint transfer exited with {self.proc.returncode}")


def _after_marker(stream: IO[bytes]) -> bytes:
    """Read past the login shell's output up to and including the marker line; what followed it."""
    seen = b""
    while READY not in seen:
        chunk = stream.read1(4096) if hasattr(stream, "read1") else stream.read(4096)
        if not chunk or len(seen) > MAX_NOISE:
            raise CheckpointTransferFailed("the host's login shell did not run the checkpoint "
                                           f"transfer (it printed {seen[-200:]!r})")
        seen += chunk
    return seen.split(READY, 1)[1]


class _Joined(io.RawIOBase):
    def __init__(self, head: bytes, rest: IO[bytes]):
        self.head, self.rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n], self.head = self.head[:n], self.head[n:]
            return n
        data = self.rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def send(client: SshClient, launch: Launch, rundir: str, limit: int, timeout: float) -> tuple[Launch, dict[str, Any]]:
    """Copy the launch's checkpoint folder to ``RUNDIR/checkpoints`` on the host; the launch
    pointed at that copy, and what to add to its handle (``checkpoint_sent``: the remote folder,
    bytes, seconds). A launch without a checkpoint folder goes as it is."""
    local = local_folder(launch)
    if local is None:
        return launch, {}
    remote = _folder(f"{rundir}/checkpoints")
    began = time.monotonic()
    call = _Call(client, f"umask 077 && mkdir -p {remote} && cd {remote} && echo @@hpo-ready "
                         "&& pwd && tar -x -o -f -", subprocess.PIPE, timeout)
    try:
        size: int | None = write_tar(local, call.proc.stdin, limit)
        call.proc.stdin.close()
    except CheckpointTooLarge:
        call.abandon()
        raise
    except OSError:  # the remote end went away: how ssh ended says why
        size = None
    out = call.proc.stdout.read()
    call.ended()
    if size is None:
        raise CheckpointTransferFailed(f"sending the checkpoint to {client.name} broke off")
    there = out.split(READY, 1)[-1].decode("utf-8", "replace").strip().split("\n")[0] or remote
    transfer = Transfer(size, time.monotonic() - began)
    return relocate(launch, there), {"checkpoint_sent": {"path": there, **transfer.record()}}


def fetch(client: SshClient, remote: str, local: Path, limit: int, timeout: float) -> Transfer:
    """Copy the host's folder ``remote`` back into ``local`` (replacing its contents)."""
    began = time.monotonic()
    call = _Call(client, f"echo @@hpo-ready && mkdir -p {_folder(remote)} && cd {remote} "
                         "&& tar -c -f - .", subprocess.DEVNULL, timeout)
    try:
        head = _after_marker(call.proc.stdout)
        # the copy replaces the folder only once ssh said the whole archive came
        size = unpack(_Joined(head, call.proc.stdout), local, limit, where=f"{remote} on {client.name}",
                      before_swap=call.ended)
    except (CheckpointTooLarge, CheckpointTransferFailed) as given_up:
        call.proc.kill()
        try:
            call.ended()
        except SshUnavailable:  # the connection failed: the better reason
            raise
        except SshCommandFailed as exc:
            if call.proc.returncode > 0:  # the remote tar failed, and said why
                raise CheckpointTransferFailed(f"on {client.name}: {exc}") from None
        raise given_up
    return Transfer(size, time.monotonic() - began)


def fetch_back(client: SshClient, remote: str | None, launch: Launch, messages: list[Message],
               limit: int, timeout: float) -> list[Message]:
    """An attempt ended: fetch its checkpoint folder back (when one was sent) and say what that
    did in its :class:`Exited`."""
    local = local_folder(launch)
    if remote is None or local is None:
        return messages
    try:
        transfer, error = fetch(client, remote, local, limit, timeout), None
    except (CheckpointTooLarge, CheckpointTransferFailed) as exc:
        transfer, error = None, exc
    except (SshUnavailable, SshCommandFailed) as exc:
        transfer, error = None, CheckpointTransferFailed(f"from {client.name}: {exc}")
    return [fetched(m, transfer, error) if isinstance(m, Exited) else m for m in messages]
