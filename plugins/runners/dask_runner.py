"""The Dask runner: each trial attempt is a task on a Dask cluster that runs the shell command.

``runner: {kind: dask, scheduler: tcp://host:8786 | local, n_workers: 2}``; needs the optional
extra ``hpo-groups[dask]`` (``dask[distributed]``). The task (:mod:`._dask_task`, shipped to the
workers by value) runs the command in a new session and streams its stdout back through a
``distributed.Queue``; the runner mirrors it to the attempt's local ``stdout.log`` and parses
protocol lines from there, so offsets are stdout byte offsets like every other runner's. Stops
and reattachment go through the attempt's control ``Variable``. See docs/runners.md.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hpo.runkit import env as runkit_env
from hpo.runkit.gpus import detect_gpus
from hpo.contracts.hookspecs import hookimpl
from hpo.runkit.logtail import LogTail, output_tail
from hpo.contracts.runner import Launch, Message, Reported, Runner, RunnerNotice

from ._common import RunnerUnavailable, exited

INSTALL_HINT = "the dask runner needs Dask: pip install 'hpo-groups[dask]'"


class DaskConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheduler: str = Field("local", description="a scheduler address (tcp://host:8786) or `local`")
    n_workers: int = Field(2, ge=1, description="workers of the `local` cluster (one process each)")
    gpus: list[int | str] | None = Field(
        None, description="`local` only: GPUs of the first worker (default: HPO_GPUS / nvidia-smi)")
    slots: int | None = Field(None, ge=1, description="trials at once (default: the group's concurrency)")
    grace_period: float = Field(5.0, ge=0, description="seconds between SIGTERM and SIGKILL")
    orphan_timeout: float = Field(60.0, gt=0, description="kill a trial no engine followed this long")
    connect_timeout: float = Field(30.0, gt=0)
    env: dict[str, str] = Field(default_factory=dict, description="variables for every trial")


@dataclass
class _Attempt:
    launch: Launch
    key: str
    tail: LogTail
    future: Any = None  # None after a reattach: the result variable tells the end
    queue: Any = None
    epoch: int = 0
    started: float | None = None  # when the task began running (the timeout counts from it)
    fetched: int = 0
    stop_reason: str | None = None
    timed_out: bool = False
    kill_at: float | None = None
    signal_seq: int = 0
    signal_sent: int | None = None
    next_check: float = 0.0

    @property
    def mirror(self) -> Path:
        return self.launch.trial_dir / "stdout.log"


def _names(key: str) -> dict[str, str]:
    return {"control": f"hpo-ctl-{key}", "result": f"hpo-result-{key}", "started": f"hpo-started-{key}"}


class DaskRunner(Runner):
    name = "dask"
    Config = DaskConfig

    def __init__(self, config: DaskConfig):
        super().__init__(config)
        self._client = None
        self._cluster = None
        self._attempts: dict[tuple[int, int], _Attempt] = {}
        self._pending: list[Message] = []
        self._id = uuid.uuid4().hex[:12]
        self._beat, self._beat_at = 0, 0.0

    # -- the cluster -----------------------------------------------------------------------

    def _dask(self):
        try:
            import distributed
        except ImportError:
            raise RunnerUnavailable(INSTALL_HINT) from None
        return distributed

    def client(self, gpus_needed: int = 0):
        if self._client is not None:
            return self._client
        distributed = self._dask()
        import cloudpickle

        from . import _dask_task

        cloudpickle.register_pickle_by_value(_dask_task)  # workers need no hpo installed
        cloudpickle.register_pickle_by_value(runkit_env)  # the task calls trial_environment
        if self.config.scheduler == "local":
            self._cluster = self._local_cluster(distributed, gpus_needed)
            address = self._cluster.scheduler_address
        else:
            address = self.config.scheduler
        try:
            self._client = distributed.Client(address, timeout=self.config.connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise RunnerUnavailable(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        self._heartbeat(force=True)
        return self._client

    def _local_cluster(self, distributed, gpus_needed: int):
        """``n_workers`` worker processes; the first one holds this machine's GPUs, if any."""
        import os

        devices: list[str] = []
        if gpus_needed or self.config.gpus is not None or "HPO_GPUS" in os.environ:
            devices = detect_gpus(self.config.gpus)
        if not devices:
            return distributed.LocalCluster(n_workers=self.config.n_workers, threads_per_worker=1,
                                            processes=True, dashboard_address=":0", silence_logs=40)
        workers = {}
        for i in range(self.config.n_workers):
            options: dict[str, Any] = {"nthreads": 1, "silence_logs": 40, "env": {"HPO_GPUS": ""}}
            if i == 0 and devices:
                options.update(resources={"GPU": len(devices)}, env={"HPO_GPUS": ",".join(devices)})
            workers[f"hpo-{i}"] = {"cls": distributed.Nanny, "options": options}
        scheduler = {"cls": distributed.Scheduler, "options": {"dashboard_address": ":0"}}
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
        self.client(launch.gpus)
        sizes = self._gpu_workers()
        if not any(s >= launch.gpus for s in sizes):
            return True  # no worker could ever take it: start() fails it with the reason
        held = sum(a.launch.gpus for a in self._attempts.values())
        return sum(sizes) - held >= launch.gpus

    def start(self, launch: Launch) -> dict[str, Any]:
        distributed = self._dask()
        client = self.client(launch.gpus)
        if launch.gpus and not any(s >= launch.gpus for s in self._gpu_workers()):
            raise RunnerUnavailable(
                f"the trial needs {launch.gpus} GPU(s) but no Dask worker declares that many "
                "(start workers with --resources GPU=N, and HPO_GPUS or nvidia-smi on them)")
        key = f"{launch.group_id}-{launch.trial_id}-{launch.attempt}"
        names = _names(key)
        att = _Attempt(launch, key, LogTail(launch.trial_dir / "stdout.log"))
        att.mirror.write_bytes(b"")
        self._control(att, queue=self._queue_name(att))
        distributed.Variable(names["started"], client=client).set(None)
        distributed.Variable(names["result"], client=client).set(None)
        spec = {"names": names, "command": launch.command, "workdir": str(launch.workdir),
                "env": {**launch.env, **self.config.env}, "inherit": runkit_env.trial_environment,
                "gpus": launch.gpus,
                "orphan_timeout": self.config.orphan_timeout}
        from ._dask_task import run_trial

        resources = {"GPU": launch.gpus} if launch.gpus else None
        att.future = client.submit(run_trial, spec, key=f"hpo-{key}", pure=False, resources=resources)
        distributed.fire_and_forget(att.future)  # the trial may outlive this engine (reattach)
        self._attempts[launch.key] = att
        return {"key": key, "scheduler": client.scheduler.address}

    def _queue_name(self, att: _Attempt) -> str:
        return f"hpo-out-{att.key}-{self._id}-{att.epoch}"

    def _control(self, att: _Attempt, queue: str, replay: int | None = None, signal: str | None = None):
        distributed = self._dask()
        att.queue = distributed.Queue(queue, client=self._client)
        value = {"epoch": att.epoch, "queue": queue, "heartbeat": f"hpo-beat-{self._id}",
                 "replay": replay, "signal": signal, "signal_seq": att.signal_seq}
        distributed.Variable(_names(att.key)["control"], client=self._client).set(value)

    def reattach(self, launch: Launch, handle: dict[str, Any], offset: int) -> bool:
        key = handle.get("key")
        if not key:
            return False
        distributed = self._dask()
        try:
            client = self.client(launch.gpus)
        except RunnerUnavailable as exc:
            self._pending.append(RunnerNotice(str(exc)))
            return False
        names = _names(key)
        att = _Attempt(launch, key, LogTail(launch.trial_dir / "stdout.log", offset), started=time.time())
        mirror_size = att.mirror.stat().st_size if att.mirror.exists() else 0
        with open(att.mirror, "ab") as fh:
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
        self._attempts[launch.key] = att
        return True

    def discard(self, launch: Launch) -> None:
        for name in ("stdout.log", "stderr.log"):
            (launch.trial_dir / name).unlink(missing_ok=True)

    def running(self) -> list[tuple[int, int]]:
        return list(self._attempts)

    def stop(self, trial_id: int, attempt: int, reason: str) -> None:
        att = self._attempts.get((trial_id, attempt))
        if att is None or att.stop_reason is not None:
            return
        att.stop_reason = reason
        att.kill_at = time.monotonic() + self.config.grace_period
        self._signal(att, "TERM")

    def _signal(self, att: _Attempt, sig: str) -> None:
        att.signal_seq += 1
        att.signal_sent = 9 if sig == "KILL" else 15
        self._control(att, queue=self._queue_name(att), signal=sig)

    # -- polling ---------------------------------------------------------------------------

    def poll(self) -> list[Message]:
        out, self._pending = self._pending, []
        if self._client is None:
            return out
        self._heartbeat()
        now, wall = time.monotonic(), time.time()
        for att in list(self._attempts.values()):
            out += self._read(att)
            lim = att.launch.timeout
            if lim is not None and att.started and att.stop_reason is None and wall - att.started > lim:
                att.timed_out = True
                self.stop(att.launch.trial_id, att.launch.attempt, f"timed out after {lim:g}s")
            if att.kill_at is not None and now >= att.kill_at:
                att.kill_at = None
                self._signal(att, "KILL")
            result = self._result(att, now)
            if result is not None:
                out += self._read(att)
                out += self._finish(att, result)
        return out

    def _read(self, att: _Attempt) -> list[Message]:
        items = att.queue.get(batch=True) if att.queue is not None else []
        for item in items:
            if item[0] == "start":
                att.started = att.started or time.time()
            elif item[0] == "out":
                self._mirror(att, item[1], item[2])
        launch = att.launch
        return [Reported(launch.trial_id, launch.attempt, r.step, r.metrics, off)
                for r, off in att.tail.read_reports()]

    def _mirror(self, att: _Attempt, start: int, data: bytes) -> None:
        if start + len(data) <= att.fetched or start > att.fetched:
            return  # already have it (a replay), or a gap that a replay will fill
        with open(att.mirror, "ab") as fh:
            fh.write(data[att.fetched - start:])
        att.fetched = start + len(data)

    def _result(self, att: _Attempt, now: float) -> dict | None:
        fut = att.future
        if fut is not None:
            if fut.status == "finished":
                return fut.result()
            if fut.status in ("error", "cancelled", "lost"):
                exc = fut.exception() if fut.status == "error" else fut.status
                return {"status": "error", "reason": f"the Dask task failed: {exc!r}"}
            return None
        if now < att.next_check:
            return None
        att.next_check = now + 0.25
        return self._dask().Variable(_names(att.key)["result"], client=self._client).get(timeout=5)

    def _finish(self, att: _Attempt, result: dict) -> list[Message]:
        launch = att.launch
        if result.get("status") == "exited":
            start, tail = result.get("stdout_tail_start", 0), result.get("stdout_tail", b"")
            self._mirror(att, start, tail)
        msgs: list[Message] = [Reported(launch.trial_id, launch.attempt, r.step, r.metrics, off)
                               for r, off in att.tail.flush_reports()]
        err = launch.trial_dir / "stderr.log"
        err.write_bytes(result.get("stderr_tail", b""))
        text = output_tail(att.mirror, err)
        if att.tail.protocol_errors:
            text = "protocol errors:\n" + "\n".join(att.tail.protocol_errors[-5:]) + "\n" + text
        if result.get("status") != "exited":
            code: int | str | None = result.get("reason", "the Dask task failed")
        elif result.get("orphaned"):
            code = f"killed: no engine followed it for {self.config.orphan_timeout:g}s"
        else:
            code = result["exit_code"]
        msgs.append(exited(launch, code, stop_reason=att.stop_reason, timed_out=att.timed_out,
                           signal_sent=att.signal_sent, output_tail=text))
        self._cleanup(att)
        return msgs

    def _cleanup(self, att: _Attempt) -> None:
        distributed = self._dask()
        self._attempts.pop(att.launch.key, None)
        for name in _names(att.key).values():
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
                for att in list(self._attempts.values()):
                    self._signal(att, "KILL")
                deadline = time.monotonic() + 10
                while self._attempts and time.monotonic() < deadline:
                    for att in list(self._attempts.values()):
                        if self._result(att, time.monotonic()) is not None:
                            self._cleanup(att)
                    time.sleep(0.05)
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None
        self._attempts.clear()


@hookimpl
def hpo_register_runners(register):
    register(DaskRunner)
