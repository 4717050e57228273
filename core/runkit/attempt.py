"""One attempt as every runner follows it, and a runner built on such attempts.

What differs between runners is small: how a signal reaches an attempt (a process group here,
``kill`` over SSH, ``docker kill``, a Dask variable) and how its end is learnt (``waitpid``, an
exit-status file, ``docker inspect``, a task's result). Everything else is the same and lives
here once: a stop sends SIGTERM and, after the grace period, SIGKILL; a timeout stops the
attempt and fails it; reports are parsed from the attempt's ``stdout.log`` with byte offsets;
the end becomes exactly one :class:`~hpo.contracts.runner.Exited`, after the last report, with
the tail of the output (:mod:`hpo.runkit.exits` maps the status). Report lines that do not
parse become a :class:`~hpo.contracts.runner.Rejected` count: at the first, then at most every
:data:`REJECTED_EVERY` seconds while more come, and once more at the end.

A runner subclasses :class:`Attempt` (``send`` and ``exit_status``) and :class:`AttemptRunner`
(``start``, and ``reattach`` if it can), and gets ``stop``, ``poll`` and ``running``.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import BaseModel

from hpo.contracts.runner import Exited, Launch, Message, Rejected, Reported, Runner
from hpo.runkit.exits import exited
from hpo.runkit.logtail import LogTail, output_tail


REJECTED_EVERY = 5.0  # seconds between two counts of the same attempt's rejected report lines


class Attempt:
    """One attempt of a trial: its output, its stop and timeout, and how it ended.

    ``started`` is the wall-clock time it began running, now by default; the timeout counts from
    it, and not at all while it is None (set it so while the attempt waits to run, queued on a
    cluster). ``stdout`` is the file its output is (or is mirrored) in: reports are read from
    there, from ``offset`` on.
    """

    def __init__(self, launch: Launch, *, grace_period: float, started: float | None = None,
                 stdout: Path | None = None, stderr: Path | None = None, offset: int = 0):
        self.launch = launch
        self.grace_period = grace_period
        self.started = time.time() if started is None else started
        self.stdout = stdout or launch.trial_dir / "stdout.log"
        self.stderr = stderr or launch.trial_dir / "stderr.log"
        self.tail = LogTail(self.stdout, offset)
        self.stop_reason: str | None = None
        self.timed_out = False
        self.kill_at: float | None = None  # monotonic time of the SIGKILL after a stop
        self.signal_sent: int | None = None
        self.redact: Callable[[str], str] | None = None  # applied to the recorded reason and output
        self.lost = False  # set by a runner: the infrastructure, not the trial, ended it
        self._rejected_sent = (0, 0)  # (count, examples) already sent as Rejected
        self._rejected_at = float("-inf")  # monotonic time of the last Rejected

    # -- what a runner provides ------------------------------------------------------------------

    def send(self, sig: int) -> None:
        """Deliver ``sig`` (SIGTERM or SIGKILL) to everything the attempt runs."""
        raise NotImplementedError

    def exit_status(self) -> int | str | None:
        """None while it runs; else its exit status (see :func:`hpo.runkit.exits.exited`)."""
        raise NotImplementedError

    # -- the shared behaviour --------------------------------------------------------------------

    @property
    def key(self) -> tuple[int, int]:
        return self.launch.key

    def ended(self) -> bool:
        """Whether the attempt already ended on its own (a runner that can tell cheaply says so)."""
        return False

    def stop(self, reason: str) -> None:
        """SIGTERM now and SIGKILL after the grace period; a second stop changes nothing. An
        attempt that already ended on its own is not stopped: its exit, a success included, is
        reported as it was, and a pause does not run it again."""
        if self.stop_reason is not None or self.ended():
            return
        self.stop_reason = reason
        self.kill_at = time.monotonic() + self.grace_period
        self.signal(signal.SIGTERM)

    def signal(self, sig: int) -> None:
        self.signal_sent = sig
        self.send(sig)

    def check_time(self) -> None:
        """Stop the attempt when its timeout has passed; SIGKILL it when its grace period has."""
        limit = self.launch.timeout
        if (limit is not None and self.started is not None and self.stop_reason is None
                and time.time() - self.started > limit):
            self.timed_out = True
            self.stop(f"timed out after {limit:g}s")
        if self.kill_at is not None and time.monotonic() >= self.kill_at:
            self.kill_at = None
            self.signal(signal.SIGKILL)

    def reports(self) -> list[Message]:
        """The reports printed since the last call (whole lines only)."""
        return self._reported(self.tail.read_reports(), final=False)

    def final_reports(self) -> list[Message]:
        """At the end: the last reports, a last line without a newline included."""
        return self._reported(self.tail.flush_reports(), final=True)

    def _reported(self, found: list, final: bool) -> list[Message]:
        t, a = self.launch.key
        out: list[Message] = [Reported(t, a, report.step, report.metrics, offset) for report, offset in found]
        rejected = self._rejected(final)
        return out + [rejected] if rejected is not None else out

    def _rejected(self, final: bool) -> Rejected | None:
        """The count of rejected report lines, when it grew: at once for the first, then at most
        every REJECTED_EVERY seconds, and at the end."""
        count, sent = self.tail.error_count, self._rejected_sent
        now = time.monotonic()
        if count == sent[0] or not (final or sent[0] == 0 or now - self._rejected_at >= REJECTED_EVERY):
            return None
        examples = self.tail.protocol_errors[sent[1]:]
        if self.redact is not None:
            examples = [self.redact(x) for x in examples]
        self._rejected_sent, self._rejected_at = (count, len(self.tail.protocol_errors)), now
        t, a = self.launch.key
        return Rejected(t, a, count - sent[0], tuple(examples))

    def output_tail(self) -> str:
        """The end of stdout and stderr, after the protocol errors the output held."""
        text = output_tail(self.stdout, self.stderr)
        if self.tail.protocol_errors:
            text = "protocol errors:\n" + "\n".join(self.tail.protocol_errors[-5:]) + "\n" + text
        return text

    def exited(self, code: int | str | None) -> Exited:
        record = exited(self.launch, code, stop_reason=self.stop_reason, timed_out=self.timed_out,
                        signal_sent=self.signal_sent, output_tail=self.output_tail())
        lost = self.lost and record.status == "failed"
        if self.redact is None and not lost:
            return record
        redact = self.redact or (lambda text: text)
        return Exited(record.trial_id, record.attempt, record.status, record.exit_code,
                      record.signal, redact(record.reason), redact(record.output_tail), lost=lost)

    def finish(self, code: int | str | None) -> list[Message]:
        """The last reports, then the one :class:`Exited`."""
        return [*self.final_reports(), self.exited(code)]

    def release(self) -> None:
        """The attempt ended and its exit is recorded: let go of what it held (by default nothing)."""


A = TypeVar("A", bound=Attempt)


class AttemptRunner(Runner, Generic[A]):
    """A runner that keeps :class:`Attempt` objects by (trial, attempt).

    ``poll`` reads each attempt's new reports, enforces its timeout and grace period, and ends
    it once ``exit_status`` has one. Notices for the user go to :attr:`notices`; the next poll
    returns them first.
    """

    def __init__(self, config: BaseModel):
        super().__init__(config)
        self.attempts: dict[tuple[int, int], A] = {}
        self.notices: list[Message] = []

    def running(self) -> list[tuple[int, int]]:
        return list(self.attempts)

    def stop(self, trial_id: int, attempt: int, reason: str) -> None:
        att = self.attempts.get((trial_id, attempt))
        if att is not None:
            att.stop(reason)

    def poll(self) -> list[Message]:
        out = self.take_notices()
        for att in list(self.attempts.values()):
            out += att.reports()
            att.check_time()
            code = self.exit_status(att)
            if code is not None:
                out += self.finish(att, code)
        return out + self.take_notices()

    def take_notices(self) -> list[Message]:
        """The messages queued in :attr:`notices` since the last call."""
        out, self.notices = self.notices, []
        return out

    def exit_status(self, att: A) -> int | str | None:
        """None while ``att`` runs; a runner may override it to ask its backend."""
        return att.exit_status()

    def finish(self, att: A, code: int | str | None) -> list[Message]:
        """End ``att``: its last reports and its exit; it is no longer followed."""
        messages = att.finish(code)
        self.attempts.pop(att.key, None)
        att.release()
        self.released(att)
        return messages

    def released(self, att: A) -> None:
        """Hook: ``att`` ended (free its slot, its GPUs...)."""
