"""What the SSH runner keeps per host and per attempt, and what it asks of one host: its GPUs,
its polls (retried once), what its kill scripts did, what its login shell printed."""

from __future__ import annotations

import signal
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

from hpo.contracts.runner import Launch, RunnerNotice
from hpo.runkit.attempt import Attempt
from hpo.runkit.gpus import GpuError, GpuPool, parse_gpu_list
from hpo.runkit.machines import Machine

from ._remote_sh import (KEEP_FOLDER, KILL_OUTCOMES, Record, gpu_query_script, launched_script,
                         parse_killed, parse_launched)
from ._ssh import RC_ADVICE, SshClient, SshCommandFailed, SshTimedOut, SshUnavailable
from ._ssh_config import SshHostConfig


@dataclass
class Host:
    cfg: SshHostConfig
    client: SshClient
    machine: Machine
    up: bool = True
    down_reason: str = ""
    down_since: float = 0.0
    next_poll: float = 0.0
    inflight: Future | None = None
    groups: set[str] = field(default_factory=set)  # group folders under rundir, removed at the end
    noise_said: bool = False  # its login shell's output before our scripts was reported
    lost: list[tuple[str, Record | None]] = field(default_factory=list)  # (run folder, launch record)
    # of attempts lost while it was down: killed when it answers again
    trash: list[str] = field(default_factory=list)  # run folders to remove on the next poll
    probing: list[tuple[str, Record | None]] = field(default_factory=list)  # lost ones the probe kills
    lost_at: dict[str, float] = field(default_factory=dict)  # run folder -> when it was lost

    def lose(self, rundir: str, record: Record | None) -> None:
        """An attempt lost with this host: killed when it answers again; until then, or for
        ``lost_after`` seconds, it may still run there and keeps its slot."""
        self.lost.append((rundir, record))
        self.lost_at.setdefault(rundir, time.monotonic())

    def held(self, lost_after: float) -> int:
        """Lost attempts that may still run here (see :meth:`lose`)."""
        now = time.monotonic()
        return sum(1 for rundir, _ in self.lost if now - self.lost_at.get(rundir, now) < lost_after)

    @property
    def name(self) -> str:
        return self.cfg.label

    @property
    def env(self) -> dict[str, str]:
        """The host's own variables for every script (its ``env``, and ``HPO_PYTHON``)."""
        env = dict(self.cfg.env)
        if self.cfg.python:
            env["HPO_PYTHON"] = self.cfg.python
        return env


class SshAttempt(Attempt):
    """A detached process group on a host; its stdout is mirrored to the attempt's ``stdout.log``.
    A signal is sent with the host's next poll."""

    def __init__(self, launch: Launch, host: Host, rundir: str, fetched: int = 0,
                 record: Record | None = None, **kw: Any):
        super().__init__(launch, **kw)
        self.host, self.rundir = host, rundir
        self.record = record  # the remote process as recorded at launch: what a signal may reach
        self.fetched = fetched  # remote stdout bytes already in the local mirror
        self.signal_due: str | None = None

    @property
    def name(self) -> str:
        """How the remote poll script names it: ``TRIAL-ATTEMPT``."""
        return f"{self.launch.trial_id}-{self.launch.attempt}"

    def send(self, sig: int) -> None:
        self.signal_due = signal.Signals(sig).name[3:]
        self.host.next_poll = 0.0


def run_twice(client: SshClient, script: str) -> bytes:
    """A poll; a failed connection is tried once more on a fresh one before the host counts as
    down. A call that gave up at its time limit is not: the limit bounds a poll, once."""
    try:
        return client.run(script)
    except SshTimedOut:
        raise
    except SshUnavailable:
        time.sleep(0.2)
        return client.run(script)


def kill_report(host: Host, out: bytes, why: str, remove: bool) -> tuple[int, list[RunnerNotice]]:
    """What a kill script did on ``host``: how many attempts it cleaned up (killed, or nothing
    was left), and a notice for each one it left alone because its pid could not be trusted."""
    cleaned, notices = 0, []
    for folder, outcome in parse_killed(out).items():
        if outcome in ("signalled", "gone"):
            cleaned += 1
            continue
        said = KILL_OUTCOMES.get(outcome, f"nothing was signalled ({outcome})")
        notices.append(RunnerNotice(
            f"SSH host {host.name}, {why}: {said}; its run folder {folder} is "
            + ("removed" if remove and outcome not in KEEP_FOLDER else "kept"),
            {"host": host.name, "rundir": folder, "outcome": outcome},
        ))
    return cleaned, notices


def detect_gpus(host: Host) -> None:
    """Learn a host's GPUs (HPO_GPUS or nvidia-smi there) the first time a trial needs one."""
    out = host.client.run(gpu_query_script(host.env)).decode()
    lines = out.splitlines()
    head = next((i for i, line in enumerate(lines) if line.startswith("@@hpo-gpus ")), None)
    if head is None:
        raise GpuError(f"unexpected answer to the GPU query on {host.name}: {out[-300:]!r}")
    body = lines[head + 1:]
    failed = [line for line in body if line.startswith("@@hpo-gpus-failed")]
    if failed:
        raise GpuError(f"nvidia-smi failed on {host.name}: {' '.join(body)[-300:]}")
    devices = parse_gpu_list("\n".join(body)) if lines[head] != "@@hpo-gpus none" else []
    host.machine.gpus = GpuPool(devices)


def login_notice(host: Host) -> RunnerNotice | None:
    """Once per host: its login shell prints before our scripts run (an rc file)."""
    noise = host.client.login_noise
    if not noise or host.noise_said:
        return None
    host.noise_said = True
    return RunnerNotice(
        f"the login shell on {host.name} printed {noise[-200:]!r} before the command ran: "
        f"{RC_ADVICE}; the runner skips it, but the rc file runs before every call",
        {"host": host.name})


def started_anyway(host: Host, launch: Launch, rundir: str, dropped: SshUnavailable,
                   redact: Callable[[str], str], notices: list) -> tuple[str, Record]:
    """The connection failed after the launch script began: ask the host, on a fresh
    connection, whether the trial started. If it did, it is followed as started (a race with a
    drop is no reason to run it twice); if the host cannot say, the attempt goes on the host's
    lost list, so that it is killed (after the start-time check) once the host answers again,
    and the launch fails here with ``dropped``."""
    why = redact(str(dropped))
    try:
        found = parse_launched(host.client.run(launched_script(rundir)))
    except (SshUnavailable, SshCommandFailed, ValueError) as exc:
        host.lose(rundir, None)
        raise SshUnavailable(
            f"{why} (during the launch of trial {launch.trial_id}; whether it started there could "
            f"not be checked: {redact(str(exc))}; if it did, it is killed when the host answers "
            "again)") from None
    if found is None or found[0] == "other":
        raise SshCommandFailed(f"the connection dropped before the trial started ({why})")
    state, folder, record = found
    notices.append(RunnerNotice(
        f"SSH host {host.name}: the connection dropped during the launch of trial "
        f"{launch.trial_id} ({why}), but the trial had started ({state}); it is followed as started",
        {"host": host.name, "trial": launch.trial_id, "rundir": folder}))
    return folder, record
