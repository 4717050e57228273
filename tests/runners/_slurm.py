"""A throwaway single-node Slurm cluster for the Dask runner's ``scheduler: slurm`` tests.

Debian's packages (``apt-get install slurmctld slurmd munge``, Slurm 22.05) and root are all it
needs: it writes its own ``slurm.conf`` in a temporary folder (this machine as the one node, with
the CPUs and memory ``slurmd -C`` reports, one partition ``hpo``, free ports, no cgroups:
``proctrack/linuxproc`` and ``task/none``, no accounting), starts its own ``munged`` on a private
socket with a fresh key, then ``slurmctld`` and ``slurmd`` in the foreground, and waits until
``sinfo`` shows the node idle. Nothing of the machine's own Slurm or munge is touched, so it can
run beside them and beside another test run. Client commands (``sbatch``, ``squeue``) find it
through ``SLURM_CONF``, which the fixture sets for the test session.

Run by hand: ``python -c "from tests.runners._slurm import main; main()"`` from the repository
root starts one and prints the ``SLURM_CONF`` line to export; Ctrl-C stops it. The daemons die
with the process that started them (``PR_SET_PDEATHSIG``), so a killed test run leaves none.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._sshd import die_with_parent

PARTITION = "hpo"
DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scancel")


def slurm_missing() -> str | None:
    absent = [name for name in DAEMONS if not _which(name)]
    if absent:
        return (f"Slurm is not installed ({', '.join(absent)} missing): "
                "apt-get install slurmctld slurmd munge")
    if os.geteuid() != 0:
        return "the throwaway Slurm runs its daemons as root"
    return None


def _which(name: str) -> str | None:
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}",) if os.path.exists(p)), None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_line() -> str:
    """This machine as ``slurmd -C`` sees it: ``NodeName=... CPUs=... RealMemory=...``."""
    out = subprocess.run([_which("slurmd"), "-C"], capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("NodeName="))
    return line + " NodeAddr=127.0.0.1 State=UNKNOWN"


class Slurm:
    """One slurmctld, one slurmd and their munged, in ``folder``; :meth:`stop` ends them all."""

    def __init__(self, folder: Path | None = None):
        # short: munge's socket path must fit in a sockaddr_un
        self.folder = folder or Path(tempfile.mkdtemp(prefix="hpo-slurm-"))
        self.conf = self.folder / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self.procs: list[subprocess.Popen] = []

    def write_conf(self) -> None:
        f = self.folder
        node = _node_line()
        name = node.split()[0].split("=", 1)[1]
        for d in ("state", "spool"):
            (f / d).mkdir(exist_ok=True)
        self.conf.write_text("\n".join([
            "ClusterName=hpotest",
            f"SlurmctldHost={name}(127.0.0.1)",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={f / 'munge.sock'}",
            "SlurmUser=root",
            "SlurmdUser=root",
            f"StateSaveLocation={f / 'state'}",
            f"SlurmdSpoolDir={f / 'spool'}",
            f"SlurmctldPidFile={f / 'slurmctld.pid'}",
            f"SlurmdPidFile={f / 'slurmd.pid'}",
            f"SlurmctldLogFile={f / 'slurmctld.log'}",
            f"SlurmdLogFile={f / 'slurmd.log'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "MpiDefault=none",
            "ReturnToService=2",
            "MailProg=/bin/true",
            "SchedulerParameters=sched_min_interval=100000",  # schedule within 0.1 s, not 2 s
            "KillWait=5",  # a cancelled job's processes get SIGKILL 5 s after SIGTERM (default 30)
            node,
            f"PartitionName={PARTITION} Nodes={name} Default=YES MaxTime=INFINITE State=UP",
            "",
        ]))

    def _spawn(self, *cmd: str) -> subprocess.Popen:
        log = open(self.folder / f"{Path(cmd[0]).name}.out", "ab")
        proc = subprocess.Popen(list(cmd), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                env=self.env, start_new_session=True, preexec_fn=die_with_parent)
        log.close()
        self.procs.append(proc)
        return proc

    def start(self, timeout: float = 60) -> "Slurm":
        f = self.folder
        self.write_conf()
        key = f / "munge.key"
        subprocess.run([_which("mungekey"), "--create", f"--keyfile={key}"], check=True, capture_output=True)
        key.chmod(0o400)
        self._spawn(_which("munged"), "--foreground", "--force", f"--socket={f / 'munge.sock'}",
                    f"--key-file={key}", f"--log-file={f / 'munged.log'}",
                    f"--pid-file={f / 'munged.pid'}", f"--seed-file={f / 'munged.seed'}")
        self._wait(lambda: (f / "munge.sock").exists(), timeout, "munged did not create its socket")
        self._spawn(_which("slurmctld"), "-D", "-i", "-f", str(self.conf))
        self._spawn(_which("slurmd"), "-D", "-f", str(self.conf))
        self._wait(self.node_idle, timeout, "the node did not come up idle in sinfo")
        return self

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [p for p in self.procs if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{dead[0].args[0]} exited ({dead[0].returncode}): {self.logs()}")
            if ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{what} within {timeout:g}s: {self.logs()}")

    def node_idle(self) -> bool:
        done = self.run("sinfo", "-h", "-o", "%T")
        return done.returncode == 0 and done.stdout.strip() == "idle"

    def run(self, *cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run([_which(cmd[0]), *cmd[1:]], capture_output=True, text=True,
                              env=self.env, timeout=30)

    def jobs(self, name: str | None = None) -> list[dict[str, str]]:
        """The jobs ``squeue`` lists (id, name, state), those called ``name`` only if given."""
        out = self.run("squeue", "-h", "-o", "%i|%j|%T").stdout
        rows = [dict(zip(("id", "name", "state"), line.split("|"))) for line in out.splitlines() if line]
        return [r for r in rows if name is None or r["name"] == name]

    def wait_jobs(self, until, timeout: float = 60, name: str | None = None) -> list[dict[str, str]]:
        deadline = time.monotonic() + timeout
        while True:
            jobs = self.jobs(name)
            if until(jobs) or time.monotonic() > deadline:
                return jobs
            time.sleep(0.2)

    def logs(self) -> str:
        tails = []
        for name in ("munged.out", "slurmctld.out", "slurmd.out", "slurmctld.log", "slurmd.log"):
            path = self.folder / name
            if path.exists():
                tails.append(f"--- {name} ---\n{path.read_text(errors='replace')[-1500:]}")
        return "\n".join(tails)

    def stop(self) -> None:
        """Cancel every job, then end the daemons (slurmd first, munged last)."""
        if any(p.poll() is None for p in self.procs):
            self.run("scancel", "--full", "--user=root")
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        self.procs.clear()
        shutil.rmtree(self.folder, ignore_errors=True)


def main() -> None:
    why = slurm_missing()
    if why:
        raise SystemExit(why)
    cluster = Slurm().start()
    print(f"export SLURM_CONF={cluster.conf}   # Ctrl-C stops it", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
