"""How an attempt's end becomes its :class:`~hpo.contracts.runner.Exited` record: one mapping
from an exit status (and whether the runner stopped it or it timed out) to a status and a
reason, the same for every runner."""

from __future__ import annotations

import signal
from pathlib import Path

from hpo.contracts.runner import Exited, Launch
from hpo.runkit.procs import signame

EXIT_FILE = "exit_code"
VANISHED = "the process vanished without an exit status"


def exited(
    launch: Launch,
    code: int | str | None,
    *,
    stop_reason: str | None = None,
    timed_out: bool = False,
    signal_sent: int | None = None,
    output_tail: str = "",
) -> Exited:
    """The :class:`Exited` record of an attempt.

    ``code``: the exit status (>= 0; a shell reports death by signal N as 128+N, which is read
    as that signal, since it cannot be told from an exit(128+N)), a negative
    signal number, a text saying why there is no status, or None (the process is gone and left
    no status; fine after a stop, which then names the signal the runner sent).

    A timed-out attempt failed; a stopped one is ``stopped`` with the stop's reason, unless it
    exited 0 (it finished as the stop came: succeeded, never run again); otherwise 0 succeeded, a
    signal or another status failed, and the reason says which.
    """
    base = dict(trial_id=launch.trial_id, attempt=launch.attempt, output_tail=output_tail)
    exit_code = code if isinstance(code, int) and code >= 0 else None
    sig = -code if isinstance(code, int) and code < 0 else None
    if isinstance(code, int) and 128 < code < 128 + signal.NSIG:
        sig = code - 128  # how a shell reports a program killed by signal N (an exit(128+N) too)
    if code is None and stop_reason is not None:
        sig = signal_sent
    if timed_out:
        return Exited(status="failed", exit_code=exit_code, signal=sig,
                      reason=stop_reason or "timeout", **base)
    if stop_reason is not None and code == 0:
        # it finished as the stop came (or its own shell trapped SIGTERM and exited 0): an attempt that
        # exited 0 is kept with its reports and never run again
        return Exited(status="succeeded", exit_code=0,
                      reason=f"exited 0 while being stopped ({stop_reason})", **base)
    if stop_reason is not None:
        return Exited(status="stopped", exit_code=exit_code, signal=sig, reason=stop_reason, **base)
    if code is None:
        return Exited(status="failed", reason=VANISHED, **base)
    if isinstance(code, str):
        return Exited(status="failed", reason=code, **base)
    if code == 0:
        return Exited(status="succeeded", exit_code=0, **base)
    if sig is not None:
        return Exited(status="failed", exit_code=exit_code, signal=sig,
                      reason=f"killed by {signame(sig)}", **base)
    return Exited(status="failed", exit_code=code, reason=f"exited with code {code}", **base)


def read_exit_file(path: Path) -> int | str | None:
    """The status a process wrote into ``path`` (``"N\\n"``); None while there is none, or while
    it is still being written (no newline yet); a text when the file holds no number."""
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
