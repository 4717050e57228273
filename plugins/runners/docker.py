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
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hpo.contracts.hookspecs import hookimpl
from hpo.contracts.runner import Launch, RunnerNotice
from hpo.runkit.attempt import Attempt, AttemptRunner
from hpo.runkit.gpus import MachineGpus
from hpo.runkit.machines import BackendUnreachable, RunnerUnavailable
from hpo.runkit.process import SUBSHELL
from hpo.runkit.redact import Redactor
from hpo.trial import CHECKPOINT_DIR_ENV, TRIAL_DIR_ENV

NO_DAEMON = "Cannot connect to the Docker daemon"  # what the docker CLI says when none answers


class DockerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image: str = Field(description="the image every trial runs in")
    gpus: list[int | str] | None = Field(None, description="host GPUs (default: HPO_GPUS / nvidia-smi)")
    volumes: list[str] = Field(default_factory=list, description="`-v` mounts, HOST:CONTAINER[:ro]")
    env: dict[str, str] = Field(default_factory=dict)
    env_passthrough: list[str] = Field(default_factory=list, description="names passed from the engine's environment")
    network: str | None = Field(None, description="`--network` (none, host, bridge or a network name)")
    workdir: str | None = Field(None, description="the command's folder in the container (default: the engine's)")
    mount_workdir: bool = Field(True, description="mount the workdir at its path (the attempt's and "
                                "checkpoint folders are always mounted at theirs)")
    user: str | None = None
    init: bool = Field(True, description="run tini as PID 1 (forwards a stop's SIGTERM to the whole trial)")
    run_options: list[str] = Field(default_factory=list, description="extra `docker run` arguments")
    remove: bool = Field(True, description="remove a container once its exit is recorded")
    slots: int | None = Field(None, ge=1, description="containers at once (default: the group's concurrency)")
    grace_period: float = Field(5.0, ge=0)
    docker: str = Field("docker", description="the docker CLI")
    host: str | None = Field(None, description="DOCKER_HOST (default: the CLI's own)")


class DockerAttempt(Attempt):
    """A container; signals go through ``docker kill``, in the background."""

    def __init__(self, launch: Launch, name: str, runner: DockerRunner, **kw: Any):
        super().__init__(launch, **kw)
        self.name, self.runner = name, runner
        self.follower: subprocess.Popen | None = None
        self.redact = runner.redact  # secrets passed through stay out of the record

    def send(self, sig: int) -> None:
        self.runner._background("kill", "--signal", signal.Signals(sig).name[3:], self.name)


