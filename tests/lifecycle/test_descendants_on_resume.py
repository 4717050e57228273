"""What a trial left running outside its process group is killed at `hpo resume` when the trial
ended while the engine was dead (kill -9), and never while its trial still runs: real `hpo`
processes, real trials that escape by `setsid` and by a double fork."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

from hpo.contracts.searcher import RUNNING
from hpo.engine.recovery import kill_leftovers
from hpo.eventlog.state import TrialState
from hpo.runkit import procs
from hpo.runkit.markers import ATTEMPT_TOKEN_ENV, attempt_token, kill_marked, marked

from ..runners.test_descendants import ESCAPE, ESCAPEES
from .conftest import kill9, spawn, state_of, wait_for, write_spec


def escapee_pids(tmp_path: Path, trial_id: int) -> list[int] | None:
    """The pids trial ``trial_id``'s escaped processes recorded, once both have."""
    found = []
    for name in ESCAPEES:
        paths = list((tmp_path / ".hpo").glob(f"groups/*/trials/{trial_id}/attempt-1/{name}"))
        if not paths or not paths[0].read_text().strip():
            return None
        found.append(int(paths[0].read_text()))
    return found


def alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if procs.alive(pid)]


def gone(pids: list[int]) -> bool:
    return not alive(pids)


def test_resume_kills_what_a_trial_that_ended_meanwhile_left(tmp_path):
    (tmp_path / "escape.sh").write_text(
        ESCAPE + 'while [ ! -e "go-$1" ]; do sleep 0.05; done; echo "@hpo score=$1"\n')
    spec = write_spec(tmp_path, """
        name: esc
        settings:
          concurrency: 2
          metric: {name: score, optimization: maximize}
          matrix:
            x: {values: [1, 2]}
        run:
          cmd: sh escape.sh {{ trial_id }}
        """)
    engine = spawn(tmp_path, "run", str(spec))
    started, tokens = [engine], []
    try:
        first = wait_for(lambda: escapee_pids(tmp_path, 1))
        second = wait_for(lambda: escapee_pids(tmp_path, 2))
        gid = state_of(tmp_path, "esc").group_id
        tokens += [attempt_token(gid, 1, 1), attempt_token(gid, 2, 1)]
        kill9(engine)
        (tmp_path / "go-1").write_text("")  # trial 1 ends while no engine watches
        wait_for(lambda: list((tmp_path / ".hpo").glob("groups/*/trials/1/attempt-1/exit_code")))
        time.sleep(0.2)
        assert alive(first) == first and alive(second) == second  # nothing killed them yet

        resume = spawn(tmp_path, "resume", "esc")
        started.append(resume)
        wait_for(lambda: state_of(tmp_path, "esc").trials[1].status == "succeeded")
        wait_for(lambda: gone(first), timeout=5)
        assert {p.pid for p in marked([tokens[0]])} == set()
        # trial 2 was reattached and still runs: what it started is left alone
        assert state_of(tmp_path, "esc").trials[2].status == "running"
        assert alive(second) == second

        (tmp_path / "go-2").write_text("")
        out, err = resume.communicate(timeout=120)
        assert resume.returncode == 0, out + err
        wait_for(lambda: gone(second), timeout=5)
        assert marked(tokens) == []
        state = state_of(tmp_path, "esc")
        assert state.status == "succeeded"
        assert all(t.attempts == 1 for t in state.trials.values())  # neither was run again
    finally:
        for proc in started:
            if proc.poll() is None:
                kill9(proc)
        kill_marked(tokens)


def test_only_the_attempts_the_log_says_ended_are_swept():
    """An engine killed between recording an attempt's end and its runner's sweep leaves the
    sweep to the next: it kills what carries the marker of an attempt that ended (an earlier
    attempt, or the last one of a trial no longer running), and nothing of an attempt that runs
    (reattached), one never recorded (the slot filler adopts it), or another group's."""
    group, other = uuid.uuid4().hex[:12], uuid.uuid4().hex[:12]
    trials = {1: TrialState(1, {}, {}, status=RUNNING, attempts=2),
              2: TrialState(2, {}, {}, status="succeeded", attempts=1),
              3: TrialState(3, {}, {}, status="stopped", attempts=1)}
    ended = [attempt_token(group, 1, 1), attempt_token(group, 2, 1), attempt_token(group, 3, 1)]
    kept = [attempt_token(group, 1, 2), attempt_token(group, 3, 2), attempt_token(group, 4, 1),
            attempt_token(other, 2, 1)]
    sleepers = {token: subprocess.Popen(["sleep", "300"], env={**os.environ, ATTEMPT_TOKEN_ENV: token},
                                        start_new_session=True) for token in ended + kept}
    try:
        wait_for(lambda: len(marked(ended + kept)) == len(sleepers))
        assert kill_leftovers(group, trials) == len(ended)
        for token in ended:
            assert sleepers[token].wait(timeout=10) == -signal.SIGKILL, token
        assert [t for t in kept if sleepers[t].poll() is not None] == []
    finally:
        for proc in sleepers.values():
            proc.kill()
            proc.wait()
