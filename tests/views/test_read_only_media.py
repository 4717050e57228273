"""Views open a database on read-only media (an archived log, a read-only mount)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hpo.engine.composition import create_group
from hpo.engine.loop import Engine
from hpo.eventlog.store import EventStore
from hpo.spec import parse_spec

SPEC = """
settings:
  grid_search: {}
  metric: {name: loss, optimization: minimize}
  matrix:
    x: {values: [1, 2]}
run:
  cmd: echo "@hpo loss={{ x }}"
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="a read-only bind mount needs root (CI runs as root)")
def test_status_and_list_read_a_log_on_a_read_only_mount(tmp_path):
    src, ro = tmp_path / "src", tmp_path / "ro"
    ro.mkdir()
    store = EventStore(src / "hpo.db")
    gid = create_group(store, parse_spec(SPEC), name="archived", source=SPEC, source_path=str(tmp_path / "s.yaml"))
    assert Engine(store, gid, poll_interval=0.01).run().status == "succeeded"
    store.close()
    subprocess.run(["mount", "--bind", str(src), str(ro)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=True)
        assert subprocess.run(["touch", str(ro / "probe")], capture_output=True).returncode != 0
        for args, shown in ((["status", "archived"], "archived"), (["list"], "archived"),
                            (["trials", "archived"], "2 trials sorted by loss")):
            out = subprocess.run([sys.executable, "-m", "hpo", *args, "--db", str(ro / "hpo.db")],
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr
            assert shown in out.stdout
    finally:
        subprocess.run(["umount", str(ro)], check=True)
    assert not Path(ro / "hpo.db").exists()
