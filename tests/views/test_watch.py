"""hpo watch on a running group from a second process: it follows to the end and never makes
the engine wait on a lock. The engine is a real `hpo resume` process (the group is created
first, so the watchers are following before the first trial starts)."""

import os
import re
import subprocess
import sys
import textwrap

from click.testing import CliRunner

from hpo.cli import cli
from hpo.engine.composition import create_group
from hpo.spec import parse_spec
from hpo.eventlog.store import EventStore
from hpo.views.source import ReadOnlyStore, load_group

SLOW = textwrap.dedent(
    """
    import time
    import hpo
    p = hpo.params()
    for step in range(1, 6):
        time.sleep(0.08)
        hpo.report(step=step, loss=p["x"] / step)
    """
)
SPEC = textwrap.dedent(
    """
    name: watched
    settings:
      concurrency: 2
      metric: {{name: loss, optimization: minimize}}
      matrix:
        x: {{values: [1, 2, 3, 4, 5, 6]}}
    run:
      cmd: {python} slow.py
    """
)


def hpo_process(args, cwd, db, **env_extra):
    env = {**os.environ, "HPO_DB": str(db), "COLUMNS": "100", **env_extra}
    return subprocess.Popen([sys.executable, "-c", "from hpo.cli import main; main()", *args], cwd=cwd,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_watch_a_running_group_from_another_process(tmp_path):
    (tmp_path / "slow.py").write_text(SLOW)
    spec_text = SPEC.format(python=sys.executable)
    db = tmp_path / ".hpo" / "hpo.db"
    with EventStore(db) as store:
        spec = parse_spec(spec_text, source=str(tmp_path / "spec.yaml"))
        create_group(store, spec, seed=0, source=spec_text, source_path=str(tmp_path / "spec.yaml"))
    watchers = [hpo_process(["watch", "watched", "--interval", "0.05", "--plain"], tmp_path, db),
                hpo_process(["watch", "watched", "--interval", "0.05"], tmp_path, db, FORCE_COLOR="1")]
    engine = None
    try:
        # the plain watcher's first line says it has folded the group: it follows from here on
        assert watchers[0].stdout.readline().startswith("group watched (")
        engine = hpo_process(["resume", "watched"], tmp_path, db)
        reads = 0
        while engine.poll() is None:  # a third reader, as fast as it can
            with ReadOnlyStore(db) as store:
                load_group(store, "watched")
            reads += 1
        engine_out, engine_err = engine.communicate(timeout=120)
        results = [w.communicate(timeout=60) + (w.returncode,) for w in watchers]
    finally:
        for p in [engine, *watchers]:
            if p is not None and p.poll() is None:
                p.kill()
    assert engine.returncode == 0, engine_out + engine_err
    assert "locked" not in engine_err.lower() and "busy" not in engine_err.lower(), engine_err
    assert reads > 5
    for out, err, code in results:
        assert code == 0, out + err
        assert "locked" not in err.lower(), err
        assert "group watched (" in out and "succeeded: 6 succeeded" in out
    plain = results[0][0]
    for trial in range(1, 7):  # it saw every trial start and end, live
        assert f"trial {trial} started: x={trial}" in plain
        assert f"trial {trial} succeeded: loss=" in plain
    assert "trial 6 succeeded: loss=1.2  [" in plain and "  [6/6 done, best 0.2 (trial 1)]" in plain
    live = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", results[1][0])  # a terminal: the live view
    assert "✓ trial 1 succeeded" in live  # its record of finished trials
    assert "6/6 trials  100%" in live


def test_watch_a_finished_group_returns_at_once(logged):
    result = CliRunner().invoke(cli, ["watch", "grid"], env={"HPO_DB": str(logged["db"])},
                                catch_exceptions=False)
    assert result.exit_code == 0
    assert "group grid (" in result.output and "succeeded: 1 failed, 3 succeeded" in result.output
