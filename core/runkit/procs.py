"""Process facts: who a pid is now, whether the process a runner recorded still runs, and
signalling its process group without ever hitting a process that merely reuses its pid.

A pid alone does not name a process: once a process is reaped, the kernel may hand its pid to
any new process. A :class:`ProcessRecord` names one: the pid, when the process started (seconds
after boot) and which boot it belongs to. A record is checked against the live process table
(:meth:`ProcessRecord.state`): the process still runs, is a zombie (it ended and nobody has
reaped it yet: it is not running), is gone, or the pid now belongs to another process (a
different start time, or a record from an earlier boot).

The facts come from psutil (Linux, macOS and the BSDs), never from parsing ``/proc`` by hand:
the start time is ``Process.create_time() - boot_time()``, which on Linux is the kernel's own
start tick, unaffected by changes of the system clock. The boot identity is Linux's random boot
id where the kernel offers one (it stays the same whatever the clock does), and elsewhere the
boot time psutil reports, to the second.
"""

from __future__ import annotations

import os
import signal
import socket
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import psutil

BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")
START_SLACK = 0.005  # seconds: half a Linux clock tick, the coarsest start-time resolution

RUNNING, ZOMBIE, GONE, OTHER = "running", "zombie", "gone", "other"


@lru_cache(maxsize=1)
def boot_id() -> str:
    """This boot's identity (see the module docstring)."""
    try:
        found = BOOT_ID_FILE.read_text().strip()
    except OSError:
        found = ""
    return found or f"boot-{round(psutil.boot_time())}"


def _facts(pid: int) -> tuple[str, float] | None:
    """(psutil status, start time in seconds after boot) of ``pid``; None when there is none."""
    try:
        proc = psutil.Process(pid)
        with proc.oneshot():
            status = proc.status()
            start = proc.create_time() - psutil.boot_time()
    except psutil.ZombieProcess:  # some platforms answer little about a zombie: it is not running
        return psutil.STATUS_ZOMBIE, float("nan")
    except psutil.NoSuchProcess:
        return None
    except psutil.AccessDenied:  # another user's process: certainly not one of our trials
        return "denied", float("nan")
    return status, start


def start_time(pid: int) -> float | None:
    """When ``pid`` started, in seconds after boot (None: no such process, or a zombie the
    platform tells nothing about)."""
    try:
        return psutil.Process(pid).create_time() - psutil.boot_time()
    except psutil.Error:
        return None


def alive(pid: int) -> bool:
    """Whether some process runs as ``pid`` (a zombie does not run)."""
    facts = _facts(pid)
    return facts is not None and facts[0] != psutil.STATUS_ZOMBIE


@dataclass(frozen=True)
class ProcessRecord:
    """One process, as a runner records it to find it again: pid, start time and boot."""

    pid: int
    start: float | None = None  # seconds after boot; None: not recorded (the pid alone decides)
    boot: str = ""  # boot_id() when recorded; "": not recorded

    @classmethod
    def of(cls, pid: int) -> ProcessRecord:
        """The record of the process running as ``pid`` now (start None if there is none)."""
        return cls(pid, start_time(pid), boot_id())

    def state(self) -> str:
        """``running``, ``zombie`` (ended, not yet reaped), ``gone``, or ``other``: the pid now
        names another process, or the record is from an earlier boot."""
        if self.pid <= 0:
            return GONE
        if self.boot and self.boot != boot_id():
            return OTHER
        facts = _facts(self.pid)
        if facts is None:
            return GONE
        status, start = facts
        if status == "denied":
            return OTHER
        if self.start is not None and not abs(start - self.start) <= START_SLACK:
            return OTHER  # a NaN start (a zombie the platform says little about) is not ours either
        return ZOMBIE if status == psutil.STATUS_ZOMBIE else RUNNING

    def alive(self) -> bool:
        """Whether the recorded process itself still runs (not a zombie, not a reused pid)."""
        return self.state() == RUNNING

    def signal_group(self, sig: int) -> bool:
        """Send ``sig`` to the process group the recorded process leads; True if it was sent.

        Sent while the leader is the recorded process (running, or a zombie whose group may
        still hold the trial's children), and when no process holds the pid at all (what is
        left of the group is the trial's: a pid is not reused while its process group lives).
        Never sent when the pid now names another process.
        """
        if self.pid <= 0 or self.state() == OTHER:
            return False
        try:
            os.killpg(self.pid, sig)
            return True
        except (ProcessLookupError, PermissionError):
            return False

    def to_handle(self) -> dict[str, Any]:
        """The record as JSON fields of a runner's handle: ``pid``, ``start``, ``boot``."""
        return {"pid": self.pid, "start": self.start, "boot": self.boot}

    @classmethod
    def from_handle(cls, handle: dict[str, Any]) -> ProcessRecord | None:
        """The record in a handle made by :meth:`to_handle`; None when it names no pid.

        Handles written before the start time came from psutil carry ``ticks`` (clock ticks
        after boot) instead of ``start``; they are read too.
        """
        pid = int(handle.get("pid") or 0)
        if pid <= 0:
            return None
        start = handle.get("start")
        if start is None and handle.get("ticks") not in (None, "None", "-"):
            start = int(handle["ticks"]) / os.sysconf("SC_CLK_TCK")
        return cls(pid, None if start is None else float(start), str(handle.get("boot") or ""))

    def dumps(self) -> str:
        """The record as one line of a pid file: ``PID START BOOT``."""
        start = "-" if self.start is None else repr(self.start)
        return f"{self.pid} {start} {self.boot or '-'}\n"

    @classmethod
    def load(cls, path: Path) -> ProcessRecord | None:
        """The record a pid file holds (see :meth:`dumps`); None when there is none.

        Files written before the start time came from psutil hold clock ticks (an integer);
        they are read too.
        """
        try:
            parts = path.read_text().split()
        except OSError:
            return None
        if not parts or not parts[0].isdigit():
            return None
        start: str | None = parts[1] if len(parts) > 1 and parts[1] not in ("-", "None") else None
        boot = parts[2] if len(parts) > 2 and parts[2] != "-" else ""
        if start is not None and start.isdigit():
            return cls.from_handle({"pid": parts[0], "ticks": start, "boot": boot})
        return cls(int(parts[0]), None if start is None else float(start), boot)


def kill_recorded(pid_file: Path) -> None:
    """SIGKILL the process group a pid file records, if that very process (or what is left of
    its group) is still there; never a process that reuses the pid."""
    record = ProcessRecord.load(pid_file)
    if record is not None:
        record.signal_group(signal.SIGKILL)


def signame(sig: int) -> str:
    """``SIGKILL`` for 9; ``signal 64`` for a number Python has no name for."""
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def engine_alive(engine: dict, now: float) -> bool:
    """Whether the engine recorded in a group's state (``GroupState.engine``) still holds its
    lease: not expired, and, when it runs on this host, its process still runs.

    A process that started after the engine last renewed its lease (``seen_at``) is not that
    engine: the pid was reused.
    """
    if now - engine["seen_at"] >= engine["lease_seconds"]:
        return False
    if engine.get("host") != socket.gethostname():
        return True
    pid = int(engine["pid"])
    if not alive(pid):
        return False
    try:
        started = psutil.Process(pid).create_time()
    except psutil.Error:
        return False
    return started <= engine["seen_at"] + 1.0  # seen_at is the log's clock; allow for rounding
