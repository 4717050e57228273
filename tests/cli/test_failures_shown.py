"""Failures are told: plain mode prints a failed trial's last stderr lines, the first three
trials failing the same way is said prominently, and ``hpo run --fail-fast`` ends the group at
the first failure."""

import json
import textwrap

from click.testing import CliRunner

from hpo.cli import cli
from hpo.eventlog.state import GroupState
from hpo.eventlog.store import EventStore
from hpo.views.failures import SameErrorWatch, error_lines

SPEC = textwrap.dedent("""
    name: broken
    settings:
      concurrency: 1
      metric: {name: loss, optimization: minimize}
      matrix:
        x: {values: [1, 2, 3, 4, 5, 6]}
    run:
      cmd: "echo starting; echo 'Traceback (most recent call last):' >&2; echo 'ValueError: x={{ x }} is bad' >&2; echo 'ValueError: cannot train' >&2; exit 2"
""")


def _run(tmp_path, *extra):
    spec = tmp_path / "broken.yaml"
    spec.write_text(SPEC)
    db = tmp_path / "hpo.db"
    result = CliRunner().invoke(cli, ["run", str(spec), "--db", str(db), "--plain", *extra])
    return result, db


def test_plain_mode_prints_the_last_stderr_lines_and_the_same_error_warning(tmp_path):
    result, _ = _run(tmp_path)
    lines = result.stdout.splitlines()
    assert result.exit_code == 1  # every trial failed; without --fail-fast all six ran
    assert sum(ln.startswith("trial ") and " failed (" in ln for ln in lines) == 6
    at = lines.index(next(ln for ln in lines if ln.startswith("trial 1 failed (exited with code 2)")))
    assert lines[at + 1:at + 4] == ["  | Traceback (most recent call last):", "  | ValueError: x=1 is bad",
                                    "  | ValueError: cannot train"]
    # the error lines differ in x, the last line is the same: said once, after the third trial
    warned = [ln for ln in lines if ln.startswith("the first 3 trials all failed with the same error")]
    assert len(warned) == 1
    assert "(exited with code 2: ValueError: cannot train)" in warned[0] and "--fail-fast" in warned[0]
    assert lines.index(warned[0]) > lines.index(next(ln for ln in lines if ln.startswith("trial 3 failed")))


def test_fail_fast_ends_the_group_at_the_first_failed_trial(tmp_path):
    result, db = _run(tmp_path, "--fail-fast")
    assert result.exit_code == 1
    with EventStore(db) as store:
        gid = store.resolve("broken")
        state = GroupState.fold(store.read(gid))
    assert state.status == "failed"
    assert [t.trial_id for t in state.trials.values() if t.status == "failed"] == [1]
    assert state.group_stop.policy == "failures" and "max_failed=1" in state.group_stop.reason
    assert {"kind": "failures", "options": {"max_failed": 1}, "path": "--fail-fast"} in state.spec["stoppers"]
    assert "search stopped by failures" in result.stdout


def test_the_same_error_watch_needs_the_first_three_to_fail_alike():
    class E:
        type, attempt, resumable = "TrialFinished", 1, False

        def __init__(self, status, reason="", tail=""):
            self.status, self.reason, self.output_tail = status, reason, tail

    state = GroupState(group_id="g")
    watch = SameErrorWatch()
    assert watch.observe(E("succeeded"), state) is None
    assert [watch.observe(E("failed", "exited with code 1"), state) for _ in range(3)] == [None] * 3
    other = SameErrorWatch()
    said = [other.observe(E("failed", "exited with code 1", "--- stderr.log ---\nboom"), state) for _ in range(4)]
    assert said[:2] == [None, None] and said[2] and said[3] is None
    assert error_lines("--- stdout.log ---\n@hpo loss=1\nsaid\n--- stderr.log ---\n\n") == ["said"]
    assert json.dumps(error_lines("")) == "[]"
