"""Process facts (hpo.runkit.procs), for real processes: running, zombie, gone, a reused pid,
another boot; and the same facts where ``/proc`` cannot be read, as on macOS: they come from
psutil, never from parsing ``/proc`` by hand."""

from __future__ import annotations

import builtins
import io
import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest

from hpo.plugins.runners.local import LocalConfig, LocalRunner
from hpo.runkit import procs
from hpo.runkit.procs import GONE, OTHER, RUNNING, ZOMBIE, ProcessRecord

from .conftest import drain, exits, make_launch

# frames of these modules are plumbing between a caller and the file it opens
PLUMBING = {"pathlib", "io", "_io", "codecs", "functools", __name__}


def _caller_module() -> str:
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__") in PLUMBING:
        frame = frame.f_back
    return frame.f_globals.get("__name__", "") if frame is not None else ""


@pytest.fixture
def no_procfs(monkeypatch):
    """Any read of /proc fails, except psutil's own (psutil is how the facts are to be had
    on every platform; on Linux it reads /proc itself)."""
    real_open, real_listdir = builtins.open, os.listdir

    def refused(path) -> bool:
        return str(os.fspath(path) if not isinstance(path, int) else "").startswith("/proc") \
            and not _caller_module().startswith("psutil")

    def guarded_open(file, *args, **kwargs):
        if refused(file):
            raise FileNotFoundError(2, "no /proc here", str(file))
        return real_open(file, *args, **kwargs)

    def guarded_listdir(path="."):
        if refused(path):
            raise FileNotFoundError(2, "no /proc here", str(path))
        return real_listdir(path)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.setattr(os, "listdir", guarded_listdir)
    procs.boot_id.cache_clear()
    yield
    procs.boot_id.cache_clear()


def test_the_guard_refuses_our_own_reads_of_proc(no_procfs):
    with pytest.raises(FileNotFoundError):
        open("/proc/self/stat")
    assert psutil.Process(os.getpid()).create_time() > 0  # psutil itself still reads it


@pytest.mark.parametrize("procfs", ["readable", "unavailable"])
def test_a_running_process_and_its_start_time(procfs, sleeper, request):
    if procfs == "unavailable":
        request.getfixturevalue("no_procfs")
    record = ProcessRecord.of(sleeper.pid)
    assert record.state() == RUNNING and record.alive() and procs.alive(sleeper.pid)
    assert record.boot == procs.boot_id() and record.boot
    assert record == ProcessRecord.of(sleeper.pid)  # the same facts every time


def test_the_start_time_is_the_kernels_start_tick(sleeper):
    with open(f"/proc/{sleeper.pid}/stat") as fh:
        stat = fh.read()
    ticks = int(stat[stat.rfind(")") + 2:].split()[19])
    record = ProcessRecord.of(sleeper.pid)
    assert abs(record.start - ticks / os.sysconf("SC_CLK_TCK")) < procs.START_SLACK
    legacy = ProcessRecord.from_handle({"pid": sleeper.pid, "ticks": ticks, "boot": record.boot})
    assert legacy.state() == RUNNING  # handles recorded before psutil still find their trial


def test_without_proc_the_boot_comes_from_psutil(no_procfs):
    assert procs.boot_id() == f"boot-{round(psutil.boot_time())}"


@pytest.mark.parametrize("procfs", ["readable", "unavailable"])
def test_a_zombie_is_not_alive(procfs, zombie, request):
    if procfs == "unavailable":
        request.getfixturevalue("no_procfs")
    record = ProcessRecord.of(zombie)
    assert record.start is not None and record.state() == ZOMBIE
    assert not record.alive() and not procs.alive(zombie)


@pytest.mark.parametrize("procfs", ["readable", "unavailable"])
def test_a_reused_pid_is_another_process_and_is_never_signalled(procfs, sleeper, request):
    if procfs == "unavailable":
        request.getfixturevalue("no_procfs")
    now = ProcessRecord.of(sleeper.pid)
    recorded = ProcessRecord(now.pid, now.start - 1.0, now.boot)  # the pid's earlier holder
    assert recorded.state() == OTHER and not recorded.alive()
    assert not recorded.signal_group(signal.SIGKILL)
    time.sleep(0.1)
    assert sleeper.poll() is None, "a process that reuses the recorded pid was killed"
    assert now.signal_group(signal.SIGTERM)
    assert sleeper.wait(timeout=10) == -signal.SIGTERM


