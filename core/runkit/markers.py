"""The attempt marker: how a runner finds every process an attempt left behind, also those that
left its process group.

Killing an attempt's process group misses what left the group: a child started with ``setsid``,
a daemon that forked twice. What such a process keeps is the environment it was started with,
so every attempt the engine launches carries a marker there,
``HPO_ATTEMPT_TOKEN=<group id>:<trial id>:<attempt>`` (:func:`attempt_token`; the group id is
random, so a token names one attempt of one group), and when the attempt ends the runner kills
every process of this user that carries its token (:func:`kill_marked`). The token is derived
from the launch, never stored, so an engine that died and came back finds the processes of the
attempts its predecessor started just as well.

Why not a subreaper or a cgroup: an engine that is a child subreaper
(``PR_SET_CHILD_SUBREAPER``) sees escaped processes only while it lives, and becomes the parent
of every orphan of every other part of it (SSH control masters, a Dask cluster's processes) that
it would then have to reap without stealing a status that ``subprocess`` waits for; a cgroup per
attempt needs a delegated cgroup tree that few machines give a user. The marker works on Linux
and macOS (psutil reads it), as long as the engine lives or comes back.

Limits, stated plainly: a process started with an emptied environment (``env -i``) and ``setsid``
carries no marker and escapes; so does a process that only forks (no ``exec``) from a process
whose environment the kernel shows without the marker (a ``python`` runner objective's
``os.fork()``: the kernel shows the environment the engine was started with). Processes of
another user are never looked at. Untrusted code belongs in the ``docker`` runner, whose
container ends with the attempt.

Cost: a pass over the process table reads every process's environment: about 7 ms with 110
processes and 55 ms with 610 on a loaded 2-core machine (benchmarks/marker_sweep.py). So it is
never made per tick: a runner's :class:`Sweeps` make one when an attempt ends, at most one a
second and at most 5% of the time (what attempts ending faster left is killed together, a moment
later), and a starting engine makes one for the attempts its predecessor ended
(``hpo.engine.recovery``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Mapping

import psutil

from hpo.trial import ATTEMPT_TOKEN_ENV

__all__ = ["ATTEMPT_TOKEN_ENV", "Sweeps", "attempt_token", "kill_marked", "kill_where", "marked",
           "parse_token", "token_in"]
MAX_ROUNDS = 20  # passes of kill_where: each finds what the processes it killed forked meanwhile
SWEEP_INTERVAL = 1.0  # seconds: a runner's Sweeps make at most one pass per interval
SWEEP_SHARE = 0.05  # and spend at most this share of the runner's time on them


def attempt_token(group_id: str, trial_id: int, attempt: int) -> str:
    """The marker value of one attempt of one group."""
    return f"{group_id}:{trial_id}:{attempt}"


def parse_token(token: str) -> tuple[str, int, int] | None:
    """(group id, trial id, attempt) of a marker value; None when it is not one."""
    group, _, rest = token.partition(":")
    trial, _, attempt = rest.partition(":")
    if not (group and trial.isdecimal() and attempt.isdecimal()):
        return None
    return group, int(trial), int(attempt)


def token_in(env: Mapping[str, str]) -> str | None:
    """The marker a launch's environment gives its attempt (None: it has none)."""
    return env.get(ATTEMPT_TOKEN_ENV) or None


def _find(match: Callable[[str], bool]) -> list[psutil.Process]:
    """The live processes of this user (this one excepted) whose marker ``match`` accepts."""
    me, uid, found = os.getpid(), os.getuid(), []
    for proc in psutil.process_iter():  # cached handles: only the environment is read each time
        if proc.pid == me:
            continue
        try:
            token = proc.environ().get(ATTEMPT_TOKEN_ENV)
            if not token or not match(token):
                continue
            fresh = psutil.Process(proc.pid)  # the pid's process now, with its start time
            if fresh.environ().get(ATTEMPT_TOKEN_ENV) == token and fresh.uids().real == uid:
                found.append(fresh)
        except psutil.Error:  # gone, a zombie, or not ours to read
            continue
    return found


def marked(tokens: Collection[str | None]) -> list[psutil.Process]:
    """The live processes of this user (this one excepted) that carry one of ``tokens``."""
    wanted = {t for t in tokens if t}
    return _find(wanted.__contains__) if wanted else []


def kill_where(match: Callable[[str], bool]) -> int:
    """SIGKILL every live process of this user whose marker ``match`` accepts; how many.

    A process may fork while it is being found: the table is read again after each kill until
    a pass finds nothing new. A handle is checked against the pid's start time before the
    signal, so a pid reused meanwhile is never signalled.
    """
    killed: set[psutil.Process] = set()
    for _ in range(MAX_ROUNDS):
        fresh = [p for p in _find(match) if p not in killed]
        if not fresh:
            break
        for proc in fresh:
            try:
                proc.kill()
            except psutil.Error:  # it ended meanwhile (or its pid was reused): nothing to kill
                continue
            killed.add(proc)
    return len(killed)


def kill_marked(tokens: Collection[str | None]) -> int:
    """SIGKILL every live process of this user that carries one of ``tokens`` (None and empty
    tokens stand for no marker: nothing is looked for); how many."""
    wanted = {t for t in tokens if t}
    return kill_where(wanted.__contains__) if wanted else 0


class Sweeps:
    """A runner's sweeps: what each ended attempt left is killed by its marker.

    A sweep is a pass over the whole process table (milliseconds for a hundred processes, tens of
    them for several hundred: benchmarks/marker_sweep.py), so a runner makes one at most every
    ``interval`` seconds, and spends at most ``share`` of its time on them: an attempt's
    leftovers are killed at once when it ends, unless the last pass was too recent; then by the
    first :meth:`due` after that (the runner calls it on every poll), together with those of the
    attempts that ended meanwhile. Trials that end seconds apart are each swept at once; a flood
    of short trials costs one pass a second. :meth:`flush` sweeps what is left now (the runner is
    closing). ``Sweeps(interval=0, share=1)`` sweeps at once, every time.
    """

    def __init__(self, interval: float = SWEEP_INTERVAL, share: float = SWEEP_SHARE):
        self.interval, self.share = interval, share
        self.pending: set[str] = set()
        self.next_at = -float("inf")  # monotonic time before which no pass is due

    def ended(self, token: str | None) -> None:
        """The attempt marked ``token`` ended: kill what it left, now or when a pass is due."""
        if token:
            self.pending.add(token)
        self.due()

    def due(self) -> None:
        """Sweep what is pending if a pass is due."""
        if self.pending and time.monotonic() >= self.next_at:
            self.flush()

    def flush(self) -> None:
        """Sweep what is pending now."""
        if self.pending:
            tokens, self.pending = self.pending, set()
            start = time.monotonic()
            kill_marked(tokens)
            end = time.monotonic()
            self.next_at = end + max(self.interval, (end - start) * (1 - self.share) / self.share)
