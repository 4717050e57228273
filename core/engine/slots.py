"""Filling free slots: trials already suggested first, then new suggestions, each launched
while the concurrency and the runner's room allow.

Each ``Suggested`` is written before its trial starts (a resumed engine must know every trial
that may be running); the ``TrialLaunched`` events of a round are written together after the
last start, or before anything else is appended (e.g. a stopper's decision): one transaction
per launch round instead of one per trial. A crash before they are written leaves the trials
pending: the next engine asks the runner to adopt what it finds in their attempt folders
(``Runner.adopt``: a process still running, or the exit status and output of one that ended),
and starts anew only where there is nothing to adopt (``Runner.discard``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from hpo.contracts.runner import Launch
from hpo.contracts.searcher import RUNNING
from hpo.engine.retries import retry
from hpo.runkit.checkpoints import CheckpointTooLarge
from hpo.runkit.gpus import TooManyGpus
from hpo.runkit.machines import BackendUnreachable
from hpo.engine.suggest import suggest
from hpo.eventlog import events as ev
from hpo.eventlog.state import TrialState

if TYPE_CHECKING:
    from hpo.engine.loop import Engine

log = logging.getLogger(__name__)


class Slots:
    """Launches trials for one engine, and holds the launches not yet written to the log."""

    def __init__(self, engine: Engine):
        self.engine = engine
        # TrialLaunched (and failed-start) events of attempts already started, not yet written:
        # they go into the log with the engine's next append
        self.unrecorded: list[ev.Event] = []

    def take_unrecorded(self) -> list[ev.Event]:
        """The launches to write now (they happened before whatever is appended with them)."""
        out, self.unrecorded = self.unrecorded, []
        return out

    def record_launches(self) -> None:
        """Write the TrialLaunched events of the attempts this round started (one transaction)."""
        if self.unrecorded:
            self.engine.append([])

    def fill(self) -> bool:
        """Launch what fits and record the launches; True if anything happened."""
        try:
            return self._fill()
        finally:
            self.record_launches()

    def _fill(self) -> bool:
        """Launch what fits; the launches are recorded with the next append (or by ``fill``)."""
        eng, busy = self.engine, False
        if not eng.backend.ready():  # the runner cannot reach its backend: trials wait
            return False
        try:
            capacity, held = eng.runner.capacity(), eng.runner.held()
        except Exception as exc:  # a runner that raises has failed, as one whose poll raises
            eng.stops.runner_failed(exc)
            return True
        slots = eng.concurrency if capacity is None else min(eng.concurrency, capacity)
        # first the trials already suggested, then the ones a crash or a pause interrupted; only
        # then new suggestions. A launch is recorded after the round, so the state still shows
        # this round's launches as pending or interrupted: they are counted here
        # attempts lost that may still run (a host that dropped) hold their slots too
        running = sum(1 for tr in eng.active() if tr.status == RUNNING) + held
        launched = 0
        for tr in eng.pending() + eng.interrupted():
            if running + launched >= slots or not self._launch_if_room(tr):
                return busy
            launched += 1
            busy = True
        active = running + launched  # every pending trial is running now
        stoppers = eng.plugins.stoppers
        while active < slots and not eng.stopping():
            if stoppers:
                eng.stops.run()  # a budget or a failure rule may forbid the next trial
                if eng.stopping():
                    break
            # stoppers judge between suggestions; without them a round's suggestions are asked
            # for together and recorded in one transaction
            new, halt, failure = suggest(eng, 1 if stoppers else slots - active)
            busy |= bool(new) or failure is not None
            active += len(new)
            for tr in new:
                if not self._launch_if_room(tr):
                    halt = True  # it waits as pending, with the others of its round
                    break
            if failure is not None:
                eng.stops.plugin_failed(f"searcher {eng.searcher.name}", failure)
                return True
            if halt:
                break
        return busy

    def _launch_if_room(self, tr: TrialState) -> bool:
        """Launch ``tr`` unless the runner has no room yet (e.g. its GPUs are held) or cannot
        reach its backend: it waits."""
        launch = self.engine.launch_spec(tr, tr.attempts + 1)
        try:
            room = self.engine.runner.can_start(launch)
        except Exception:  # let start() fail the trial with the runner's own error
            room = True
        if not room:
            return False
        return self.launch(tr, launch)

    def launch(self, tr: TrialState, launch: Launch) -> bool:
        """Start an attempt of ``tr``; its TrialLaunched is recorded with the next append. False
        when the runner cannot reach its backend: nothing is recorded and the trial waits."""
        eng = self.engine
        runner = eng.runner
        existed = _make_attempt_dir(launch.trial_dir)
        trial_dir = str(launch.trial_dir)
        if os.path.realpath(trial_dir) != trial_dir:  # the group folder holds no link: one was planted
            self._failed(tr, launch, f"its folder {trial_dir} leads through a symbolic link to "
                         f"{os.path.realpath(trial_dir)}; hpo never follows a link out of the group folder")
            return True
        if existed and self._adopted(tr, launch):
            return True
        if existed:
            runner.discard(launch)  # what a crashed engine left of it, with nothing to adopt
        try:
            handle = runner.start(launch)
        except BackendUnreachable as exc:
            _remove_if_empty(launch.trial_dir)
            eng.backend.unreachable(str(exc))
            return False
        except (CheckpointTooLarge, TooManyGpus) as exc:  # the trial's own: no retry would fit
            self._failed(tr, launch, f"the {runner.name} runner could not start it: {exc}")
            return True
        except Exception as exc:
            self._failed(tr, launch, f"the {runner.name} runner could not start it: {exc}", lost=True)
            return True
        eng.faults.hit("started")
        self.unrecorded.append(ev.TrialLaunched(trial_id=tr.trial_id, attempt=launch.attempt,
                                                runner=runner.name, handle=handle, trial_dir=trial_dir))
        eng.backend.reached()
        return True


    def _adopted(self, tr: TrialState, launch: Launch) -> bool:
        """A crashed engine started this attempt without recording it: follow it (running or
        finished) instead of starting it again; its reports and exit come with the next polls."""
        runner = self.engine.runner
        try:
            handle = runner.adopt(launch)
            if handle is None or not runner.reattach(launch, handle, 0):
                return False
        except Exception as exc:  # a runner that cannot tell: start anew, as before
            log.warning("runner %s could not adopt trial %s attempt %s: %s", runner.name,
                        tr.trial_id, launch.attempt, exc)
            return False
        self.unrecorded.append(ev.TrialLaunched(trial_id=tr.trial_id, attempt=launch.attempt,
                                                runner=runner.name, handle=handle,
                                                trial_dir=str(launch.trial_dir)))
        return True

    def _failed(self, tr: TrialState, launch: Launch, reason: str, lost: bool = False) -> None:
        """An attempt that never started: recorded as launched and failed, with the reason; one
        the runner could not start (``lost``) runs again while it has retries left."""
        finished = ev.TrialFinished(trial_id=tr.trial_id, attempt=launch.attempt, status="failed",
                                    reason=reason)
        finished, again = retry(self.engine, finished, lost)
        self.unrecorded += [
            ev.TrialLaunched(trial_id=tr.trial_id, attempt=launch.attempt, runner=self.engine.runner.name,
                             handle={}, trial_dir=str(launch.trial_dir)),
            finished,
        ] + ([again] if again is not None else [])


def _remove_if_empty(path: Path) -> None:
    """Take back the folder made for an attempt that never started (it is made again next time)."""
    try:
        os.rmdir(path)
    except OSError:
        pass


def _make_attempt_dir(path: Path) -> bool:
    """Create an attempt's folder (and its trial's); True when it was there already.

    Two ``mkdir`` calls for a trial's first attempt, one for the next: creating a folder is the
    dearest file-system call on many disks, and ``Path.exists`` + ``mkdir(parents=True)`` made
    three or four calls.
    """
    try:
        os.mkdir(path)
        return False
    except FileExistsError:
        return True
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(path)
        return False
    except FileExistsError:
        return True
