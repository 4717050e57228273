"""The local runner's shell wrapper and the process bookkeeping around it: the wrapper records
an attempt's exit status in a file (so an engine that died can learn how an attempt ended), and a
crashed engine finds its orphans again by the wrapper's command line."""

from __future__ import annotations

import os
from pathlib import Path

# $1: the user's command, $2: the attempt's folder (absolute), $3: the workdir. The wrapper opens
# its own log files (appending) and changes to the workdir, so starting a trial costs the engine
# no file-system call. The subshell keeps `exit` in the command from skipping the bookkeeping.
# The wrapper outlives the SIGTERM of a stop (the subshell gets the default action back), so the
# command has its grace period and its status is recorded. The status is written with one
# `echo` (a shell builtin: no `mv` to fork and exec); a reader takes it only once its newline is
# there, so a half-written file is never read as a status.
WRAPPER = (
    'trap : TERM; exec >>"$2/stdout.log" 2>>"$2/stderr.log" && cd -- "$3" || exit 126; '
    '( eval "$1" ); rc=$?; echo $rc > "$2/exit_code"; exit $rc'
)
EXIT_FILE = "exit_code"

# Children an engine left running when it closed without stopping them (it crashed, or lost its
# lease): reaped by a later start in this process, like subprocess does for its forgotten Popens.
FORGOTTEN: set[int] = set()


def reap(pid: int, block: bool = False) -> bool:
    try:
        return os.waitpid(pid, 0 if block else os.WNOHANG)[0] != 0
    except ChildProcessError:
        return True


def reap_forgotten() -> None:
    for pid in list(FORGOTTEN):
        if reap(pid):
            FORGOTTEN.discard(pid)


def read_exit_file(path: Path) -> int | str | None:
    """The status the wrapper wrote; None while there is none (or it is still being written)."""
    try:
        with open(path, "rb") as fh:
            text = fh.read()
    except FileNotFoundError:
        return None
    if not text.endswith(b"\n"):
        return None
    try:
        return int(text)
    except ValueError:
        return "unreadable exit status file"


def base_env() -> dict[bytes, bytes]:
    """A copy of this process's environment, as bytes (what posix_spawn passes on unchanged).

    ``os.environ._data`` is the encoded dict ``os.environ`` keeps in step with every change; copying
    it is one C call, where ``dict(os.environ)`` decodes and re-encodes every variable.
    """
    data = getattr(os.environ, "_data", None)
    if isinstance(data, dict) and isinstance(next(iter(data), b""), bytes):
        return data.copy()
    return {os.fsencode(k): os.fsencode(v) for k, v in os.environ.items()}


def wrappers_of(trial_dir: str) -> list[int]:
    """Our wrapper processes running for ``trial_dir`` (found by their command line in /proc)."""
    want = [b"-c", WRAPPER.encode(), b"hpo-trial"]
    folder, found = os.fsencode(trial_dir), []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            continue
        if argv[1:4] == want and len(argv) > 5 and argv[5] == folder:
            found.append(int(entry))
    return found
