"""The SSH runner's remote process checks, run for real by ``/bin/sh`` on this machine.

Each check runs twice: reading ``/proc`` as on a Linux host, and with ``/proc`` unavailable,
where the facts come from ``ps`` as on a macOS or BSD host.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from hpo.plugins.runners import _remote_sh as sh

MODES = {"proc": "/proc", "ps": "/nonexistent-procfs"}


def run(procfs: str, body: str) -> str:
    out = subprocess.run(["/bin/sh", "-c", sh.identity(procfs) + body], capture_output=True,
                         text=True, timeout=30, check=True)
    return out.stdout.strip()


def facts(procfs: str, pid: int) -> tuple[str, str]:
    """(start, boot) of ``pid`` as the wrapper records them."""
    start = run(procfs, f'f=$(_facts {pid}) && echo "${{f#* }}"')
    return start, run(procfs, "_boot")


def ident(procfs: str, pid: int, start: str, boot: str) -> str:
    return run(procfs, f"_ident {pid} '{start}' '{boot}'")


def signal_group(procfs: str, sig: str, pid: int, start: str, boot: str) -> str:
    """What ``_signal`` does to the group of the process recorded as PID START BOOT."""
    return run(procfs, f"_which /nonexistent {pid} '{start}' '{boot}'; _signal {sig}")


@pytest.mark.parametrize("mode", MODES)
def test_a_running_process_is_running_and_its_start_is_stable(mode, sleeper):
    procfs = MODES[mode]
    start, boot = facts(procfs, sleeper.pid)
    assert start and start != "-" and " " not in start
    assert facts(procfs, sleeper.pid) == (start, boot)
    assert ident(procfs, sleeper.pid, start, boot) == "running"
    assert ident(procfs, sleeper.pid, "-", "-") == "running"  # nothing recorded: the pid decides


@pytest.mark.parametrize("mode", MODES)
def test_a_zombie_is_not_running(mode, zombie):
    procfs = MODES[mode]
    start, boot = facts(procfs, zombie)
    assert ident(procfs, zombie, start, boot) == "zombie"


@pytest.mark.parametrize("mode", MODES)
def test_a_reused_pid_is_another_process_and_is_never_signalled(mode, sleeper):
    procfs = MODES[mode]
    start, boot = facts(procfs, sleeper.pid)
    earlier = str(int(start) - 1) if start.isdigit() else "Mon" + start
    assert ident(procfs, sleeper.pid, earlier, boot) == "other"
    assert signal_group(procfs, "KILL", sleeper.pid, earlier, boot) == "other"
    time.sleep(0.2)
    assert sleeper.poll() is None, "a process that only reuses the recorded pid was killed"
    assert signal_group(procfs, "TERM", sleeper.pid, start, boot) == "signalled"
    assert sleeper.wait(timeout=10) == -signal.SIGTERM


@pytest.mark.parametrize("mode", MODES)
def test_a_record_from_another_boot_is_another_process(mode, sleeper):
    procfs = MODES[mode]
    start, _ = facts(procfs, sleeper.pid)
    assert ident(procfs, sleeper.pid, start, "an-earlier-boot") == "other"
    assert signal_group(procfs, "KILL", sleeper.pid, start, "an-earlier-boot") == "other"
    time.sleep(0.2)
    assert sleeper.poll() is None


@pytest.mark.parametrize("mode", MODES)
def test_a_pid_nobody_holds_is_gone(mode):
    proc = subprocess.Popen(["true"])
    proc.wait()
    procfs = MODES[mode]
    assert ident(procfs, proc.pid, "123", "-") == "gone"
    assert ident(procfs, 0, "-", "-") == "gone"
    assert signal_group(procfs, "KILL", proc.pid, "123", "-") == "gone"  # no such group: no error


def test_the_wrapper_records_its_pid_start_and_boot(tmp_path):
    subprocess.run(["/bin/sh", "-c", sh.WRAPPER, "hpo-trial", "echo $$ > inner", str(tmp_path)],
                   cwd=tmp_path, check=True, timeout=30)
    pid, start, boot = (tmp_path / "pid").read_text().split()
    assert int(pid) > 0 and start.isdigit()  # clock ticks after boot, from /proc here
    assert boot == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert (tmp_path / "exit_code").read_text() == "0\n"


def test_parse_started_keeps_ticks_as_a_number_and_ps_starts_as_text():
    assert sh.parse_started(b"@@hpo-started /r 12 345 b00t\n") == ("/r", 12, 345, "b00t")
    assert sh.parse_started(b"@@hpo-started /r 12 MonJan112:00:002024 -\n") == (
        "/r", 12, "MonJan112:00:002024", "")
    assert sh.parse_started(b"@@hpo-started /r 12 - -\n") == ("/r", 12, None, "")


def kill(procfs: str, targets, remove: bool = True) -> dict[str, str]:
    """Run the kill script here, reading process facts from ``procfs``; {folder: outcome}."""
    body = sh.kill_script(targets, remove).replace(sh.identity(), "", 1)
    return sh.parse_killed(run(procfs, body).encode())


@pytest.mark.parametrize("mode", MODES)
def test_a_pid_file_naming_an_unrelated_live_process_is_never_killed(mode, sleeper, tmp_path):
    """Whatever a pid file says, the kill script signals only the process recorded at launch:
    a pid file holding just a pid, one with another start time, and one rewritten to describe an
    unrelated live process exactly (its real start time and boot) all leave that process alone,
    and the script says why."""
    procfs = MODES[mode]
    start, boot = facts(procfs, sleeper.pid)
    earlier = str(int(start) - 1) if start.isdigit() else "Mon" + start
    folders = {name: tmp_path / name for name in ("pid-only", "other-start", "rewritten")}
    for folder in folders.values():
        folder.mkdir()
    (folders["pid-only"] / "pid").write_text(f"{sleeper.pid}\n")
    (folders["other-start"] / "pid").write_text(f"{sleeper.pid} {earlier} {boot}\n")
    (folders["rewritten"] / "pid").write_text(f"{sleeper.pid} {start} {boot}\n")
    launched = sh.Record(sleeper.pid, earlier, boot)  # what the launch recorded: another process
    outcomes = kill(procfs, [(str(folders["pid-only"]), None), (str(folders["other-start"]), None),
                             (str(folders["rewritten"]), launched)])
    assert outcomes == {str(folders["pid-only"]): "unrecorded", str(folders["other-start"]): "other",
                        str(folders["rewritten"]): "changed"}
    time.sleep(0.2)
    assert sleeper.poll() is None, "a process the pid file merely named was killed"
    assert not folders["other-start"].exists()  # not the trial's: its folder goes
    assert folders["pid-only"].exists() and folders["rewritten"].exists()  # kept for a person to see
    check = sh.check_script(str(folders["rewritten"]), launched).replace(sh.identity(), "", 1)
    assert run(procfs, check) == "@@hpo-check lost changed"
    assert sleeper.poll() is None


@pytest.mark.parametrize("mode", MODES)
def test_the_kill_script_kills_the_recorded_process_and_removes_its_folder(mode, sleeper, tmp_path):
    procfs = MODES[mode]
    start, boot = facts(procfs, sleeper.pid)
    (tmp_path / "pid").write_text(f"{sleeper.pid} {start} {boot}\n")
    assert kill(procfs, [(str(tmp_path), sh.Record(sleeper.pid, start, boot))]) == {
        str(tmp_path): "signalled"}
    assert sleeper.wait(timeout=10) == -signal.SIGKILL
    assert not tmp_path.exists()
