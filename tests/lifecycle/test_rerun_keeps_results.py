"""A re-run never replaces a trial's recorded metrics with nothing: an attempt stopped after its
last checkpoint is run again on resume, loads that checkpoint, has nothing left to report and
exits 0; the trial succeeds with the values its earlier attempt recorded."""

import sys

from .conftest import run_hpo, spawn, state_of, wait_for, write_spec

TRAIN = """
import os, sys, time
import hpo
saved = os.path.join(hpo.checkpoint_dir(), "done")
if os.path.exists(saved):
    sys.exit(0)  # the work is done: nothing left to report
for step in (1, 2, 3):
    hpo.report(step=step, loss=1.0 / step)
os.makedirs(hpo.checkpoint_dir(), exist_ok=True)
open(saved, "w").close()
time.sleep(60)  # still cleaning up when the group is stopped
"""


def test_an_attempt_with_nothing_left_to_report_keeps_the_earlier_values(tmp_path):
    (tmp_path / "train.py").write_text(TRAIN)
    spec = write_spec(tmp_path, f"""
        name: ckpt
        settings:
          metric: {{name: loss, optimization: minimize}}
          matrix:
            x: {{values: [1]}}
        run:
          cmd: {sys.executable} train.py
        """)
    engine = spawn(tmp_path, "run", str(spec))
    wait_for(lambda: _reports(tmp_path) == 3)
    wait_for(lambda: list((tmp_path / ".hpo" / "groups").glob("*/trials/1/checkpoints/done")))
    assert run_hpo(tmp_path, "stop", "ckpt").returncode == 0
    assert engine.wait(timeout=60) == 3
    stopped = state_of(tmp_path, "ckpt").trials[1]
    assert stopped.status == "stopped" and stopped.resumable
    proc = run_hpo(tmp_path, "resume", "ckpt")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    trial = state_of(tmp_path, "ckpt").trials[1]
    assert trial.attempts == 2 and trial.status == "succeeded", trial.reason
    assert trial.metrics == {"loss": 1.0 / 3} and trial.last_step == 3
    assert [s for s, _ in trial.curves["loss"]] == [1, 2, 3]


def _reports(tmp_path) -> int:
    try:
        return state_of(tmp_path, "ckpt").trials[1].reports
    except Exception:  # not created yet
        return 0