class DockerRunner(AttemptRunner[DockerAttempt]):
    name = "docker"
    Config = DockerConfig

    def __init__(self, config: DockerConfig):
        super().__init__(config)
        self.gpus = MachineGpus(config.gpus)
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
            raise BackendUnreachable(f"docker {args[0]}: {exc}") from None
        if done.returncode != 0:
            said = self.redact(f"docker {args[0]}: {done.stderr.strip() or done.stdout.strip()}")
            if NO_DAEMON in said:
                raise BackendUnreachable(said)
            raise RunnerUnavailable(said)
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

    def capacity(self) -> int | None:
        return self.config.slots

    def can_start(self, launch: Launch) -> bool:
        return self.gpus.can_start(launch.gpus)

    # -- the contract ----------------------------------------------------------------------

    def start(self, launch: Launch) -> dict[str, Any]:
        pool = self.gpus.get(launch.gpus)
        devices = pool.acquire(launch.key, launch.gpus) if pool is not None else ()
        try:
            return self._run(launch, devices, pool is not None)
        except BaseException:
            self.gpus.release(launch.key)
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
        # the command runs in the local wrapper's subshell, so a program saving its work on the
        # stop's SIGTERM is not cut short by its shell; the shell around it outlives SIGTERM
        args += [*c.run_options, c.image, "/bin/sh", "-c", f"trap : TERM; {SUBSHELL}", "hpo-trial",
                 launch.command]
        try:
            container = self._docker(*args, env=self._env(env)).strip()
        except BackendUnreachable:
            raise  # the attempt is started again later; discard() removes what this one left
        except RunnerUnavailable:
            self._remove_quietly(name)  # created, then failed to start: it would stay "Created"
            raise
        att = DockerAttempt(launch, name, self, grace_period=c.grace_period)
        self._follow(att)
        self.attempts[launch.key] = att
        return {"container": container, "name": name, "started": att.started, "gpus": list(devices)}

    def _remove_quietly(self, *names: str) -> None:
        try:
            self._docker("rm", "-f", *names)
        except RunnerUnavailable:
            pass

    def _mounts(self, launch: Launch) -> list[str]:
        """The folders bind-mounted at their own paths: the attempt's and the checkpoint folder
        (so the trial continues the checkpoint the engine keeps, its parent's with hyperband's
        ``resume``, and what it saves stays with the engine), and the workdir unless
        ``mount_workdir: false``."""
        folders = [Path(launch.workdir)] if self.config.mount_workdir else []
        for key in (TRIAL_DIR_ENV, CHECKPOINT_DIR_ENV):
            if launch.env.get(key):
                Path(launch.env[key]).mkdir(parents=True, exist_ok=True)
                folders.append(Path(launch.env[key]))
        out: list[str] = []
        for f in sorted({p.resolve() for p in folders}, key=lambda p: len(p.parts)):
            if not any(f.is_relative_to(o) for o in map(Path, out)):
                out.append(str(f))
        return out

    def _follow(self, att: DockerAttempt) -> None:
        """(Re)start copying the container's stdout into the mirror, from its first byte."""
        with open(att.stdout, "wb") as out, open(att.stderr, "wb") as err:
            att.follower = subprocess.Popen([self.config.docker, "logs", "--follow", att.name],
                                            env=self._env(), stdin=subprocess.DEVNULL, stdout=out, stderr=err)

    def reattach(self, launch: Launch, handle: dict[str, Any], offset: int) -> bool:
        try:
            found = self._find(launch)
        except RunnerUnavailable as exc:
            self.notices.append(RunnerNotice(f"cannot reattach trial {launch.trial_id}: {exc}"))
            return False
        if not found:
            return False
        att = DockerAttempt(launch, found[0], self, grace_period=self.config.grace_period,
                            started=float(handle.get("started", time.time())), offset=offset)
        self._follow(att)  # the mirror is rewritten from the start; reports resume after `offset`
        self.gpus.claim(launch.key, handle.get("gpus") or [])
        self.attempts[launch.key] = att
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

    # -- polling ---------------------------------------------------------------------------

    def exit_status(self, att: DockerAttempt) -> int | str | None:
        if att.follower is not None and att.follower.poll() is None:
            return None  # `docker logs --follow` ends when the container does
        try:
            raw = self._docker("inspect", "--format", "{{json .State}}", att.name)
        except RunnerUnavailable as exc:
            if "No such" in str(exc):
                return "the container disappeared (removed by someone else?)"
            att.follower = None
            self.notices.append(RunnerNotice(f"docker is unreachable while following {att.name}: {exc}"))
            return None
        state = json.loads(raw)
        if state.get("Running") or state.get("Status") in ("running", "restarting", "paused", "created"):
            self._follow(att)  # the follower ended early (a daemon restart): follow again
            return None
        code: int | str = int(state.get("ExitCode", -1))
        if isinstance(code, int) and 128 < code < 160 and att.stop_reason is None:
            code = 128 - code  # a container killed by signal N exits with 128+N
        if state.get("OOMKilled"):
            code = "killed: out of memory (the container's memory limit)"
        elif state.get("Error"):
            code = f"docker: {state['Error']}"
        return code

    def released(self, att: DockerAttempt) -> None:
        if self.config.remove:
            self._background("rm", "-f", att.name)
        self.gpus.release(att.key)

    def close(self, stop_running: bool) -> None:
        names = [a.name for a in self.attempts.values()]
        for att in self.attempts.values():
            if att.follower is not None and att.follower.poll() is None:
                att.follower.terminate()
                att.follower.wait()
        if stop_running and names:
            self._remove_quietly(*names)
        self.attempts.clear()
        self.gpus.reset()


@hookimpl
def hpo_register_runners(register):
    register(DockerRunner)
