"""GPU slots: which devices a runner may hand out, and which trial holds which.

A runner that runs GPU trials owns one :class:`GpuPool` per machine. A trial that asks for
``gpus: N`` (``Launch.gpus``) gets N devices no other running trial holds, and sees exactly those
in ``CUDA_VISIBLE_DEVICES``; one that asks for more than are free waits (the runner's
``can_start`` says no), one that asks for more than the machine has fails with that reason.

Where the device list comes from (:func:`detect_gpus`), first match wins:

1. an explicit list in the runner's options (``gpus: [0, 1]``);
2. the ``HPO_GPUS`` environment variable (``HPO_GPUS=0,1``; empty means no GPUs);
3. ``nvidia-smi --query-gpu=index --format=csv,noheader`` when ``nvidia-smi`` is on ``PATH``;
4. otherwise no GPUs.

Detection is lazy: a runner asks only when a trial wants GPUs, or when GPUs were configured, so a
CPU-only group never runs ``nvidia-smi`` and never has its ``CUDA_VISIBLE_DEVICES`` touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Hashable, Mapping, Sequence

from hpo.errors import HpoError

GPUS_ENV = "HPO_GPUS"
VISIBLE_ENV = "CUDA_VISIBLE_DEVICES"
NVIDIA_SMI_QUERY = ("--query-gpu=index", "--format=csv,noheader")


class GpuError(HpoError):
    """GPU detection failed, or a trial asks for more GPUs than a machine has."""


class TooManyGpus(GpuError):
    """A trial asks for more GPUs than any machine of the runner has: it fails and is not run
    again (a retry would not fit either)."""


def parse_gpu_list(text: str) -> list[str]:
    """``"0, 1,2"`` -> ``["0", "1", "2"]``; commas or newlines separate, blanks are skipped."""
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


class GpuDriverError(GpuError):
    """``nvidia-smi`` is there but cannot list the GPUs (no driver loaded, a driver/library
    mismatch): nothing GPU can start on this machine until that is fixed."""


def query_nvidia_smi(executable: str = "nvidia-smi", timeout: float = 20.0) -> list[str] | None:
    """The GPU indices ``nvidia-smi`` lists, or None when it is not installed."""
    path = shutil.which(executable)
    if path is None:
        return None
    try:
        out = subprocess.run(
            [path, *NVIDIA_SMI_QUERY], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GpuDriverError(f"running {path} failed: {exc}") from None
    if out.returncode != 0:
        detail = (out.stderr or out.stdout).strip().splitlines()
        raise GpuDriverError(
            f"{path} {' '.join(NVIDIA_SMI_QUERY)} exited with {out.returncode}: "
            f"{detail[-1] if detail else 'no output'} (set {GPUS_ENV} or the runner's `gpus` "
            "option to name the devices yourself)"
        )
    return parse_gpu_list(out.stdout)


def detect_gpus(
    explicit: Sequence[int | str] | None = None,
    environ: Mapping[str, str] | None = None,
    nvidia_smi: str = "nvidia-smi",
) -> list[str]:
    """The device ids this machine offers, by the rules in the module docstring."""
    if explicit is not None:
        return [str(x).strip() for x in explicit]
    environ = os.environ if environ is None else environ
    if GPUS_ENV in environ:
        return parse_gpu_list(environ[GPUS_ENV])
    found = query_nvidia_smi(nvidia_smi)
    return found or []


class GpuPool:
    """The devices of one machine and the trials holding them."""

    def __init__(self, devices: Sequence[str]):
        if len(set(devices)) != len(devices):
            raise GpuError(f"GPU list names a device twice: {list(devices)}")
        self.devices: tuple[str, ...] = tuple(devices)
        self._held: dict[Hashable, tuple[str, ...]] = {}

    @property
    def total(self) -> int:
        return len(self.devices)

    def free(self) -> list[str]:
        busy = {d for held in self._held.values() for d in held}
        return [d for d in self.devices if d not in busy]

    def fits(self, n: int) -> bool:
        """Whether ``n`` devices are free now."""
        return n <= len(self.free())

    def possible(self, n: int) -> bool:
        """Whether ``n`` devices could ever be free at once on this machine."""
        return n <= self.total

    def acquire(self, key: Hashable, n: int) -> tuple[str, ...]:
        """Hold ``n`` free devices for ``key`` (the lowest-numbered free ones)."""
        if n <= 0:
            return ()
        if not self.possible(n):
            raise TooManyGpus(f"the trial needs {n} GPU(s) but this machine has {self.total} "
                           f"({', '.join(self.devices) or 'none'})")
        free = self.free()
        if len(free) < n:
            raise GpuError(f"the trial needs {n} GPU(s) but only {len(free)} are free")
        self._held[key] = tuple(free[:n])
        return self._held[key]

    def claim(self, key: Hashable, devices: Sequence[str]) -> None:
        """Mark ``devices`` as held by ``key`` (a trial found again after a restart)."""
        devices = tuple(str(d) for d in devices)
        taken = set(devices) - set(self.free())
        if taken:
            raise GpuError(f"GPU(s) {sorted(taken)} are already held by another trial")
        if devices:
            self._held[key] = devices

    def release(self, key: Hashable) -> None:
        self._held.pop(key, None)

    def held(self, key: Hashable) -> tuple[str, ...]:
        return self._held.get(key, ())


def visible_devices_env(devices: Sequence[str]) -> dict[str, str]:
    """The environment a trial holding ``devices`` gets (empty string when it holds none)."""
    return {VISIBLE_ENV: ",".join(devices)}


class MachineGpus:
    """A runner's GPUs on this machine: detected on first need (a CPU-only group never runs
    ``nvidia-smi``), handed out per attempt, claimed again after a reattach."""

    def __init__(self, configured: Sequence[int | str] | None = None):
        self.configured = configured
        self.pool: GpuPool | None = None

    def get(self, needed: int) -> GpuPool | None:
        """The pool, detected on first need; None while GPUs are neither asked for nor set."""
        if self.pool is None and (needed or self.configured is not None or GPUS_ENV in os.environ):
            self.pool = GpuPool(detect_gpus(self.configured))
        return self.pool

    def can_start(self, needed: int) -> bool:
        """``Runner.can_start`` for GPUs: False while too few are free, True if never enough."""
        if not needed:
            return True
        try:
            pool = self.get(needed)
        except GpuError:
            return True  # start() fails the trial with the detection error
        return pool.fits(needed) or not pool.possible(needed)

    def claim(self, key: Hashable, devices: Sequence[str]) -> None:
        """Mark the devices a reattached attempt holds; a changed GPU list leaves it untracked."""
        if devices:
            try:
                self.get(len(devices)).claim(key, devices)
            except GpuError:
                pass

    def release(self, key: Hashable) -> None:
        if self.pool is not None:
            self.pool.release(key)

    def reset(self) -> None:
        """Forget who holds what (the runner let go of every attempt)."""
        if self.pool is not None:
            self.pool = GpuPool(self.pool.devices)