def test_a_record_from_another_boot_is_another_process(sleeper):
    record = ProcessRecord.of(sleeper.pid)
    earlier_boot = ProcessRecord(record.pid, record.start, "an-earlier-boot")
    assert earlier_boot.state() == OTHER and not earlier_boot.signal_group(signal.SIGKILL)
    assert sleeper.poll() is None


def test_a_pid_nobody_holds_is_gone():
    proc = subprocess.Popen(["true"])
    record = ProcessRecord.of(proc.pid)
    proc.wait()
    assert record.state() == GONE and not record.alive()
    assert not record.signal_group(signal.SIGKILL)  # no such group: nothing sent, no error
    assert ProcessRecord(0).state() == GONE and ProcessRecord.from_handle({}) is None


def test_pid_files_round_trip_and_old_ones_are_read(tmp_path, sleeper):
    record = ProcessRecord.of(sleeper.pid)
    path = tmp_path / "pid"
    path.write_text(record.dumps())
    assert ProcessRecord.load(path) == record
    with open(f"/proc/{sleeper.pid}/stat") as fh:
        stat = fh.read()
    ticks = stat[stat.rfind(")") + 2:].split()[19]
    path.write_text(f"{sleeper.pid} {ticks} {record.boot}\n")  # written by earlier versions
    assert ProcessRecord.load(path).state() == RUNNING
    path.write_text("")
    assert ProcessRecord.load(path) is None and ProcessRecord.load(tmp_path / "none") is None


@pytest.mark.parametrize("procfs", ["readable", "unavailable"])
def test_a_live_engine_holds_its_lease(procfs, request):
    if procfs == "unavailable":
        request.getfixturevalue("no_procfs")
    me = {"pid": os.getpid(), "host": socket.gethostname(), "seen_at": time.time(), "lease_seconds": 60}
    assert procs.engine_alive(me, time.time())
    assert not procs.engine_alive(me, time.time() + 61)  # the lease ran out
    proc = subprocess.Popen(["true"])
    proc.wait()
    assert not procs.engine_alive({**me, "pid": proc.pid}, time.time())  # its process is gone
    later = subprocess.Popen(["sleep", "30"])
    try:  # a process that started after the engine's last renewal is not that engine
        assert not procs.engine_alive({**me, "pid": later.pid, "seen_at": time.time() - 5}, time.time())
    finally:
        later.kill()
        later.wait()
    assert procs.engine_alive({**me, "host": "elsewhere", "pid": 1}, time.time())


def test_without_proc_the_local_runner_reattaches_and_discards(no_procfs, tmp_path):
    first = LocalRunner(LocalConfig(grace_period=0.5))
    la = make_launch(tmp_path, "echo '@hpo step=1 x=1'; sleep 0.5; echo '@hpo step=2 x=2'")
    handle = first.start(la)
    drain(first, until=lambda m: bool(m))
    first.close(stop_running=False)  # the engine died; the trial lives on
    second = LocalRunner(LocalConfig())
    assert second.reattach(la, handle, 0), "a live trial looked dead without /proc"
    got = drain(second)
    assert [m.step for m in got if hasattr(m, "step")] == [1, 2] and exits(got)[0].status == "succeeded"
    orphan = make_launch(tmp_path, "sleep 30", trial_id=2)
    orphan_pid = first.start(orphan)["pid"]
    first.attempts.clear()  # started, never recorded
    LocalRunner(LocalConfig()).discard(orphan)  # found by its command line, through psutil
    assert os.waitpid(orphan_pid, 0)[1] == signal.SIGKILL


def test_releasing_a_child_that_does_not_lead_its_group_yet_kills_it(tmp_path):
    """Right after a fork (the python runner's process backend) the child may not have called
    setsid yet: closing the runner then killed its group, which did not exist, and waited for
    the child to end on its own (a 60 s objective held `close` for 60 s)."""
    from hpo.runkit.process import ProcessAttempt

    pid = os.fork()
    if pid == 0:  # a child that never leads its own group, as one caught before its setsid
        try:
            time.sleep(60)
        finally:
            os._exit(0)
    att = ProcessAttempt(make_launch(tmp_path, "python objective"), ProcessRecord.of(pid),
                         child=True, grace_period=5)
    started = time.monotonic()
    att.release()
    assert att.reaped and time.monotonic() - started < 10
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
