"""The Dask runner: each trial attempt is a task on a Dask cluster that runs the shell command.

``runner: {kind: dask, scheduler: tcp://host:8786 | local | slurm, n_workers: 2}``; needs the
optional extra ``hpo-groups[dask]`` (``dask[distributed]``), and ``hpo-groups[slurm]`` for workers
started as Slurm jobs (:mod:`._dask_slurm`). The task (:mod:`._dask_task`, shipped to the
workers by value) runs the command in a new session and streams its stdout back through a
``distributed.Queue``; the runner mirrors it to the attempt's local ``stdout.log`` and parses
protocol lines from there, so offsets are stdout byte offsets like every other runner's. Stops
and reattachment go through the attempt's control ``Variable``. See docs/runners.md.
"""

from __future__ import annotations

import signal
import time
import uuid
from typing import Any

from pydantic import BaseModel, ByteSize, ConfigDict, Field

from hpo.runkit import env as runkit_env
from hpo.contracts.hookspecs import hookimpl
from hpo.contracts.runner import Launch, Message, RunnerNotice
from hpo.runkit.attempt import Attempt, AttemptRunner
from hpo.runkit.checkpoints import DEFAULT_LIMIT
from hpo.runkit.gpus import TooManyGpus, detect_gpus
from hpo.runkit.machines import BackendUnreachable, RunnerUnavailable

from . import _dask_checkpoints as ckpt
from ._dask_slurm import SbatchRefused, SlurmOptions, SlurmWorkers, check_options

INSTALL_HINT = "the dask runner needs Dask: pip install 'hpo-groups[dask]'"


class DaskConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheduler: str = Field("local", description="a scheduler address (tcp://host:8786), `local` or `slurm`")
    n_workers: int = Field(2, ge=1, description="workers of the `local` cluster (one process each)")
    gpus: list[int | str] | None = Field(
        None, description="`local` only: GPUs of the first worker (default: HPO_GPUS / nvidia-smi)")
    slots: int | None = Field(None, ge=1, description="trials at once (default: the group's concurrency)")
    grace_period: float = Field(5.0, ge=0, description="seconds between SIGTERM and SIGKILL")
    orphan_timeout: float = Field(60.0, gt=0, description="kill a trial no engine followed this long")
    connect_timeout: float = Field(30.0, gt=0)
    env: dict[str, str] = Field(default_factory=dict, description="variables for every trial")
    copy_checkpoints: bool = Field(True, description="send the checkpoint folder with the task, fetch it back in its result")
    checkpoint_limit: ByteSize = Field(ByteSize(DEFAULT_LIMIT), description="the largest checkpoint folder that travels")
    slurm: SlurmOptions | None = Field(None, description="`slurm` only: the worker jobs")


class DaskAttempt(Attempt):
    """A task on the cluster. Its stdout arrives through a queue and is mirrored to the
    attempt's ``stdout.log``; signals and reattaching go through its control variable."""

    def __init__(self, launch: Launch, task: str, runner: DaskRunner, **kw: Any):
        super().__init__(launch, **kw)
        self.task, self.runner = task, runner
        self.future: Any = None  # None after a reattach: the result variable tells the end
        self.checkpoint: tuple = (None, None)  # what fetching its checkpoint back did
        self.queue: Any = None
        self.epoch = 0
        self.fetched = 0
        self.signal_seq = 0
        self.next_check = 0.0

    def send(self, sig: int) -> None:
        self.signal_seq += 1
        self.runner._control(self, queue=self.runner._queue_name(self),
                             signal="KILL" if sig == signal.SIGKILL else "TERM")

    def reports(self) -> list[Message]:
        self.read_queue()
        return super().reports()

    def read_queue(self) -> None:
        for item in self.queue.get(batch=True) if self.queue is not None else []:
            if item[0] == "start":
                self.started = self.started or time.time()  # the timeout counts from here
            elif item[0] == "out":
                self.mirror(item[1], item[2])

    def mirror(self, start: int, data: bytes) -> None:
        if start + len(data) <= self.fetched or start > self.fetched:
            return  # already have it (a replay), or a gap that a replay will fill
        with open(self.stdout, "ab") as fh:
            fh.write(data[self.fetched - start:])
        self.fetched = start + len(data)


