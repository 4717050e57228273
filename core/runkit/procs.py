"""Process helpers for runners that start local process groups (Linux /proc aware)."""

from __future__ import annotations

import os
import signal
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def start_ticks(pid: int) -> int | None:
    """The process start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after the last ')'
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[19])


def alive(pid: int, ticks: int | None = None, boot: str | None = None) -> bool:
    """True when ``pid`` runs and is the same process as recorded (not a reused pid)."""
    if boot and boot != boot_id():
        return False
    current = start_ticks(pid)
    if current is None:
        return False
    if ticks is not None and current != ticks:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
        if state[state.rfind(")") + 2] == "Z":
            return False
    except OSError:
        return False
    return True


def kill_group(pgid: int, sig: int = signal.SIGTERM) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def signame(sig: int) -> str:
    """``SIGKILL`` for 9; ``signal 64`` for a number Python has no name for."""
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def engine_alive(engine: dict, now: float) -> bool:
    """Whether the engine recorded in a group's state (``GroupState.engine``) still holds its
    lease: not expired, and, when it runs on this host, its process still exists."""
    import socket

    if now - engine["seen_at"] >= engine["lease_seconds"]:
        return False
    if engine.get("host") == socket.gethostname():
        return start_ticks(int(engine["pid"])) is not None
    return True


def kill_recorded(pid_file: Path) -> None:
    """Kill the process group a ``pid`` file records (``pid [start ticks [boot id]]``), if that
    very process still runs (same start time and boot: not a recycled pid)."""
    if not pid_file.exists():
        return
    parts = pid_file.read_text().split()
    if not parts:
        return
    pid = int(parts[0])
    ticks = int(parts[1]) if len(parts) > 1 and parts[1] != "None" else None
    if alive(pid, ticks, parts[2] if len(parts) > 2 else None):
        kill_group(pid, signal.SIGKILL)
