"""Importing dask-jobqueue must not take Ctrl-C from the engine.

``dask_jobqueue.runner`` replaces the SIGINT handler when it is imported, with one that calls
``sys.exit()``: the Dask runner's ``scheduler: slurm`` imported it inside ``hpo run``, so Ctrl-C
would have ended the engine without the pause docs/lifecycle.md "Ctrl-C" promises. A fresh
interpreter each time: the replacement happens only at the first import.
"""

import subprocess
import sys

CHECK = """
import signal
import dask_jobqueue
print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)
"""

KEPT = """
import signal
from hpo.plugins.runners._dask_slurm import slurm_cluster_class
slurm_cluster_class()
print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)
"""


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_dask_jobqueue_still_replaces_ctrl_c_on_import():
    """What the runner guards against (if a release stops doing it, the guard can go)."""
    assert _python(CHECK) == "False"


def test_the_slurm_workers_leave_ctrl_c_to_the_engine():
    assert _python(KEPT) == "True"