def _names(key: str) -> dict[str, str]:
    return {"control": f"hpo-ctl-{key}", "result": f"hpo-result-{key}", "started": f"hpo-started-{key}"}


class DaskRunner(AttemptRunner[DaskAttempt]):
    name = "dask"
    Config = DaskConfig

    @classmethod
    def parse_config(cls, options: dict[str, Any], path: str) -> DaskConfig:
        config = super().parse_config(options, path)
        check_options(options or {}, config.scheduler, config.slurm, path)
        return config

    def __init__(self, config: DaskConfig):
        super().__init__(config)
        self._client = None
        self._cluster = None
        self._refused: RunnerUnavailable | None = None  # sbatch refused the worker jobs
        self._id = uuid.uuid4().hex[:12]
        self._beat, self._beat_at = 0, 0.0

    # -- the cluster -----------------------------------------------------------------------

    def _dask(self):
        try:
            import distributed
        except ImportError:
            raise RunnerUnavailable(INSTALL_HINT) from None
        return distributed

    def client(self, gpus_needed: int = 0, launch: Launch | None = None):
        if self._client is not None:
            return self._client
        if self._refused is not None:  # the spec must change first: do not submit again
            raise self._refused
        distributed = self._dask()
        import cloudpickle

        from . import _dask_task

        cloudpickle.register_pickle_by_value(_dask_task)  # workers need no hpo installed
        cloudpickle.register_pickle_by_value(runkit_env)  # the task calls trial_environment
        if self.config.scheduler == "local":
            self._cluster = self._local_cluster(distributed, gpus_needed)
            address = self._cluster.scheduler_address
        elif self.config.scheduler == "slurm":
            self._cluster = self._slurm_cluster(launch)
            address = self._cluster.scheduler_address
        else:
            address = self.config.scheduler
        try:
            self._client = distributed.Client(address, timeout=self.config.connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise BackendUnreachable(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        self._heartbeat(force=True)
        return self._client

    def _slurm_cluster(self, launch: Launch | None) -> SlurmWorkers:
        """Worker jobs through dask-jobqueue; their logs go to the group's folder by default."""
        import tempfile
        from pathlib import Path

        group_folder = launch.trial_dir.parents[2] if launch else Path(tempfile.gettempdir())
        try:
            return SlurmWorkers(self.config.slurm, group_folder / "slurm")
        except SbatchRefused as exc:
            self._refused = exc
            raise

    def _local_cluster(self, distributed, gpus_needed: int):
        """``n_workers`` worker processes; the first one holds this machine's GPUs, if any."""
        import os

        devices: list[str] = []
        if gpus_needed or self.config.gpus is not None or "HPO_GPUS" in os.environ:
            devices = detect_gpus(self.config.gpus)
        # allowed_failures 0: Dask never runs a dead worker's task again; the engine retries the
        # trial as a new attempt in the log instead (run.max_retries)
        if not devices:
            return distributed.LocalCluster(n_workers=self.config.n_workers, threads_per_worker=1,
                                            processes=True, dashboard_address=":0", silence_logs=40,
                                            scheduler_kwargs={"allowed_failures": 0})
        workers = {}
        for i in range(self.config.n_workers):
            options: dict[str, Any] = {"nthreads": 1, "silence_logs": 40, "env": {"HPO_GPUS": ""}}
            if i == 0 and devices:
                options.update(resources={"GPU": len(devices)}, env={"HPO_GPUS": ",".join(devices)})
            workers[f"hpo-{i}"] = {"cls": distributed.Nanny, "options": options}
        scheduler = {"cls": distributed.Scheduler, "options": {"dashboard_address": ":0", "allowed_failures": 0}}
        return distributed.SpecCluster(workers=workers, scheduler=scheduler, silence_logs=40)

    def _heartbeat(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._beat_at >= 1.0:
            self._beat, self._beat_at = self._beat + 1, now
            self._dask().Variable(f"hpo-beat-{self._id}", client=self._client).set(self._beat)

    def _gpu_workers(self) -> list[int]:
        info = self.client().scheduler_info(n_workers=-1)["workers"]
        return [int(w.get("resources", {}).get("GPU", 0)) for w in info.values()]

    # -- the contract ----------------------------------------------------------------------

    def capacity(self) -> int | None:
        return self.config.slots

    def can_start(self, launch: Launch) -> bool:
        if not launch.gpus:
            return True
        self.client(launch.gpus, launch)
        sizes = self._gpu_workers()
        if not any(s >= launch.gpus for s in sizes):
            return True  # no worker could ever take it: start() fails it with the reason
        held = sum(a.launch.gpus for a in self.attempts.values())
        return sum(sizes) - held >= launch.gpus

    def start(self, launch: Launch) -> dict[str, Any]:
        distributed = self._dask()
        client = self.client(launch.gpus, launch)
        if launch.gpus and not any(s >= launch.gpus for s in self._gpu_workers()):
            raise TooManyGpus(
                f"the trial needs {launch.gpus} GPU(s) but no Dask worker declares that many "
                "(start workers with --resources GPU=N, and HPO_GPUS or nvidia-smi on them)")
        data, placing, sent = ckpt.send(launch, self.config.copy_checkpoints, self.config.checkpoint_limit)
        key = f"{launch.group_id}-{launch.trial_id}-{launch.attempt}"
        names = _names(key)
        att = DaskAttempt(launch, key, self, grace_period=self.config.grace_period)
        att.started = None  # until the task runs
        att.stdout.write_bytes(b"")
        self._control(att, queue=self._queue_name(att))
        distributed.Variable(names["started"], client=client).set(None)
        distributed.Variable(names["result"], client=client).set(None)
        spec = {"names": names, "command": launch.command, "workdir": str(launch.workdir),
                "env": {**launch.env, **self.config.env}, "inherit": runkit_env.trial_environment,
                "gpus": launch.gpus, "checkpoint": placing,
                "orphan_timeout": self.config.orphan_timeout}
        from ._dask_task import run_trial

        resources = {"GPU": launch.gpus} if launch.gpus else None
        extra = [] if data is None else [client.scatter(data, hash=False)]
        att.future = client.submit(run_trial, spec, *extra, key=f"hpo-{key}", pure=False, resources=resources)
        distributed.fire_and_forget(att.future)  # the trial may outlive this engine (reattach)
        self.attempts[launch.key] = att
        return {"key": key, "scheduler": client.scheduler.address, **sent}

    def _queue_name(self, att: DaskAttempt) -> str:
        return f"hpo-out-{att.task}-{self._id}-{att.epoch}"

    def _control(self, att: DaskAttempt, queue: str, replay: int | None = None, signal: str | None = None):
        distributed = self._dask()
        att.queue = distributed.Queue(queue, client=self._client)
        value = {"epoch": att.epoch, "queue": queue, "heartbeat": f"hpo-beat-{self._id}",
                 "replay": replay, "signal": signal, "signal_seq": att.signal_seq}
        distributed.Variable(_names(att.task)["control"], client=self._client).set(value)

    def reattach(self, launch: Launch, handle: dict[str, Any], offset: int) -> bool:
        key = handle.get("key")
        if not key:
            return False
        distributed = self._dask()
        try:
            client = self.client(launch.gpus, launch)
        except RunnerUnavailable as exc:
            self.notices.append(RunnerNotice(str(exc)))
            return False
        if self.config.scheduler in ("local", "slurm") and handle.get("scheduler") != client.scheduler.address:
            # its scheduler lived in the engine that started it and died with it: this one cannot
            # know the task. Say so at once: the variable get below would wait 5 s a trial, during
            # which the engine (still recovering) renews no lease
            return False
        names = _names(key)
        att = DaskAttempt(launch, key, self, grace_period=self.config.grace_period, offset=offset)
        mirror_size = att.stdout.stat().st_size if att.stdout.exists() else 0
        with open(att.stdout, "ab") as fh:
            fh.truncate(min(mirror_size, offset))
        att.fetched = min(mirror_size, offset)
        try:
            result = distributed.Variable(names["result"], client=client).get(timeout=5)
        except Exception:
            return False
        if result is None:
            from ._dask_task import task_state

            alive = client.run_on_scheduler(task_state, key=f"hpo-{key}")
            if alive not in ("processing", "queued", "no-worker", "waiting"):
                return False
            att.epoch = int(time.time() * 1000)  # newer than any earlier runner's epoch
            self._control(att, queue=self._queue_name(att), replay=att.fetched)
        elif result.get("status") != "exited" or result.get("orphaned"):
            return False
        self.attempts[launch.key] = att
        return True

    def discard(self, launch: Launch) -> None:
        for name in ("stdout.log", "stderr.log"):
            (launch.trial_dir / name).unlink(missing_ok=True)

    # -- polling ---------------------------------------------------------------------------

    def poll(self) -> list[Message]:
        if self._client is None:
            return self.take_notices()
        self._heartbeat()
        if isinstance(self._cluster, SlurmWorkers):
            self._cluster.keep_scaled()
        return super().poll()

    def exit_status(self, att: DaskAttempt) -> int | str | None:
        result = self._result(att, time.monotonic())
        if result is None:
            return None
        att.read_queue()
        if result.get("status") == "exited":
            att.mirror(result.get("stdout_tail_start", 0), result.get("stdout_tail", b""))
            att.checkpoint = ckpt.fetch(att.launch, result, self.config.checkpoint_limit)
        att.stderr.write_bytes(result.get("stderr_tail", b""))
        if result.get("status") != "exited":  # the worker, not the trial: it runs again
            att.lost = True
            return result.get("reason", "the Dask task failed")
        if result.get("orphaned"):
            return f"killed: no engine followed it for {self.config.orphan_timeout:g}s"
        return result["exit_code"]

    def _result(self, att: DaskAttempt, now: float) -> dict | None:
        fut = att.future
        if fut is not None:
            if fut.status == "finished":
                return fut.result()
            if fut.status in ("error", "cancelled", "lost"):
                exc = fut.exception() if fut.status == "error" else fut.status
                if type(exc).__name__ == "KilledWorker":  # allowed_failures 0: its worker died
                    return {"status": "lost", "reason": f"the Dask worker running it was lost ({exc})"}
                return {"status": "error", "reason": f"the Dask task failed: {exc!r}"}
            return None
        if now < att.next_check:
            return None
        att.next_check = now + 0.25
        return self._dask().Variable(_names(att.task)["result"], client=self._client).get(timeout=5)

    def finish(self, att: DaskAttempt, code: int | str | None) -> list[Message]:
        return ckpt.with_fetched(super().finish(att, code), att.checkpoint)

    def released(self, att: DaskAttempt) -> None:
        distributed = self._dask()
        for name in _names(att.task).values():
            try:
                distributed.Variable(name, client=self._client).delete()
            except Exception:
                pass
        try:
            att.queue.close()
        except Exception:
            pass

    def close(self, stop_running: bool) -> None:
        if self._client is not None:
            if stop_running:
                for att in list(self.attempts.values()):
                    att.signal(signal.SIGKILL)
                deadline = time.monotonic() + 10
                while self.attempts and time.monotonic() < deadline:
                    for att in list(self.attempts.values()):
                        if self._result(att, time.monotonic()) is not None:
                            self.released(self.attempts.pop(att.key))
                    time.sleep(0.05)
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None
        self.attempts.clear()


@hookimpl
def hpo_register_runners(register):
    register(DaskRunner)
