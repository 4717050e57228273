"""The docker runner: each trial attempt is a container, driven through the ``docker`` CLI.

``runner: {kind: docker, image, gpus, volumes, env, network}``. ``docker run -d`` starts the
container with the labels ``hpo.group``, ``hpo.trial`` and ``hpo.attempt`` (a resumed engine
finds it by them), the engine's workdir mounted at the same path, and ``--gpus device=...`` for
the GPUs the trial holds. A ``docker logs --follow`` process per container copies its stdout into
the attempt's ``stdout.log``, where protocol lines are parsed like the local runner's, so report
offsets are offsets in the container's stdout. Environment values travel in the CLI's own
environment (``-e NAME``), never on a command line. See docs/runners.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hpo.runkit.gpus import GPUS_ENV, GpuError, GpuPool, detect_gpus
from hpo.contracts.hookspecs import hookimpl
from hpo.runkit.logtail import LogTail, output_tail
from hpo.contracts.runner import Launch, Message, Reported, Runner, RunnerNotice
from hpo.trial import CHECKPOINT_DIR_ENV, TRIAL_DIR_ENV

from ._common import Redactor, RunnerUnavailable, exited


class DockerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image: str = Field(description="the image every trial runs in")
    gpus: list[int | str] | None = Field(None, description="host GPUs (default: HPO_GPUS / nvidia-smi)")
    volumes: list[str] = Field(default_factory=list, description="`-v` mounts, HOST:CONTAINER[:ro]")
    env: dict[str, str] = Field(default_factory=dict)
    env_passthrough: list[str] = Field(default_factory=list, description="names passed from the engine's environment")
    network: str | None = Field(None, description="`--network` (none, host, bridge or a network name)")
    workdir: str | None = Field(None, description="the command's folder in the container (default: the engine's)")
    mount_workdir: bool = Field(True, description="mount the workdir, trial and checkpoint folders at their paths")
    user: str | None = None
    init: bool = Field(True, description="run tini as PID 1 (forwards a stop's SIGTERM to the whole trial)")
    run_options: list[str] = Field(default_factory=list, description="extra `docker run` arguments")
    remove: bool = Field(True, description="remove a container once its exit is recorded")
    slots: int | None = Field(None, ge=1, description="containers at once (default: the group's concurrency)")
    grace_period: float = Field(5.0, ge=0)
    docker: str = Field("docker", description="the docker CLI")
    host: str | None = Field(None, description="DOCKER_HOST (default: the CLI's own)")


@dataclass
class _Attempt:
    launch: Launch
    name: str
    started: float
    tail: LogTail
    follower: subprocess.Popen | None = None
    stop_reason: str | None = None
    timed_out: bool = False
    kill_at: float | None = None
    signal_sent: int | None = None

    @property
    def mirror(self) -> Path:
        return self.launch.trial_dir / "stdout.log"


class DockerRunner(Runner):
    name = "docker"
    Config = DockerConfig

    def __init__(self, config: DockerConfig):
        super().__init__(config)
        self._attempts: dict[tuple[int, int], _Attempt] = {}
        self._gpus: GpuPool | None = None
        self._pending: list[Message] = []
        self.redact = Redactor(os.environ[n] for n in config.env_passthrough if n in os.environ)

    # -- the docker CLI --------------------------------------------------------------------

    def _env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {**os.environ, **(extra or {})}
        if self.config.host:
            env["DOCKER_HOST"] = self.config.host
        return env

    def _docker(self, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> str:
        try:
            done = subprocess.run([self.config.docker, *args], capture_output=True, text=True,
                                  env=env or self._env(), timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RunnerUnavailable(f"docker {args[0]}: {exc}") from None
        if done.returncode != 0:
            raise RunnerUnavailable(self.redact(f"docker {args[0]}: {done.stderr.strip() or done.stdout.strip()}"))
        return done.stdout

    def _background(self, *args: str) -> None:
        subprocess.Popen([self.config.docker, *args], env=self._env(), stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @staticmethod
    def _labels(launch: Launch) -> list[str]:
        return [f"hpo.group={launch.group_id}", f"hpo.trial={launch.trial_id}", f"hpo.attempt={launch.attempt}"]

    def _find(self, launch: Launch) -> list[str]:
        filters = [x for label in self._labels(launch) for x in ("--filter", f"label={label}")]
        return self._docker("ps", "-aq", "--no-trunc", *filters).split()

    # -- GPUs ------------------------------------------------------------------------------

    def _gpu_pool(self, needed: int) -> GpuPool | None:
        if self._gpus is None and (needed or self.config.gpus is not None or GPUS_ENV in os.environ):
            self._gpus = GpuPool(detect_gpus(self.config.gpus))
        return self._gpus

    def capacity(self) -> int | None:
        return self.config.slots

    def can_start(self, launch: Launch) -> bool:
        if not launch.gpus:
            return True
        try:
            pool = self._gpu_pool(launch.gpus)
        except GpuError:
            return True
        return pool.fits(launch.gpus) or not pool.possible(launch.gpus)

    # -- the contract ----------------------------------------------------------------------

    def start(self, launch: Launch) -> dict[str, Any]:
        pool = self._gpu_pool(launch.gpus)
        devices = pool.acquire(launch.key, launch.gpus) if pool is not None else ()
        try:
            return self._run(launch, devices, pool is not None)
        except BaseException:
            if pool is not None:
                pool.release(launch.key)
            raise

    def _run(self, launch: Launch, devices: tuple[str, ...], managed: bool) -> dict[str, Any]:
        c = self.config
        name = f"hpo-{launch.group_id}-{launch.trial_id}-{launch.attempt}-{uuid.uuid4().hex[:6]}"
        env = {**launch.env, **c.env}
        env.update({n: os.environ[n] for n in c.env_passthrough if n in os.environ})
        if managed:  # the container sees only its devices, numbered from 0
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(len(devices)))
            env["HPO_GPU_DEVICES"] = ",".join(devices)
        if c.init:
            env["TINI_KILL_PROCESS_GROUP"] = "1"
        args = ["run", "-d", "--name", name]
        args += [x for label in self._labels(launch) for x in ("--label", label)]
        args += ["--init"] if c.init else []
        args += ["--network", c.network] if c.network else []
        args += ["--user", c.user] if c.user else []
        for folder in self._mounts(launch):
            args += ["-v", f"{folder}:{folder}"]
        for volume in c.volumes:
            args += ["-v", volume]
        workdir = c.workdir or (str(launch.workdir) if c.mount_workdir else None)
        args += ["-w", workdir] if workdir else []
        for key in env:
            args += ["-e", key]  # the value comes from the CLI's environment
        if devices:
            args += ["--gpus", f'"device={",".join(devices)}"']
        args += [*c.run_options, c.image, "/bin/sh", "-c", launch.command]
        container = self._docker(*args, env=self._env(env)).strip()
        att = _Attempt(launch, name, time.time(), LogTail(launch.trial_dir / "stdout.log"))
        self._follow(att)
        self._attempts[launch.key] = att
        return {"container": container, "name": name, "started": att.started, "gpus": list(devices)}

    def _mounts(self, launch: Launch) -> list[str]:
        if not self.config.mount_workdir:
            return []
        folders = [Path(launch.workdir)]
        for key in (TRIAL_DIR_ENV, CHECKPOINT_DIR_ENV):
            if launch.env.get(key):
                Path(launch.env[key]).mkdir(parents=True, exist_ok=True)
                folders.append(Path(launch.env[key]))
        out: list[str] = []
        for f in sorted({p.resolve() for p in folders}, key=lambda p: len(p.parts)):
            if not any(f.is_relative_to(o) for o in map(Path, out)):
                out.append(str(f))
        return out

    def _follow(self, att: _Attempt) -> None:
        """(Re)start copying the container's stdout into the mirror, from its first byte."""
        with open(att.mirror, "wb") as out, open(att.launch.trial_dir / "stderr.log", "wb") as err:
            att.follower = subprocess.Popen([self.config.docker, "logs", "--follow", att.name],
                                            env=self._env(), stdin=subprocess.DEVNULL, stdout=out, stderr=err)

    def reattach(self, launch: Launch, handle: dict[str, Any], offset: int) -> bool:
        try:
            found = self._find(launch)
        except RunnerUnavailable as exc:
            self._pending.append(RunnerNotice(f"cannot reattach trial {launch.trial_id}: {exc}"))
            return False
        if not found:
            return False
        att = _Attempt(launch, found[0], float(handle.get("started", time.time())),
                       LogTail(launch.trial_dir / "stdout.log", offset))
        self._follow(att)  # the mirror is rewritten from the start; reports resume after `offset`
        devices = handle.get("gpus") or []
        if devices:
            try:
                self._gpu_pool(len(devices)).claim(launch.key, devices)
            except GpuError:
                pass
        self._attempts[launch.key] = att
        return True

    def discard(self, launch: Launch) -> None:
        try:
            ids = self._find(launch)
            if ids:
                self._docker("rm", "-f", *ids)
        except RunnerUnavailable:
            pass
        for name in ("stdout.log", "stderr.log"):
            (launch.trial_dir / name).unlink(missing_ok=True)

    def running(self) -> list[tuple[int, int]]:
        return list(self._attempts)

    def stop(self, trial_id: int, attempt: int, reason: str) -> None:
        att = self._attempts.get((trial_id, attempt))
        if att is None or att.stop_reason is not None:
            return
        att.stop_reason, att.signal_sent = reason, 15
        att.kill_at = time.monotonic() + self.config.grace_period
        self._background("kill", "--signal", "TERM", att.name)

    # -- polling ---------------------------------------------------------------------------

    def poll(self) -> list[Message]:
        out, self._pending = self._pending, []
        now, wall = time.monotonic(), time.time()
        for key, att in list(self._attempts.items()):
            launch = att.launch
            out += [Reported(launch.trial_id, launch.attempt, r.step, r.metrics, off)
                    for r, off in att.tail.read_reports()]
            if launch.timeout is not None and att.stop_reason is None and wall - att.started > launch.timeout:
                att.timed_out = True
                self.stop(launch.trial_id, launch.attempt, f"timed out after {launch.timeout:g}s")
            if att.kill_at is not None and now >= att.kill_at:
                att.kill_at, att.signal_sent = None, 9
                self._background("kill", "--signal", "KILL", att.name)
            if att.follower is not None and att.follower.poll() is None:
                continue  # `docker logs --follow` ends when the container does
            out += self._check(att)
        return out

    def _check(self, att: _Attempt) -> list[Message]:
        try:
            raw = self._docker("inspect", "--format", "{{json .State}}", att.name)
        except RunnerUnavailable as exc:
            if "No such" in str(exc):
                return self._finish(att, "the container disappeared (removed by someone else?)")
            att.follower = None
            return [RunnerNotice(f"docker is unreachable while following {att.name}: {exc}")]
        state = json.loads(raw)
        if state.get("Running") or state.get("Status") in ("running", "restarting", "paused", "created"):
            self._follow(att)  # the follower ended early (a daemon restart): follow again
            return []
        code: int | str = int(state.get("ExitCode", -1))
        if isinstance(code, int) and 128 < code < 160 and att.stop_reason is None:
            code = 128 - code  # a container killed by signal N exits with 128+N
        if state.get("OOMKilled"):
            code = "killed: out of memory (the container's memory limit)"
        elif state.get("Error"):
            code = f"docker: {state['Error']}"
        return self._finish(att, code)

    def _finish(self, att: _Attempt, code: int | str) -> list[Message]:
        launch = att.launch
        msgs: list[Message] = [Reported(launch.trial_id, launch.attempt, r.step, r.metrics, off)
                               for r, off in att.tail.flush_reports()]
        tail = output_tail(att.mirror, launch.trial_dir / "stderr.log")
        if att.tail.protocol_errors:
            tail = "protocol errors:\n" + "\n".join(att.tail.protocol_errors[-5:]) + "\n" + tail
        msgs.append(self.redact.exited(exited(launch, code, stop_reason=att.stop_reason,
                                              timed_out=att.timed_out, signal_sent=att.signal_sent,
                                              output_tail=tail)))
        if self.config.remove:
            self._background("rm", "-f", att.name)
        self._attempts.pop(launch.key, None)
        if self._gpus is not None:
            self._gpus.release(launch.key)
        return msgs

    def close(self, stop_running: bool) -> None:
        names = [a.name for a in self._attempts.values()]
        for att in self._attempts.values():
            if att.follower is not None and att.follower.poll() is None:
                att.follower.terminate()
                att.follower.wait()
        if stop_running and names:
            try:
                self._docker("rm", "-f", *names)
            except RunnerUnavailable:
                pass
        self._attempts.clear()
        if self._gpus is not None:
            self._gpus = GpuPool(self._gpus.devices)


@hookimpl
def hpo_register_runners(register):
    register(DockerRunner)
