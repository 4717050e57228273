"""Checkpoints that follow a trial to where it runs, for runners whose trials do not share the
engine's filesystem (another host, a Dask worker).

The engine keeps every trial's checkpoint folder on its own machine (``HPO_CHECKPOINT_DIR`` in
the launch: the trial's own folder, or the one of the trial it continues). Such a runner sends
that folder, as a tar stream over its own channel, to a folder on the machine where the attempt
runs before it starts, points the trial at that local copy (:func:`relocate`), and fetches the
copy back into the engine's folder when the attempt ends (:func:`unpack` replaces the folder's
contents whole, so what the trial deleted is gone here too). A folder larger than the runner's
``checkpoint_limit`` never travels: the trial fails with :class:`CheckpointTooLarge`'s reason
rather than continue a checkpoint it does not have. Each transfer's bytes and seconds are a
:class:`Transfer`, recorded in the attempt's launch handle (sent) and its end (fetched).
"""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable

from hpo.contracts.runner import Exited, Launch
from hpo.errors import HpoError
from hpo.trial import CHECKPOINT_DIR_ENV

DEFAULT_LIMIT = 2 * 1024 ** 3  # bytes: a checkpoint larger than this is not copied by default


class CheckpointTooLarge(HpoError):
    """A checkpoint folder is over the runner's ``checkpoint_limit``: the trial fails, saying so
    (it is not run again elsewhere: it would not fit there either)."""


class CheckpointTransferFailed(HpoError):
    """A checkpoint could not be sent or fetched (the channel broke, the archive was unreadable)."""


@dataclass(frozen=True)
class Transfer:
    """One checkpoint transfer: the tar stream's size and how long it took."""

    bytes: int
    seconds: float

    def record(self) -> dict[str, Any]:
        return {"bytes": self.bytes, "seconds": round(self.seconds, 3)}


def local_folder(launch: Launch) -> Path | None:
    """The engine's checkpoint folder for ``launch`` (None: the launch names none)."""
    raw = launch.env.get(CHECKPOINT_DIR_ENV)
    return Path(raw) if raw else None


def relocate(launch: Launch, there: str) -> Launch:
    """``launch`` pointed at the checkpoint folder ``there`` on the machine that runs it: in
    ``HPO_CHECKPOINT_DIR`` and wherever ``{{ checkpoint_dir }}`` put the engine's path in the
    command."""
    here = launch.env.get(CHECKPOINT_DIR_ENV)
    if not here:
        return launch
    return dataclasses.replace(launch, env={**launch.env, CHECKPOINT_DIR_ENV: there},
                               command=launch.command.replace(here, there))


def too_large(size: int, limit: int, where: str) -> CheckpointTooLarge:
    return CheckpointTooLarge(
        f"its checkpoint folder {where} holds more than the runner's checkpoint_limit of "
        f"{limit} bytes (at least {size}); it does not travel with the trial: raise "
        "checkpoint_limit, or save less")


def folder_bytes(folder: Path) -> int:
    """The bytes of the regular files under ``folder`` (0 when it does not exist)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                total += os.path.getsize(path)
    return total


class _Counted(io.RawIOBase):
    """A write-only stream that counts what passes and refuses more than ``limit`` bytes."""

    def __init__(self, sink: IO[bytes], limit: int, where: str):
        self.sink, self.limit, self.where, self.count = sink, limit, where, 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self.count += len(data)
        if self.count > self.limit:
            raise too_large(self.count, self.limit, self.where)
        self.sink.write(data)
        return len(data)


def write_tar(folder: Path, sink: IO[bytes], limit: int = DEFAULT_LIMIT) -> int:
    """Write ``folder`` (its contents; nothing when it does not exist) as a tar stream to
    ``sink``; the stream's size. Raises :class:`CheckpointTooLarge` before writing when its
    files alone are over ``limit``, and as soon as the stream passes it."""
    size = folder_bytes(folder)
    if size > limit:
        raise too_large(size, limit, str(folder))
    counted = _Counted(sink, limit, str(folder))
    with tarfile.open(fileobj=counted, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        if folder.is_dir():
            for entry in sorted(folder.iterdir()):
                tar.add(entry, arcname=entry.name)
    return counted.count


def pack(folder: Path, limit: int = DEFAULT_LIMIT) -> bytes:
    """``folder`` as tar bytes (see :func:`write_tar`)."""
    buffer = io.BytesIO()
    write_tar(folder, buffer, limit)
    return buffer.getvalue()


class _Limited(io.RawIOBase):
    """A read-only stream that counts what passes and refuses more than ``limit`` bytes."""

    def __init__(self, source: IO[bytes], limit: int, where: str):
        self.source, self.limit, self.where, self.count = source, limit, where, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self.source.read(len(buffer))
        self.count += len(data)
        if self.count > self.limit:
            raise too_large(self.count, self.limit, self.where)
        buffer[:len(data)] = data
        return len(data)


def unpack(source: IO[bytes] | bytes, folder: Path, limit: int = DEFAULT_LIMIT, where: str = "",
           before_swap: Callable[[], None] = lambda: None) -> int:
    """Replace ``folder``'s contents with the tar stream ``source``; the stream's size.

    The archive is unpacked beside the folder first (tarfile's ``data`` filter: no absolute
    paths, no ``..``, no devices, no links out of it) and swapped in only once complete, so a
    broken or oversized transfer leaves the folder as it was; so does one that ``before_swap``
    (called once the archive is read: did its sender end well?) raises for. An empty archive
    leaves no folder where there was none.
    """
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    folder.parent.mkdir(parents=True, exist_ok=True)
    incoming = Path(tempfile.mkdtemp(prefix=f".{folder.name}.incoming-", dir=folder.parent))
    counted = _Limited(source, limit, where or str(folder))
    try:
        with tarfile.open(fileobj=counted, mode="r|") as tar:
            tar.extractall(incoming, filter="data")
        counted.read()  # the rest of the stream (tar's padding): counted, and the sender not blocked
        before_swap()
    except CheckpointTooLarge:
        shutil.rmtree(incoming, ignore_errors=True)
        raise
    except (tarfile.TarError, OSError) as exc:
        shutil.rmtree(incoming, ignore_errors=True)
        raise CheckpointTransferFailed(f"the checkpoint archive from {where or 'the trial'} "
                                       f"could not be unpacked: {exc}") from None
    except BaseException:
        shutil.rmtree(incoming, ignore_errors=True)
        raise
    if not any(incoming.iterdir()) and not folder.exists():
        incoming.rmdir()
        return counted.count
    old = folder.with_name(f".{folder.name}.old-{os.getpid()}-{time.monotonic_ns()}")
    if folder.exists():
        folder.rename(old)
    incoming.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    return counted.count


def fetched(exited: Exited, transfer: Transfer | None = None, error: Exception | None = None) -> Exited:
    """``exited`` with what fetching its checkpoint back did: the transfer in its details, or the
    error that makes it failed (a checkpoint lost on the way is the infrastructure's fault, so
    the attempt is ``lost`` and runs again; one over the limit is the trial's)."""
    if error is None:
        if transfer is None:
            return exited
        return dataclasses.replace(exited, details={**exited.details, "checkpoint_fetched": transfer.record()})
    reason = f"its checkpoint could not be fetched back: {error}"
    if exited.reason:
        reason = f"{exited.reason}; {reason}"
    if exited.status == "stopped":  # stopped on purpose: it stays stopped, and is not run again
        return dataclasses.replace(exited, reason=reason)
    return dataclasses.replace(exited, status="failed", reason=reason,
                               lost=exited.lost or not isinstance(error, CheckpointTooLarge))
