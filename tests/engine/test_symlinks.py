"""The engine never follows a symbolic link out of the group folder: a trial that plants one
where another trial's folder will be cannot make the engine delete or write files elsewhere."""

import sys

from hpo.engine.loop import Engine

from .test_engine import make

SPEC = """
settings:
  grid_search: {{}}
  concurrency: 1
  metric: {{name: loss, optimization: minimize}}
  matrix:
    x: {{values: [1, 2]}}
run:
  cmd: if [ {{{{ x }}}} = 1 ]; then ln -s {victim} "$(dirname "$(dirname "$HPO_TRIAL_DIR")")/2"; fi; {python} -c "import hpo; hpo.report(loss={{{{ x }}}})"
"""


def test_a_planted_link_fails_that_trial_and_touches_nothing_outside(store, workdir, tmp_path):
    victim = tmp_path / "victim"
    (victim / "attempt-1").mkdir(parents=True)
    for name in ("stdout.log", "stderr.log", "exit_code", "pid"):  # what a discard would remove
        (victim / "attempt-1" / name).write_text("precious\n")
    gid = make(store, workdir, SPEC.format(victim=victim, python=sys.executable))
    state = Engine(store, gid, poll_interval=0.01).run()
    assert state.trials[1].status == "succeeded"
    second = state.trials[2]
    assert second.status == "failed" and "symbolic link" in second.reason and str(victim) in second.reason
    assert sorted(p.name for p in (victim / "attempt-1").iterdir()) == ["exit_code", "pid", "stderr.log", "stdout.log"]
    assert all(p.read_text() == "precious\n" for p in (victim / "attempt-1").iterdir())
    assert state.status == "succeeded"
