"""The one mapping from an attempt's end to its Exited record (hpo.runkit.exits), case by case."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpo.contracts.runner import Launch
from hpo.runkit.exits import VANISHED, exited, read_exit_file

LAUNCH = Launch("g", 4, 2, "true", {}, Path("/nonexistent"), Path("/nonexistent"))


@pytest.mark.parametrize("code, kw, expected", [
    (0, {}, ("succeeded", 0, None, "")),
    (3, {}, ("failed", 3, None, "exited with code 3")),
    (-9, {}, ("failed", None, 9, "killed by SIGKILL")),
    # a shell reports a program killed by signal N (the OOM killer's SIGKILL) as 128+N
    (137, {}, ("failed", 137, 9, "killed by SIGKILL")),
    (139, {}, ("failed", 139, 11, "killed by SIGSEGV")),
    (128, {}, ("failed", 128, None, "exited with code 128")),
    (255, {}, ("failed", 255, None, "exited with code 255")),  # no signal is 127
    ("the container disappeared", {}, ("failed", None, None, "the container disappeared")),
    (None, {}, ("failed", None, None, VANISHED)),
    (143, {"stop_reason": "median rule"}, ("stopped", 143, 15, "median rule")),  # the shell's 128+N
    # it finished as the stop came, or handled SIGTERM and exited 0: kept, never run again
    (0, {"stop_reason": "median rule"}, ("succeeded", 0, None, "exited 0 while being stopped (median rule)")),
    (-15, {"stop_reason": "user"}, ("stopped", None, 15, "user")),
    (None, {"stop_reason": "user", "signal_sent": 9}, ("stopped", None, 9, "user")),
    (137, {"stop_reason": "timed out after 2s", "timed_out": True},
     ("failed", 137, 9, "timed out after 2s")),
])
def test_the_mapping(code, kw, expected):
    record = exited(LAUNCH, code, output_tail="tail", **kw)
    assert (record.status, record.exit_code, record.signal, record.reason) == expected
    assert (record.trial_id, record.attempt, record.output_tail) == (4, 2, "tail")


def test_an_exit_file_counts_once_its_newline_is_written(tmp_path):
    path = tmp_path / "exit_code"
    assert read_exit_file(path) is None
    path.write_text("7")
    assert read_exit_file(path) is None  # still being written
    path.write_text("7\n")
    assert read_exit_file(path) == 7
    path.write_text("x\n")
    assert read_exit_file(path) == "unreadable exit status file"
