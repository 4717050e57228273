"""Where trials run, for runners with several places (SSH hosts, docker daemons): each one's
slots and GPUs, and the error a runner raises when no place can take a trial."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

from hpo.errors import HpoError
from hpo.runkit.gpus import GpuPool


class RunnerUnavailable(HpoError):
    """The runner has nowhere to start a trial (every host down, no GPU big enough...)."""


class BackendUnreachable(RunnerUnavailable):
    """The runner cannot reach its backend at all (no scheduler, no docker daemon, no host up):
    no trial can start anywhere, so the engine holds them pending instead of failing them one by
    one, for at most ``run.backend_wait`` seconds (see :mod:`hpo.engine.backend`)."""


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
