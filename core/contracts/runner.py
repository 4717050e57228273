"""The contract between the engine and a runner (where trials execute).

A runner is a plain class registered through ``hpo_register_runners``. It is a polling interface
that works the same for local processes and remote machines: :meth:`Runner.start` launches an
attempt and returns a *handle* (JSON data the engine records in ``TrialLaunched``), and
:meth:`Runner.poll` returns what happened since the last call — metric reports parsed from the
trial's stdout and attempt exits. Runners never write the event log.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from hpo.contracts.options import parse_options


@dataclass(frozen=True)
class Launch:
    """Everything a runner needs to start (or find again) one attempt of a trial."""

    group_id: str
    trial_id: int
    attempt: int
    command: str  # the rendered shell command
    env: dict[str, str]  # variables to add to the trial's environment
    trial_dir: Path  # the attempt's folder for logs (exists)
    workdir: Path  # the trial's working directory
    timeout: float | None = None
    gpus: int = 0

    @property
    def key(self) -> tuple[int, int]:
        return (self.trial_id, self.attempt)


@dataclass(frozen=True)
class Reported:
    trial_id: int
    attempt: int
    step: int | None
    metrics: dict[str, float | None]
    offset: int  # byte offset in the attempt's stdout after this report line


@dataclass(frozen=True)
class Exited:
    trial_id: int
    attempt: int
    status: str  # succeeded | failed | stopped
    exit_code: int | None = None
    signal: int | None = None
    reason: str = ""
    output_tail: str = ""
    # lost to the infrastructure, not ended by the trial: its worker or host was lost, or it
    # failed before its command ran. The engine runs such an attempt again (``run.max_retries``)
    lost: bool = False
    # what the runner measured as the attempt ended (JSON data, recorded in TrialFinished), e.g.
    # ``checkpoint_fetched``: the bytes and seconds its checkpoint folder took to come back
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rejected:
    """Report lines of an attempt that did not parse: ``count`` more since the last such message
    (a resumed engine counts from where the log says reading stopped), and the examples not yet
    sent (the first few of the attempt, word for word)."""

    trial_id: int
    attempt: int
    count: int
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunnerNotice:
    """Something the user should know that is not about one trial (a host went down...)."""

    message: str
    details: dict[str, Any] = field(default_factory=dict)


Message = Reported | Exited | Rejected | RunnerNotice


class EmptyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Runner(ABC):
    """Base class of runners. Subclasses set ``name``, ``Config`` and the abstract methods."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    Config: ClassVar[type[BaseModel]] = EmptyConfig

    def __init__(self, config: BaseModel):
        self.config = config

    @classmethod
    def parse_config(cls, options: dict[str, Any], path: str) -> BaseModel:
        return parse_options(cls.Config, options, path)

    def capacity(self) -> int | None:
        """How many trials this runner can host at once (None: no limit of its own)."""
        return None

    def held(self) -> int:
        """Attempts reported lost (``Exited(lost=True)``) that may still be running where the
        runner lost them (a host that dropped off the network): they count against the
        group's concurrency until the runner knows they are dead or gives up waiting."""
        return 0

    def can_start(self, launch: Launch) -> bool:
        """Whether ``launch`` can start now; False makes the trial wait (pending) for room.

        A runner whose slots or GPUs are all held returns False until one is released. It
        returns True when the launch could never fit (more GPUs than any machine has), so that
        :meth:`start` fails it with the reason instead of it waiting forever.
        """
        return True

    @abstractmethod
    def start(self, launch: Launch) -> dict[str, Any]:
        """Start the attempt and return its handle (JSON-serialisable)."""

    @abstractmethod
    def poll(self) -> list[Message]:
        """Reports and exits since the last call, in the order they happened per trial."""

    @abstractmethod
    def stop(self, trial_id: int, attempt: int, reason: str) -> None:
        """Stop a running attempt; its :class:`Exited` (status ``stopped``) follows in ``poll``."""

    def reattach(self, launch: Launch, handle: dict[str, Any], offset: int) -> bool:
        """Follow an attempt started by an engine that died; False when it cannot be found.

        ``offset`` is the stdout byte offset after the last report already in the log; reports
        after it are delivered by ``poll``, then its exit (also when it exited meanwhile).
        """
        return False

    def adopt(self, launch: Launch) -> dict[str, Any] | None:
        """An attempt of ``launch`` that a crashed engine started but never recorded, running or
        finished, found by what it left (its folder, its process): a handle :meth:`reattach`
        accepts, so its reports and its exit are read, never thrown away. None (the default)
        when there is nothing to adopt: the engine then calls :meth:`discard` and starts anew."""
        return None

    def discard(self, launch: Launch) -> None:
        """Clean up whatever a crashed engine may have started for an attempt it never recorded."""

    def running(self) -> list[tuple[int, int]]:
        """The (trial, attempt) keys this runner is following."""
        return []

    def wait(self, timeout: float) -> None:
        """Block up to ``timeout`` seconds, or less when something may have happened.

        The engine calls it when a tick found nothing to do. The default just sleeps; a runner
        that learns of exits at once (the local runner, from its children) wakes the engine early.
        """
        time.sleep(timeout)

    def close(self, stop_running: bool) -> None:
        """The engine is leaving; stop what runs if ``stop_running``, else leave it detached."""
