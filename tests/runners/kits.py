"""One "kit" per runner: how to build it for a test, so the behaviour tests are shared.

A kit knows how to make its runner with common options (grace period, GPU list), how to express
the same thing as a spec's ``runner:`` section (for the end-to-end groups), and how to check that
nothing of a stopped trial is left running on its side.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from hpo.runkit import procs
from hpo.contracts.runner import Runner


@dataclass
class Kit:
    name: str
    tmp: Path
    options: Callable[..., dict[str, Any]]  # (grace_period=, gpus=) -> runner options
    cls: type[Runner]
    reattaches: bool = True
    python: bool = True  # the trial can run this machine's Python (and import hpo)
    fakes_gpus_env: dict[str, str] = field(default_factory=dict)
    gone: Callable[[Path], bool] | None = None  # pid file written by the trial -> process is gone
    cleanup: list[Callable[[], None]] = field(default_factory=list)

    def make(self, **kw) -> Runner:
        opts = self.options(**kw)
        return self.cls(self.cls.parse_config(opts, "runner"))

    def spec_section(self, **kw) -> dict[str, Any]:
        return {"kind": self.name, **self.options(**kw)}

    def process_gone(self, pid_file: Path) -> bool:
        if self.gone is not None:
            return self.gone(pid_file)
        pid = int(pid_file.read_text().split()[0])
        return not procs.alive(pid)


def local_kit(tmp: Path) -> Kit:
    from hpo.plugins.runners.local import LocalRunner

    def options(grace_period: float = 5.0, gpus: list[str] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"grace_period": grace_period}
        if gpus is not None:
            out["gpus"] = gpus
        return out

    return Kit("local", tmp, options, LocalRunner)


def ssh_kit(tmp: Path, servers: list, known_hosts: Path, slots: int = 4) -> Kit:
    from hpo.plugins.runners.ssh import SshRunner

    def options(grace_period: float = 5.0, gpus: list[str] | None = None, **extra) -> dict[str, Any]:
        hosts = []
        for i, s in enumerate(servers):
            h = s.host_options(slots=slots)
            if gpus is not None:
                h["gpus"] = gpus if i == 0 else []
            hosts.append(h)
        return {"hosts": hosts, "known_hosts": str(known_hosts), "grace_period": grace_period,
                "rundir": str(tmp / "remote-runs"), "poll_interval": 0.05, **extra}

    return Kit("ssh", tmp, options, SshRunner)


def env_without(*names: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in names}


def dask_kit(tmp: Path, scheduler: str) -> Kit:
    """Trials on a shared 2-worker LocalCluster; with GPUs, the runner's own local cluster whose
    first worker holds the (fake) GPUs."""
    from hpo.plugins.runners.dask_runner import DaskRunner

    def options(grace_period: float = 5.0, gpus: list[str] | None = None, **extra) -> dict[str, Any]:
        if gpus is not None:
            return {"scheduler": "local", "n_workers": 2, "gpus": gpus, "grace_period": grace_period, **extra}
        return {"scheduler": scheduler, "grace_period": grace_period, **extra}

    return Kit("dask", tmp, options, DaskRunner)


def docker_kit(tmp: Path, daemon) -> Kit:
    """Containers of the busybox test image on the private daemon; no network."""
    from hpo.plugins.runners.docker import DockerRunner

    from ._dockerd import IMAGE

    def options(grace_period: float = 5.0, gpus: list[str] | None = None, **extra) -> dict[str, Any]:
        out: dict[str, Any] = {"image": IMAGE, "host": daemon.host, "network": "none",
                               "grace_period": grace_period, **extra}
        if gpus is not None:
            out["gpus"] = gpus
        return out

    def gone(pid_file: Path) -> bool:  # a pid inside a container means nothing here
        return not daemon.containers("label=hpo.group=g", running_only=True)

    return Kit("docker", tmp, options, DockerRunner, python=False, gone=gone)
