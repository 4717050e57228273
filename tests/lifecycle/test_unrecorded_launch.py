"""An engine killed after starting trials but before logging their launch: the trials finish
while no engine runs, and `hpo resume` adopts their exit status and reports from their folders
instead of deleting them and running the trials again."""

import os
import subprocess

from hpo.eventlog.store import EventStore

from .conftest import hpo_cmd, run_hpo, state_of, wait_for, write_spec


def test_attempts_that_finished_while_no_engine_ran_are_adopted_not_rerun(tmp_path):
    spec = write_spec(tmp_path, """
        name: quick
        settings:
          concurrency: 2
          metric: {name: score, optimization: maximize}
          matrix:
            x: {values: [1, 2, 3, 4]}
        run:
          cmd: echo {{ x }} >> runs.txt; sleep 0.5; echo "@hpo score={{ x }}"
        """)
    env = {**os.environ, "HPO_DB": str(tmp_path / ".hpo" / "hpo.db"), "HPO_FAULT": "started:2"}
    engine = subprocess.run(hpo_cmd("run", str(spec), "--plain"), cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert engine.returncode == -9  # killed at the second start, its launches never logged
    before = state_of(tmp_path, "quick")
    assert [t.attempts for t in before.trials.values()] == [0, 0]  # pending, as the log has them
    folders = sorted((tmp_path / ".hpo" / "groups").glob("*/trials/*/attempt-1"))
    assert len(folders) == 2
    wait_for(lambda: all((f / "exit_code").exists() for f in folders), timeout=30)  # they finished
    proc = run_hpo(tmp_path, "resume", "quick")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = state_of(tmp_path, "quick")
    assert after.status == "succeeded"
    assert {t.params["x"]: (t.status, t.metrics["score"], t.attempts) for t in after.trials.values()} == {
        x: ("succeeded", float(x), 1) for x in (1, 2, 3, 4)}
    assert sorted((tmp_path / "runs.txt").read_text().split()) == ["1", "2", "3", "4"]  # each ran once
    store = EventStore(tmp_path / ".hpo" / "hpo.db")
    assert store.integrity_check() == "ok"
