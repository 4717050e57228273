"""Dask workers as Slurm jobs: the Dask runner's ``scheduler: slurm``, through dask-jobqueue.

HPC users scale Dask with dask-jobqueue's ``SLURMCluster``: the scheduler runs in this process,
and each worker is a batch job (``sbatch``) that starts ``dask worker`` on a compute node and
connects back. This module holds the ``slurm:`` options, checks them, creates and scales the
cluster, and keeps it scaled: a worker job that ends (preempted, past its walltime, cancelled)
leaves the scheduler, and dask-jobqueue drops it after ``distributed.deploy.lost-worker-timeout``;
scaling again submits a job in its place. Closing the cluster cancels its jobs (``scancel``).

Before the first job is submitted, ``sbatch --test-only`` checks the job script, so an option
Slurm refuses (an unknown partition, more memory than a node has) is an error that names the
option instead of workers that never come.
"""

from __future__ import annotations

import re
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from hpo.errors import SpecError
from hpo.runkit.machines import RunnerUnavailable

INSTALL_HINT = "the dask runner's `scheduler: slurm` needs dask-jobqueue: pip install 'hpo-groups[slurm]'"
RESCALE_EVERY = 5.0  # seconds between two scale() calls that replace ended worker jobs

# Slurm's time formats (sbatch --time): MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS
_WALLTIME = re.compile(r"\d+-\d+(:\d\d){0,2}|\d+(:\d\d){0,2}")
_MEMORY = re.compile(r"\d+(\.\d+)?\s*([kmgtp]i?b?|b)?", re.IGNORECASE)

# What sbatch says when it refuses a job, and the options that may have asked for it
_REFUSALS = [
    (re.compile(r"partition", re.I), ("queue",)),
    (re.compile(r"account", re.I), ("account",)),
    (re.compile(r"generic resource|gres", re.I), ("job_extra_directives",)),
    # more CPUs or memory than any node of the partition has
    (re.compile(r"node configuration", re.I), ("cores", "memory", "job_extra_directives")),
    (re.compile(r"memory|--mem\b", re.I), ("memory",)),
    (re.compile(r"time limit|invalid time", re.I), ("walltime",)),
    (re.compile(r"cpu|processors", re.I), ("cores",)),
]


class SbatchRefused(RunnerUnavailable):
    """sbatch refused the worker job script: only a change to the spec helps."""


