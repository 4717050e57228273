"""The ssh, dask and docker runners also pass the public conformance kit (``hpo.testing``)."""

from __future__ import annotations

import pytest

from hpo.plugins.runners.dask_runner import DaskRunner
from hpo.plugins.runners.docker import DockerRunner
from hpo.plugins.runners.ssh import SshRunner
from hpo.testing import RunnerConformance

from .kits import dask_kit, docker_kit, ssh_kit


class TestSshRunner(RunnerConformance):
    runner = SshRunner

    @pytest.fixture(autouse=True)
    def _backend(self, sshd, known_hosts, tmp_path):
        self.options = ssh_kit(tmp_path, [sshd], known_hosts).options(grace_period=0.5)


class TestDaskRunner(RunnerConformance):
    runner = DaskRunner

    @pytest.fixture(autouse=True)
    def _backend(self, dask_cluster, tmp_path):
        self.options = dask_kit(tmp_path, dask_cluster.scheduler_address).options(grace_period=0.5)


class TestDockerRunner(RunnerConformance):
    runner = DockerRunner

    @pytest.fixture(autouse=True)
    def _backend(self, dockerd, tmp_path):
        self.options = docker_kit(tmp_path, dockerd).options(grace_period=0.5)
