"""What the SSH runner keeps per host and per attempt, and its one retried call."""

from __future__ import annotations

import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from hpo.contracts.runner import Launch
from hpo.runkit.logtail import LogTail

from ._common import Machine
from ._ssh import SshClient, SshUnavailable
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
    inflight_signals: dict[str, str] = field(default_factory=dict)  # key -> signal sent with it
    lost: list[str] = field(default_factory=list)  # run folders of attempts lost while it was down
    trash: list[str] = field(default_factory=list)  # run folders to remove on the next poll

    @property
    def name(self) -> str:
        return self.cfg.label


@dataclass
class Attempt:
    launch: Launch
    host: Host
    rundir: str
    started: float
    tail: LogTail
    fetched: int = 0  # remote stdout bytes already in the local mirror
    stop_reason: str | None = None
    timed_out: bool = False
    kill_at: float | None = None
    signal_due: str | None = None
    signal_sent: int | None = None

    @property
    def key(self) -> str:
        return f"{self.launch.trial_id}-{self.launch.attempt}"

    @property
    def mirror(self) -> Path:
        return self.launch.trial_dir / "stdout.log"



def run_twice(client: SshClient, script: str) -> bytes:
    """A poll; a failed connection is tried once more on a fresh one before the host counts as down."""
    try:
        return client.run(script)
    except SshUnavailable:
        time.sleep(0.2)
        return client.run(script)