class SlurmOptions(BaseModel):
    """``runner.slurm``: the worker jobs, in dask-jobqueue's words (``SLURMCluster``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    queue: str | None = Field(None, validation_alias=AliasChoices("queue", "partition"),
                              description="the partition (sbatch -p); `partition` works too")
    account: str | None = Field(None, description="sbatch -A")
    cores: int = Field(1, ge=1, description="CPUs per job: its workers run that many trials at once")
    processes: int = Field(1, ge=1, description="worker processes per job")
    memory: str = Field("1GB", description="memory per job, e.g. 4GB (sbatch --mem)")
    walltime: str = Field("01:00:00", description="time limit per job, e.g. 04:00:00 or 1-00:00:00")
    jobs: int | None = Field(None, ge=1, description="worker jobs to keep running")
    workers: int | None = Field(None, ge=1, description="or: worker processes to keep running")
    job_name: str = Field("hpo-dask", pattern=r"^[A-Za-z0-9_.-]+$", description="sbatch -J")
    job_extra_directives: list[str] = Field(default_factory=list, description="more sbatch options")
    job_script_prologue: list[str] = Field(default_factory=list, description="shell lines before the worker")
    worker_extra_args: list[str] = Field(default_factory=list, description="more `dask worker` options")
    python: str | None = Field(None, description="the python on the nodes (default: this one)")
    interface: str | None = Field(None, description="network interface for the scheduler and workers")
    local_directory: str | None = Field(None, description="the workers' scratch folder on the node")
    log_directory: str | None = Field(None, description="worker job logs (default: the group's folder)")

    @field_validator("walltime")
    @classmethod
    def _walltime(cls, value: str) -> str:
        if not _WALLTIME.fullmatch(value.strip()):
            raise ValueError("expected a Slurm time limit: MM, HH:MM:SS or D-HH:MM:SS, e.g. 04:00:00")
        return value.strip()

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        if not _MEMORY.fullmatch(value.strip()):
            raise ValueError("expected an amount of memory with its unit, e.g. 4GB or 512MiB")
        return value.strip()

    @field_validator("job_extra_directives")
    @classmethod
    def _directives(cls, value: list[str]) -> list[str]:
        for line in value:
            if not line.strip().startswith("-"):
                raise ValueError(f"each entry is an sbatch option as sbatch takes it, e.g. "
                                 f"--gres=gpu:1 (without #SBATCH); got {line!r}")
        return value


def check_options(options: dict[str, Any], scheduler: str, slurm: SlurmOptions | None, path: str) -> None:
    """What one option cannot say alone: ``slurm:`` goes with ``scheduler: slurm``, and says
    how many workers to start."""
    if scheduler != "slurm":
        if slurm is not None:
            raise SpecError(f"only with `scheduler: slurm` (the scheduler is {scheduler!r})", f"{path}.slurm")
        return
    if slurm is None:
        raise SpecError("`scheduler: slurm` needs a `slurm:` mapping that says how many worker "
                        "jobs to start, e.g. {jobs: 2, queue: PARTITION}", f"{path}.slurm")
    for local_only in ("n_workers", "gpus"):
        if local_only in options:
            raise SpecError(f"{local_only!r} is for `scheduler: local`; with Slurm, say it in "
                            "`slurm:` (jobs or workers, and job_extra_directives such as --gres=gpu:1)",
                            f"{path}.{local_only}")
    if (slurm.jobs is None) == (slurm.workers is None):
        raise SpecError("say how many workers to start: either `jobs: N` (batch jobs) or "
                        "`workers: N` (worker processes), not both", f"{path}.slurm")
    if slurm.processes > slurm.cores:
        raise SpecError(f"{slurm.processes} processes need at least as many cores (cores: {slurm.cores})",
                        f"{path}.slurm.processes")


def slurm_cluster_class() -> type:
    """dask-jobqueue's ``SLURMCluster``, imported without the Ctrl-C handler that importing it
    installs (``dask_jobqueue.runner`` sets one that calls ``sys.exit()``): kept, it would end
    ``hpo run`` on Ctrl-C without the pause Ctrl-C promises. :class:`RunnerUnavailable` without
    dask-jobqueue."""
    before = signal.getsignal(signal.SIGINT)
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise RunnerUnavailable(INSTALL_HINT) from None
    finally:
        if before is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, before)
    return SLURMCluster


class SlurmWorkers:
    """A ``SLURMCluster`` whose job script sbatch accepts, kept at the options' size.

    Raises :class:`RunnerUnavailable` without dask-jobqueue, or when sbatch refuses the job
    script (the reason names the option)."""

    def __init__(self, slurm: SlurmOptions, log_directory: Path, path: str = "runner.slurm"):
        SLURMCluster = slurm_cluster_class()
        self.slurm = slurm
        kwargs: dict[str, Any] = {
            "queue": slurm.queue, "account": slurm.account, "cores": slurm.cores,
            "processes": slurm.processes, "memory": slurm.memory, "walltime": slurm.walltime,
            "job_name": slurm.job_name, "job_extra_directives": slurm.job_extra_directives,
            "job_script_prologue": slurm.job_script_prologue, "worker_extra_args": slurm.worker_extra_args,
            "interface": slurm.interface, "local_directory": slurm.local_directory,
            "log_directory": slurm.log_directory or str(log_directory),
            "scheduler_options": {"dashboard_address": ":0", "allowed_failures": 0}, "silence_logs": 40,
        }
        if slurm.python:
            kwargs["python"] = slurm.python
        Path(kwargs["log_directory"]).mkdir(parents=True, exist_ok=True)
        self.cluster = SLURMCluster(**kwargs)
        try:
            check_script(self.cluster.job_script(), slurm, path)
        except BaseException:
            self.cluster.close()
            raise
        self.scaled_at = 0.0
        self.keep_scaled()

    @property
    def scheduler_address(self) -> str:
        return self.cluster.scheduler_address

    def keep_scaled(self) -> None:
        """Scale again now and then: dask-jobqueue submits a job for each one that ended."""
        now = time.monotonic()
        if now - self.scaled_at < RESCALE_EVERY:
            return
        self.scaled_at = now
        if self.slurm.jobs is not None:
            self.cluster.scale(jobs=self.slurm.jobs)
        else:
            self.cluster.scale(n=self.slurm.workers)

    def job_ids(self) -> list[str]:
        """The Slurm job ids of the workers submitted and not yet closed."""
        return [str(job.job_id) for job in list(self.cluster.workers.values())
                if getattr(job, "job_id", None)]

    def close(self, wait: float = 30.0) -> None:
        """Close the scheduler and cancel every worker job (scancel), then wait (at most
        ``wait`` seconds) until ``squeue`` no longer lists them: when the group ends, nothing
        of it holds the cluster's nodes."""
        ids = self.job_ids()
        self.cluster.close()
        deadline = time.monotonic() + wait
        while ids and time.monotonic() < deadline:
            try:
                done = subprocess.run(["squeue", "-h", "-o", "%i", "-j", ",".join(ids)],
                                      capture_output=True, text=True, timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                return
            if done.returncode != 0 or not set(done.stdout.split()) & set(ids):
                return  # squeue says "Invalid job id" once Slurm has forgotten them all
            time.sleep(0.2)


def check_script(script: str, slurm: SlurmOptions, path: str) -> None:
    """``sbatch --test-only`` on the worker job script: Slurm checks it and submits nothing."""
    with tempfile.NamedTemporaryFile("w", suffix=".sh", prefix="hpo-slurm-") as fh:
        fh.write(script)
        fh.flush()
        try:
            done = subprocess.run(["sbatch", "--test-only", fh.name], capture_output=True,
                                  text=True, timeout=60)
        except FileNotFoundError:
            raise RunnerUnavailable("`scheduler: slurm` needs Slurm's sbatch on PATH (it is not)") from None
        except subprocess.TimeoutExpired:
            raise RunnerUnavailable("sbatch --test-only did not answer within 60s: is slurmctld up?") from None
    if done.returncode != 0:
        said = " ".join(line.strip() for line in done.stderr.splitlines() if line.strip())
        raise SbatchRefused(f"sbatch refused the worker job ({_culprit(said, slurm, path)}): {said}")


def _culprit(said: str, slurm: SlurmOptions, path: str) -> str:
    """The options sbatch's complaint is about, with their values (else the extra directives)."""
    names = next((names for pattern, names in _REFUSALS if pattern.search(said)), ("job_extra_directives",))
    return "check " + ", ".join(f"{path}.{name}: {getattr(slurm, name)!r}" for name in names)
