"""Throwaway OpenSSH servers for the SSH runner tests.

Each server: a fresh ed25519 host key, key-only auth for root with a fresh client key,
``UsePAM no``, listening on one address and a free port. A server can also live in its own
network namespace (a veth pair with addresses from 198.18.0.0/15, the range RFC 2544 reserves
for benchmarking, so it never collides with a real network), which makes it a second host with
its own address that dies for real: :meth:`SshServer.kill_host` kills every process in the
namespace, trials included, like a machine that lost power. A server given ``private``
folders lives in its own mount namespace with an empty tmpfs over each: a host whose filesystem
differs from the engine's (it cannot see what the engine keeps there, nor the engine what it
writes there).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
REQUIRE_ENV = "HPO_TEST_REQUIRE"  # e.g. "sshd,netns,docker": fail instead of skipping


def required(what: str) -> bool:
    return what in {x.strip() for x in os.environ.get(REQUIRE_ENV, "").split(",")}


def sshd_missing() -> str | None:
    if not os.path.exists(SSHD) or not shutil.which("ssh") or not shutil.which("ssh-keygen"):
        return "OpenSSH server/client not installed (apt-get install openssh-server)"
    if os.geteuid() != 0:
        return "the throwaway sshd runs as root (privilege separation)"
    return None


@dataclass
class Keys:
    folder: Path
    host_key: Path = field(init=False)
    client_key: Path = field(init=False)

    def __post_init__(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        self.host_key = self.folder / "host_ed25519"
        self.client_key = self.folder / "client_ed25519"
        for path in (self.host_key, self.client_key):
            if not path.exists():
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
        (self.folder / "authorized_keys").write_text(Path(f"{self.client_key}.pub").read_text())
        os.chmod(self.folder / "authorized_keys", 0o600)

    def known_hosts_line(self, address: str, port: int) -> str:
        kind, key = Path(f"{self.host_key}.pub").read_text().split()[:2]
        name = address if port == 22 else f"[{address}]:{port}"
        return f"{name} {kind} {key}\n"


def die_with_parent() -> None:
    """preexec_fn: the server gets SIGTERM when the test process dies (a killed pytest leaves none)."""
    import ctypes
    import signal as _signal

    ctypes.CDLL(None, use_errno=True).prctl(1, int(_signal.SIGTERM))  # PR_SET_PDEATHSIG


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


class SshServer:
    def __init__(self, keys: Keys, folder: Path, address: str = "127.0.0.1", port: int | None = None,
                 netns: str | None = None, env: dict[str, str] | None = None,
                 private: list[Path] | None = None):
        self.keys, self.folder, self.address, self.netns = keys, folder, address, netns
        self.private = private or []
        self.env = env or {}  # set for every session (SetEnv), e.g. BASH_ENV: an rc file bash reads
        self.port = port or (22 if netns else free_port(address))
        self.proc: subprocess.Popen | None = None
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "sshd_config"
        self.log = folder / "sshd.log"

    def _prefix(self) -> list[str]:
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        if self.private:
            mounts = "".join(f"mount -t tmpfs hpo-private {shlex.quote(str(p))} && " for p in self.private)
            prefix += ["unshare", "--mount", "--propagation", "private", "--",
                       "sh", "-c", mounts + 'exec "$@"', "sh"]
        return prefix

    def start(self) -> "SshServer":
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation directory
        self.config.write_text(
            f"Port {self.port}\nListenAddress {self.address}\nHostKey {self.keys.host_key}\n"
            f"PidFile {self.folder / 'sshd.pid'}\nAuthorizedKeysFile {self.keys.folder / 'authorized_keys'}\n"
            "PermitRootLogin prohibit-password\nPubkeyAuthentication yes\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nMaxSessions 64\n"
            "MaxStartups 64:30:128\nLogLevel ERROR\n"
            # bash sources ~/.bashrc for ssh commands at SHLVL 0; skip it, it can take 0.3s here
            "SetEnv SHLVL=1" + "".join(f" {k}={v}" for k, v in self.env.items()) + "\n"
        )
        log = open(self.log, "ab")
        self.proc = subprocess.Popen([*self._prefix(), SSHD, "-D", "-e", "-f", str(self.config)],
                                     stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                     preexec_fn=die_with_parent)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log.read_text()[-2000:]}")
            if self._listening():
                return self
            time.sleep(0.05)
        raise RuntimeError(f"sshd did not start listening: {self.log.read_text()[-2000:]}")

    def _listening(self) -> bool:
        probe = [*self._prefix(), "python3", "-c",
                 f"import socket; socket.create_connection(({self.address!r}, {self.port}), 1).close()"]
        if not self.netns:
            try:
                socket.create_connection((self.address, self.port), 1).close()
                return True
            except OSError:
                return False
        return subprocess.run(probe, capture_output=True).returncode == 0

    def known_hosts(self, path: Path) -> Path:
        with open(path, "a") as fh:
            fh.write(self.keys.known_hosts_line(self.address, self.port))
        return path

    def host_options(self, **extra) -> dict:
        return {"host": self.address, "port": self.port, "user": "root",
                "identity_file": str(self.keys.client_key), **extra}

    def stop(self) -> None:
        """Stop the server and every session it forked (trials run detached and survive)."""
        if self.proc is None:
            return
        for pid in [*_descendants(self.proc.pid), self.proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        self.proc = None

    def drop(self) -> None:
        """Kill sshd and its connections but nothing the sessions started: what a host whose
        sshd dies mid-command looks like from here (the commands live on, detached)."""
        if self.proc is None:
            return
        for pid in [*_descendants(self.proc.pid), self.proc.pid]:
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip().startswith("sshd"):  # sshd-session too
                    os.kill(pid, signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass
        self.proc.wait()
        self.proc = None

    def link(self, up: bool) -> None:
        """Take the (namespaced) host's network link down or up again: a partition, with every
        process on the host left running."""
        if not self.netns:
            raise RuntimeError("only a host in its own network namespace has a link to take down")
        shown = subprocess.run(["ip", "netns", "exec", self.netns, "ip", "-o", "link", "show"],
                               capture_output=True, text=True, check=True).stdout
        names = [line.split(":")[1].strip().split("@")[0] for line in shown.splitlines()]
        for name in names:
            if name != "lo":
                subprocess.run(["ip", "netns", "exec", self.netns, "ip", "link", "set", name,
                                "up" if up else "down"], capture_output=True, check=True)

    def kill_host(self) -> None:
        """Power off the (namespaced) host: every process in its namespace dies, sshd first."""
        self.stop()
        if self.netns:
            pids = subprocess.run(["ip", "netns", "pids", self.netns], capture_output=True, text=True).stdout
            for pid in pids.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class NetNamespace:
    """A network namespace joined to this one by a veth pair; ``address`` is its side."""

    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.name = f"hpo-t-{tag}"
        self.veth = f"hpo{tag}a"  # interface names stay under 15 characters
        self.peer = f"hpo{tag}b"
        third = 100 + int(tag, 16) % 150  # random, so concurrent test runs rarely collide
        self.host_address = f"198.18.{third}.1"
        self.address = f"198.18.{third}.2"

    def create(self) -> "NetNamespace":
        steps = [
            ["ip", "netns", "add", self.name],
            ["ip", "link", "add", self.veth, "type", "veth", "peer", "name", self.peer],
            ["ip", "link", "set", self.peer, "netns", self.name],
            ["ip", "addr", "add", f"{self.host_address}/30", "dev", self.veth],
            ["ip", "link", "set", self.veth, "up"],
            ["ip", "netns", "exec", self.name, "ip", "addr", "add", f"{self.address}/30", "dev", self.peer],
            ["ip", "netns", "exec", self.name, "ip", "link", "set", self.peer, "up"],
            ["ip", "netns", "exec", self.name, "ip", "link", "set", "lo", "up"],
        ]
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True)
            if done.returncode != 0:
                self.delete()
                raise RuntimeError(f"{' '.join(step)}: {done.stderr.strip()}")
        return self

    def delete(self) -> None:
        subprocess.run(["ip", "link", "del", self.veth], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
