"""Pieces the remote runners (ssh, docker, dask) share: exit records, secret redaction, slots."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

from hpo.errors import HpoError
from hpo.runkit.procs import signame
from hpo.runkit.gpus import GpuPool
from hpo.contracts.runner import Exited, Launch

REDACTED = "***"


class RunnerUnavailable(HpoError):
    """The runner has nowhere to start a trial (every host down, no GPU big enough...)."""


def exited(
    launch: Launch,
    code: int | str | None,
    *,
    stop_reason: str | None = None,
    timed_out: bool = False,
    signal_sent: int | None = None,
    output_tail: str = "",
) -> Exited:
    """The :class:`Exited` record of an attempt, like the local runner's.

    ``code``: the exit status (>= 0; a shell reports death by signal N as 128+N), a negative
    signal number, a text saying why there is no status, or None (the process is gone and left
    no status; fine after a stop, which then names the signal the runner sent).
    """
    base = dict(trial_id=launch.trial_id, attempt=launch.attempt, output_tail=output_tail)
    exit_code = code if isinstance(code, int) and code >= 0 else None
    sig = -code if isinstance(code, int) and code < 0 else None
    if isinstance(code, int) and code > 128 and stop_reason is not None:
        sig = code - 128
    if code is None and stop_reason is not None:
        sig = signal_sent
    if timed_out:
        return Exited(status="failed", exit_code=exit_code, signal=sig,
                      reason=stop_reason or "timeout", **base)
    if stop_reason is not None:
        return Exited(status="stopped", exit_code=exit_code, signal=sig, reason=stop_reason, **base)
    if code is None:
        return Exited(status="failed", reason="the process vanished without an exit status", **base)
    if isinstance(code, str):
        return Exited(status="failed", reason=code, **base)
    if code == 0:
        return Exited(status="succeeded", exit_code=0, **base)
    if sig is not None:
        return Exited(status="failed", signal=sig, reason=f"killed by {signame(sig)}", **base)
    return Exited(status="failed", exit_code=code, reason=f"exited with code {code}", **base)


class Redactor:
    """Replaces the values of secret environment variables with ``***`` in text we record."""

    def __init__(self, secrets: Iterable[str] = ()):
        # longest first, so a secret that contains another is replaced whole
        self.secrets = sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text

    def exited(self, ex: Exited) -> Exited:
        if not self.secrets:
            return ex
        return Exited(ex.trial_id, ex.attempt, ex.status, ex.exit_code, ex.signal,
                      self(ex.reason), self(ex.output_tail))


@dataclass
class Machine:
    """One place trials run (an SSH host, a docker daemon): its slots and its GPUs."""

    name: str
    slots: int
    gpus: GpuPool | None = None  # None: not known yet (detected on first need)
    holders: set[Hashable] = field(default_factory=set)

    @property
    def free_slots(self) -> int:
        return self.slots - len(self.holders)

    def fits(self, gpus: int) -> bool:
        if self.free_slots <= 0:
            return False
        return not gpus or (self.gpus is not None and self.gpus.fits(gpus))

    def possible(self, gpus: int) -> bool:
        return not gpus or self.gpus is None or self.gpus.possible(gpus)

    def take(self, key: Hashable, gpus: int) -> tuple[str, ...]:
        devices = self.gpus.acquire(key, gpus) if self.gpus is not None and gpus else ()
        self.holders.add(key)
        return devices

    def claim(self, key: Hashable, devices: Iterable[str]) -> None:
        devices = list(devices)
        if devices and self.gpus is not None:
            self.gpus.claim(key, devices)
        self.holders.add(key)

    def release(self, key: Hashable) -> None:
        self.holders.discard(key)
        if self.gpus is not None:
            self.gpus.release(key)
