"""The seed's early-stopping example fires in a real group, and `hpo status` says why."""

import json
import os
import subprocess
import sys
import textwrap


def hpo(tmp_path, *args):
    env = {**os.environ, "HPO_DB": str(tmp_path / "hpo.db")}
    return subprocess.run([sys.executable, "-m", "hpo", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


SPEC = """
settings:
  concurrency: 1
  matrix:
    acc: {{values: [0.5, 0.95, 0.7, 0.99]}}
  early_stopping:
{entries}
run:
  cmd: echo "@hpo accuracy={{{{ acc }}}} loss=0.5"; sleep 0.2
"""
SEED_ENTRIES = """\
    - metric: accuracy
      value: 0.9
      optimization: maximize
    - metric: loss
      value: 0.05
      optimization: minimize
"""


def test_the_seed_example_stops_the_search_and_status_says_why(tmp_path):
    (tmp_path / "es.yaml").write_text(textwrap.dedent(SPEC).format(entries=SEED_ENTRIES))
    run = hpo(tmp_path, "run", "es.yaml", "--name", "es", "--plain")
    assert run.returncode == 0, run.stdout + run.stderr
    status = hpo(tmp_path, "status", "es")
    assert "early_stopping" in status.stdout and "accuracy >= 0.9" in status.stdout
    data = json.loads(hpo(tmp_path, "status", "es", "--json").stdout)
    assert data["status"] == "succeeded"
    trials = json.loads(hpo(tmp_path, "export", "es").stdout)
    assert len(trials) == 2  # trial 2 reached 0.95 >= 0.9: trials 3 and 4 never started
    assert trials[1]["metrics"]["accuracy"] == 0.95


def test_running_trials_may_be_allowed_to_finish(tmp_path):
    text = textwrap.dedent("""
        settings:
          concurrency: 2
          matrix:
            acc: {values: [0.95, 0.5, 0.7]}
        stopping:
          - kind: early_stopping
            let_running_finish: true
            entries: [{metric: accuracy, value: 0.9, optimization: maximize}]
        run:
          cmd: if [ {{ acc }} = 0.5 ]; then sleep 1.5; fi; echo "@hpo accuracy={{ acc }}"
        """)
    (tmp_path / "es.yaml").write_text(text)
    run = hpo(tmp_path, "run", "es.yaml", "--name", "es", "--plain")
    assert run.returncode == 0, run.stdout + run.stderr
    trials = {t["trial"]: t for t in json.loads(hpo(tmp_path, "export", "es").stdout)}
    assert sorted(trials) == [1, 2]  # trial 3 never started
    assert trials[2]["status"] == "succeeded"  # it was running when trial 1 fired, and finished
