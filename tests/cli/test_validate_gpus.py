"""`hpo validate` warns when a spec asks more GPUs at once than this machine lists (devices
faked with HPO_GPUS, as docs/runners.md describes); a real `hpo` process each time."""

import os
import subprocess
import sys

import pytest

SPEC = """
settings:
  concurrency: {concurrency}
  matrix:
    x: {{values: [1, 2, 3, 4]}}
run:
  cmd: echo "@hpo loss={{{{ x }}}}"
  gpus: {gpus}
"""


def validate(tmp_path, gpus_env: str, concurrency: int, gpus: int) -> subprocess.CompletedProcess:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(concurrency=concurrency, gpus=gpus))
    env = {**os.environ, "HPO_GPUS": gpus_env}
    return subprocess.run([sys.executable, "-m", "hpo", "validate", str(spec)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("devices, concurrency, gpus, says", [
    ("0,1", 4, 1, "concurrency 4 x run.gpus 1 asks 4 GPUs at once but this machine lists 2 (0, 1): at most 2"),
    ("0,1", 1, 4, "run.gpus asks 4 GPU(s) per trial but this machine lists 2 (0, 1): no trial can start"),
    ("", 1, 1, "this machine lists 0 (none): no trial can start"),
])
def test_asking_more_gpus_than_the_machine_lists_is_a_warning(tmp_path, devices, concurrency, gpus, says):
    done = validate(tmp_path, devices, concurrency, gpus)
    assert done.returncode == 0, done.stderr  # a warning: the spec may be meant for another machine
    assert says in done.stderr and "spec.yaml" in done.stderr


def test_a_spec_that_fits_has_no_warning(tmp_path):
    done = validate(tmp_path, "0,1,2,3", 2, 2)
    assert done.returncode == 0 and "warning" not in done.stderr
