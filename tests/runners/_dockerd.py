"""A private docker daemon for the docker runner tests, and a tiny local image.

The daemon gets its own data root, exec root and socket in a temporary folder, the ``vfs``
storage driver (no overlay mounts needed), no bridge and no iptables rules: it touches nothing
of the machine's networking and can run beside a system docker. A fake
``nvidia-container-runtime-hook`` on its ``PATH`` makes docker's ``--gpus`` path work without a
GPU: docker registers its NVIDIA device driver when that hook exists, and runc then runs it at
each GPU container's creation; the fake one records the ``NVIDIA_VISIBLE_DEVICES`` it was given.
No registry is reachable, so the image is imported from a root filesystem built here from
busybox (``apt-get install busybox-static``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._sshd import die_with_parent

IMAGE = "hpo-test-busybox:1"

HOOK = """#!{python}
import json, sys
state = json.load(sys.stdin)
with open(state["bundle"] + "/config.json") as fh:
    env = json.load(fh)["process"]["env"]
devices = [e.split("=", 1)[1] for e in env if e.startswith("NVIDIA_VISIBLE_DEVICES=")]
with open({log!r}, "a") as fh:
    fh.write(" ".join(sys.argv[1:]) + " " + (devices[0] if devices else "-") + "\\n")
"""


def dockerd_missing() -> str | None:
    if not shutil.which("dockerd") or not shutil.which("docker"):
        return "docker is not installed (apt-get install docker.io)"
    if not (shutil.which("busybox") or os.path.exists("/bin/busybox")):
        return "busybox is not installed (apt-get install busybox-static), needed for the test image"
    if os.geteuid() != 0:
        return "the private dockerd needs root"
    return None


class Dockerd:
    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="hpo-dockerd-"))  # short: socket path limits
        self.socket = self.folder / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.hook_dir = self.folder / "hook"
        self.hook_log = self.folder / "hook.log"
        self.proc: subprocess.Popen | None = None

    def docker(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", "-H", self.host, *args], capture_output=True, text=True, **kw)

    def start(self, timeout: float = 60) -> "Dockerd":
        self.hook_dir.mkdir()
        hook = self.hook_dir / "nvidia-container-runtime-hook"
        hook.write_text(HOOK.format(python=sys.executable, log=str(self.hook_log)))
        hook.chmod(0o755)
        env = {**os.environ, "PATH": f"{self.hook_dir}:{os.environ.get('PATH', '')}"}
        log = open(self.folder / "dockerd.log", "ab")
        self.proc = subprocess.Popen(
            ["dockerd", "--data-root", str(self.folder / "data"), "--exec-root", str(self.folder / "exec"),
             "-H", self.host, "--pidfile", str(self.folder / "dockerd.pid"), "--storage-driver", "vfs",
             "--iptables=false", "--bridge=none", "--log-level=error"],
            env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=die_with_parent,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockerd exited: {self.log_tail()}")
            if self.docker("info").returncode == 0:
                return self
            time.sleep(0.2)
        raise RuntimeError(f"dockerd did not answer within {timeout:g}s: {self.log_tail()}")

    def log_tail(self) -> str:
        return (self.folder / "dockerd.log").read_text(errors="replace")[-2000:]

    def build_image(self) -> str:
        """A busybox root filesystem imported as ``IMAGE`` (no registry needed)."""
        root = self.folder / "rootfs"
        (root / "bin").mkdir(parents=True)
        for d in ("tmp", "proc", "sys", "dev", "etc", "root"):
            (root / d).mkdir()
        busybox = shutil.which("busybox") or "/bin/busybox"
        shutil.copy(busybox, root / "bin" / "busybox")
        applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
        for applet in applets:
            if applet != "busybox":
                (root / "bin" / applet).symlink_to("busybox")
        (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        done = subprocess.run(["docker", "-H", self.host, "import", "-", IMAGE], stdin=tar.stdout,
                              capture_output=True, text=True)
        tar.wait()
        if done.returncode != 0:
            raise RuntimeError(f"docker import failed: {done.stderr}")
        probe = self.docker("run", "--rm", "--network", "none", IMAGE, "/bin/sh", "-c", "echo ok")
        if probe.stdout.strip() != "ok":
            raise RuntimeError(f"a container cannot run here: {probe.stderr.strip()} {self.log_tail()}")
        return IMAGE

    def containers(self, *filters: str, running_only: bool = False) -> list[str]:
        args = ["ps", "-q"] + ([] if running_only else ["-a"])
        for f in filters:
            args += ["--filter", f]
        return self.docker(*args).stdout.split()

    def stop(self) -> None:
        if self.proc is None:
            return
        ids = self.containers()
        if ids:
            self.docker("rm", "-f", *ids)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        subprocess.run(["umount", "-R", str(self.folder / "exec")], capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)
