"""The docker runner against a private dockerd: labels, GPUs through docker's NVIDIA hook path,
containers that die, secrets kept off command lines, clean-up."""

from __future__ import annotations

import json
import os

import pytest

from hpo.runkit.machines import RunnerUnavailable
from hpo.plugins.runners.docker import DockerRunner
from hpo.contracts.runner import Reported

from .conftest import drain, exits, make_launch
from .kits import docker_kit


@pytest.fixture
def kit(tmp_path, dockerd):
    return docker_kit(tmp_path, dockerd)


@pytest.fixture
def make(kit):
    made = []

    def build(**kw) -> DockerRunner:
        r = kit.make(**kw)
        made.append(r)
        return r

    yield build
    for r in made:
        r.close(stop_running=True)


def test_containers_carry_labels_and_are_removed_after_their_exit(make, tmp_path, dockerd):
    r = make()
    la = make_launch(tmp_path, "echo '@hpo x=1'; sleep 1", trial_id=7, attempt=2, group="grp")
    handle = r.start(la)
    labels = json.loads(dockerd.docker("inspect", "--format", "{{json .Config.Labels}}", handle["container"]).stdout)
    assert labels == {"hpo.group": "grp", "hpo.trial": "7", "hpo.attempt": "2"}
    drain(r)
    drain(r, until=lambda m: not dockerd.containers("label=hpo.group=grp"), limit=10)


def test_gpus_reach_docker_as_device_requests(make, tmp_path, dockerd):
    """docker --gpus runs the NVIDIA prestart hook (a fake one here) with the held devices."""
    r = make(gpus=["0", "1", "2"])
    cmd = 'echo "$NVIDIA_VISIBLE_DEVICES|$CUDA_VISIBLE_DEVICES|$HPO_GPU_DEVICES" > seen-{}'
    r.start(make_launch(tmp_path, cmd.format(1), trial_id=1, gpus=2))
    r.start(make_launch(tmp_path, cmd.format(2), trial_id=2, gpus=1))
    drain(r, until=lambda m: len(exits(m)) == 2)
    assert (tmp_path / "seen-1").read_text().strip() == "0,1|0,1|0,1"
    assert (tmp_path / "seen-2").read_text().strip() == "2|0|2"
    calls = dockerd.hook_log.read_text().splitlines()
    assert "prestart 0,1" in calls and "prestart 2" in calls


def test_a_container_that_dies_fails_the_trial(make, tmp_path, dockerd):
    r = make()
    handle = r.start(make_launch(tmp_path, "echo '@hpo x=1'; sleep 60"))
    drain(r, until=lambda m: any(isinstance(x, Reported) for x in m))
    dockerd.docker("kill", handle["container"])
    (ex,) = exits(drain(r))
    assert ex.status == "failed" and ex.signal == 9 and "killed by SIGKILL" in ex.reason


def test_secrets_are_passed_by_name_and_redacted(make, tmp_path, monkeypatch):
    secret = "docker-s3cret-value"
    monkeypatch.setenv("HPO_TEST_TOKEN", secret)
    r = make(env_passthrough=["HPO_TEST_TOKEN"])
    seen = []
    real = r._docker

    def spy(*args, **kw):
        seen.append(args)
        return real(*args, **kw)

    r._docker = spy
    r.start(make_launch(tmp_path, 'echo "$HPO_TEST_TOKEN" > got; echo "token $HPO_TEST_TOKEN"; exit 2'))
    (ex,) = exits(drain(r))
    assert (tmp_path / "got").read_text().strip() == secret
    assert all(secret not in " ".join(args) for args in seen)
    assert secret not in ex.output_tail and "token ***" in ex.output_tail


def test_discard_finds_a_crashed_engines_container_by_its_labels(make, tmp_path, dockerd):
    first = make()
    la = make_launch(tmp_path, "sleep 60", group="lost")
    first.start(la)
    first.attempts.clear()  # the engine died before recording the launch
    make().discard(la)
    assert not dockerd.containers("label=hpo.group=lost")


def test_a_missing_image_or_daemon_is_a_clear_error(kit, tmp_path, dockerd):
    r = DockerRunner(DockerRunner.parse_config({**kit.options(), "image": "no-such-image:0"}, "runner"))
    with pytest.raises(RunnerUnavailable, match="no-such-image"):
        r.start(make_launch(tmp_path, "true"))
    r = DockerRunner(DockerRunner.parse_config({**kit.options(), "host": f"unix://{tmp_path}/none.sock"}, "runner"))
    with pytest.raises(RunnerUnavailable, match="docker run"):
        r.start(make_launch(tmp_path, "true", trial_id=2))
    assert os.path.exists(dockerd.socket)


def test_a_container_that_could_not_start_is_removed(make, tmp_path, dockerd):
    """`docker run` creates the container before it fails to start it (an unknown user, a
    missing program): the failed start leaves no container behind, nor does each retry."""
    r = make(user="no-such-user")
    for attempt in (1, 2):
        with pytest.raises(RunnerUnavailable, match="no-such-user"):
            r.start(make_launch(tmp_path, "true", attempt=attempt, group="nostart"))
    assert not dockerd.containers("label=hpo.group=nostart")


@pytest.mark.parametrize("mount_workdir", [True, False])
def test_a_child_container_sees_its_parents_checkpoint_through_the_mount(make, tmp_path, dockerd, mount_workdir):
    r = make(mount_workdir=mount_workdir)
    ckpt = tmp_path / "trials" / "1" / "checkpoints"
    script = ('c="$HPO_CHECKPOINT_DIR"; s=0; [ -f "$c/steps" ] && s=$(cat "$c/steps"); '
              'echo "@hpo trained_from=$s"; echo "$1" > "$c/steps"')
    found = []
    for trial, steps in ((1, 3), (2, 9)):
        launch = make_launch(tmp_path, f"sh -c '{script}' trial {steps}", trial_id=trial,
                             env={"HPO_CHECKPOINT_DIR": str(ckpt)})
        r.start(launch)
        msgs = drain(r)
        assert exits(msgs)[0].status == "succeeded", exits(msgs)[0].reason
        found += [m.metrics["trained_from"] for m in msgs if isinstance(m, Reported)]
    assert found == [0, 3]  # the second container read what the first saved in the engine's folder
    assert (ckpt / "steps").read_text().strip() == "9"
