"""The SSH runner: trials run on remote hosts, reached with the system OpenSSH client.

``runner: {kind: ssh, hosts: [{host, port, user, identity_file, slots, gpus, python, workdir,
env}], known_hosts, strict_host_key_checking, env_passthrough}``. Each host offers ``slots``
trials at once (and its GPUs, see :mod:`hpo.runkit.gpus`); a trial goes to the host with the most free
slots. On the host the command runs detached under ``setsid`` with its stdout in a file; the
runner fetches new bytes of that file over the master connection, one round trip per host and
poll for all of that host's trials, mirrors them into the attempt's local ``stdout.log`` and
parses protocol lines from the mirror, so report offsets are offsets in the remote file and a
resumed engine reattaches where the log says it stopped. A host that stops answering is marked
unavailable (a :class:`RunnerNotice`), its running trials are lost (run again elsewhere, see
``run.max_retries``; they keep their slots until killed or ``lost_after``), new trials go to
the other hosts, and it is tried again after ``retry_down_after`` seconds; what was left
running there is killed when it answers, by the record each launch took. A launch whose
connection dropped is checked on the host before it counts as not started. See docs/runners.md.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from hpo.contracts.hookspecs import hookimpl
from hpo.contracts.runner import Exited, Launch, Message, RunnerNotice
from hpo.runkit.attempt import AttemptRunner
from hpo.runkit.gpus import GpuError, GpuPool, TooManyGpus
from hpo.runkit.logtail import output_tail
from hpo.runkit.machines import BackendUnreachable, Machine, RunnerUnavailable
from hpo.runkit.redact import Redactor

from . import _remote_sh as sh
from . import _ssh_checkpoints as ckpt
from ._ssh import SshClient, SshCommandFailed, SshOptions, SshTarget, SshUnavailable
from ._ssh_config import SshConfig
from ._ssh_hosts import Host, SshAttempt, detect_gpus, kill_report, login_notice, run_twice, started_anyway

log = logging.getLogger(__name__)


class SshRunner(AttemptRunner[SshAttempt]):
    name = "ssh"
    Config = SshConfig

    def __init__(self, config: SshConfig):
        super().__init__(config)
        self._control_dir: Path | None = None
        self._hosts: list[Host] | None = None  # built on first use: validating a spec connects nowhere
        self._pool: ThreadPoolExecutor | None = None
        self.redact = Redactor(os.environ[n] for n in config.env_passthrough if n in os.environ)

    # -- hosts -----------------------------------------------------------------------------

    @property
    def hosts(self) -> list[Host]:
        if self._hosts is None:
            c = self.config
            self._control_dir = Path(tempfile.mkdtemp(prefix="hpo-ssh-", dir="/tmp"))
            options = SshOptions(
                executable=c.ssh, known_hosts=c.known_hosts,
                strict_host_key_checking=c.strict_host_key_checking, connect_timeout=c.connect_timeout,
                server_alive_interval=c.server_alive_interval, command_timeout=c.command_timeout,
                extra=tuple(c.ssh_options.items()),
            )
            self._hosts = []
            for h in c.hosts:
                target = SshTarget(h.host, h.port, h.user, h.identity_file)
                gpus = GpuPool([str(g) for g in h.gpus]) if h.gpus is not None else None
                self._hosts.append(Host(h, SshClient(target, options, self._control_dir, h.label),
                                         Machine(h.label, h.slots, gpus)))
        return self._hosts

    def _mark_down(self, host: Host, reason: str) -> None:
        reason = self.redact(reason)
        host.up, host.down_reason, host.down_since = False, reason, time.monotonic()
        lost = [a for a in self.attempts.values() if a.host is host]
        self.notices.append(RunnerNotice(
            f"SSH host {host.name} is unavailable: {reason}. "
            f"{len(lost)} running trial(s) on it run again elsewhere; new trials go to the other hosts; "
            f"it is tried again in {self.config.retry_down_after:g}s.",
            {"host": host.name, "reason": reason, "trials": [a.launch.trial_id for a in lost]},
        ))
        for att in lost:
            host.lose(att.rundir, att.record)
            self.notices.append(Exited(
                att.launch.trial_id, att.launch.attempt, "failed",
                reason=f"SSH host {host.name} became unavailable: {reason}",
                output_tail=self.redact(output_tail(att.stdout)), lost=True,
            ))
            self.attempts.pop(att.key, None)
            self.released(att)

    def _gpus_known(self, host: Host, gpus: int) -> bool:
        if not gpus or host.machine.gpus is not None:
            return True
        try:
            detect_gpus(host)
        except SshUnavailable as exc:
            self._mark_down(host, str(exc))
            return False
        return True

    # -- the contract ----------------------------------------------------------------------

    def capacity(self) -> int | None:
        return sum(h.slots for h in self.config.hosts)

    def held(self) -> int:  # lost with their host, maybe still running there: see Host.lose
        return sum(h.held(self.config.lost_after) for h in self._hosts or [])

    def can_start(self, launch: Launch) -> bool:
        up = [h for h in self.hosts if h.up and self._gpus_known(h, launch.gpus)]
        if any(h.machine.fits(launch.gpus) for h in up):
            return True
        # wait only while some reachable host could take it once a trial ends
        return not any(h.machine.possible(launch.gpus) for h in up)

    def start(self, launch: Launch) -> dict[str, Any]:
        up = [h for h in self.hosts if h.up and self._gpus_known(h, launch.gpus)]
        if up and not any(h.machine.possible(launch.gpus) for h in up):
            most = max(h.machine.gpus.total if h.machine.gpus else 0 for h in up)
            raise TooManyGpus(f"the trial needs {launch.gpus} GPU(s) but no SSH host has that "
                                    f"many (the most any host has is {most})")
        errors = []
        for host in sorted((h for h in self.hosts if h.up), key=lambda h: -h.machine.free_slots):
            if not self._gpus_known(host, launch.gpus) or not host.machine.fits(launch.gpus):
                continue
            try:
                return self._start_on(host, launch)
            except SshUnavailable as exc:
                self._mark_down(host, str(exc))
                errors.append(f"{host.name}: {self.redact(str(exc))}")
        down = [f"{h.name} is down ({h.down_reason})" for h in self.hosts if not h.up]
        need = f" with {launch.gpus} free GPU(s)" if launch.gpus else ""
        if not any(h.up for h in self.hosts):  # nowhere to go: the engine holds the trials
            raise BackendUnreachable("no SSH host is up: " + "; ".join(errors + down))
        raise RunnerUnavailable(
            f"no SSH host{need} could take the trial: " + "; ".join(errors + down or ["all hosts are full"])
        )

    def _start_on(self, host: Host, engines: Launch) -> dict[str, Any]:
        c, devices = self.config, host.machine.take(engines.key, engines.gpus)
        rundir = f"{c.rundir}/{engines.group_id}/{engines.trial_id}-{engines.attempt}"
        try:  # the trial's checkpoint folder goes first, to a folder of its own on the host
            launch, sent = ckpt.send(host.client, engines, rundir, c.checkpoint_limit, c.checkpoint_timeout) \
                if c.copy_checkpoints else (engines, {})
        except BaseException as exc:
            host.machine.release(engines.key)
            if isinstance(exc, SshCommandFailed):
                raise RunnerUnavailable(f"on {host.name}: {self.redact(str(exc))}") from None
            raise
        env = {**launch.env, **host.env}
        if host.machine.gpus is not None:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(devices)
        env.update({n: os.environ[n] for n in self.config.env_passthrough if n in os.environ})
        host.groups.add(f"{self.config.rundir}/{launch.group_id}")
        python_dir = os.path.dirname(host.cfg.python) if host.cfg.python else None
        script = sh.launch_script(rundir, host.cfg.workdir or str(launch.workdir), env, launch.command,
                                  python_dir or None)
        try:
            try:
                out = host.client.run(script)
            except SshUnavailable as exc:
                if not exc.ran:
                    raise
                found = started_anyway(host, launch, rundir, exc, self.redact, self.notices)  # dropped mid-launch
            else:
                self._noisy_login(host)
                rundir, pid, start, boot = sh.parse_started(out)
                found = rundir, sh.Record(pid, start, boot)
        except SshCommandFailed as exc:
            host.machine.release(launch.key)
            raise RunnerUnavailable(f"on {host.name}: {self.redact(str(exc))}") from None
        except BaseException:
            host.machine.release(launch.key)
            raise
        rundir, record = found
        att = self._attempt(engines, host, rundir, record=record, checkpoint=sent)
        att.stdout.write_bytes(b"")
        self.attempts[launch.key] = att
        host.next_poll = 0.0
        return {"host": host.name, "rundir": rundir, "pid": record.pid, "start": record.start,
                "boot": record.boot, "started": att.started, "gpus": list(devices), **sent}

    def reattach(self, launch: Launch, handle: dict[str, Any], offset: int) -> bool:
        host = next((h for h in self.hosts if h.name == handle.get("host")), None)
        rundir = handle.get("rundir")
        if host is None or not rundir or not host.up:
            return False
        record = sh.Record.of(handle)
        try:
            out = host.client.run(sh.check_script(rundir, record)).decode()
        except SshUnavailable as exc:
            self._mark_down(host, str(exc))
            return False
        except SshCommandFailed:
            return False
        if "@@hpo-check alive" not in out and "@@hpo-check exited" not in out:
            found = out[out.find("@@hpo-check lost"):].split()
            outcome = found[2] if len(found) > 2 else "gone"
            self.notices += kill_report(host, f"@@hpo-kill {outcome} {rundir}\n".encode(),
                                        f"cleaning up trial {launch.trial_id}, not running when the engine resumed",
                                        remove=False)[1]
            return False
        mirror = launch.trial_dir / "stdout.log"
        size = mirror.stat().st_size if mirror.exists() else 0
        with open(mirror, "ab") as fh:
            fh.truncate(min(size, offset))
        att = self._attempt(launch, host, rundir, fetched=min(size, offset), offset=offset,
                            started=float(handle.get("started", time.time())), record=record, checkpoint=handle)
        devices = handle.get("gpus") or []
        if devices and not self._gpus_known(host, len(devices)):
            return False
        try:
            host.machine.claim(launch.key, devices)
        except GpuError:
            host.machine.claim(launch.key, [])  # the GPU list changed since; keep following it
        self.attempts[launch.key] = att
        host.groups.add(f"{self.config.rundir}/{launch.group_id}")
        return True

    def discard(self, launch: Launch) -> None:
        rundir = f"{self.config.rundir}/{launch.group_id}/{launch.trial_id}-{launch.attempt}"
        why = f"cleaning up trial {launch.trial_id} attempt {launch.attempt}, started but never recorded"
        for host in self.hosts:
            if host.up:
                try:
                    out = host.client.run(sh.kill_script([(rundir, None)], remove=True))
                except (SshUnavailable, SshCommandFailed):
                    continue
                self.notices += kill_report(host, out, why, remove=True)[1]
        for name in ("stdout.log", "stderr.log"):
            (launch.trial_dir / name).unlink(missing_ok=True)

    def _attempt(self, launch: Launch, host: Host, rundir: str, checkpoint: dict = {}, **kw: Any) -> SshAttempt:
        att = SshAttempt(launch, host, rundir, grace_period=self.config.grace_period, **kw)
        att.redact = self.redact
        att.checkpoint = checkpoint.get("checkpoint_sent", {}).get("path")  # fetched back at the end
        return att

    # -- polling ---------------------------------------------------------------------------

    def poll(self) -> list[Message]:
        out = self.take_notices()
        now = time.monotonic()
        for att in list(self.attempts.values()):
            att.check_time()
        for host in self.hosts:
            if host.inflight is not None and host.inflight.done():
                out += self._collect(host)
                self._noisy_login(host)
        for host in self.hosts:
            if host.inflight is None:
                self._submit(host, now)
        return out + self.take_notices()

    def _noisy_login(self, host: Host) -> None:
        notice = login_notice(host)
        if notice is not None:
            self.notices.append(RunnerNotice(self.redact(notice.message), notice.details))

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=min(8, len(self.hosts)), thread_name_prefix="hpo-ssh")
        return self._pool

    def _submit(self, host: Host, now: float) -> None:
        if not host.up:
            if now - host.down_since >= self.config.retry_down_after:
                host.down_since = now
                host.probing = list(host.lost)
                script = sh.kill_script(host.probing, remove=not self.config.keep_remote_files)
                host.inflight = self._executor().submit(host.client.run, "echo @@hpo-begin\n" + script)
            return
        mine = [a for a in self.attempts.values() if a.host is host]
        if (not mine and not host.trash) or now < host.next_poll:
            return
        entries = []
        for att in mine:
            entries.append(sh.PollEntry(att.name, att.rundir, att.fetched, att.signal_due, att.record))
            att.signal_due = None
        script = sh.poll_script(entries, host.env, list(host.trash))
        host.trash.clear()
        host.inflight = self._executor().submit(run_twice, host.client, script)
        host.next_poll = now + self.config.poll_interval

    def _collect(self, host: Host) -> list[Message]:
        fut, host.inflight = host.inflight, None
        try:
            raw = fut.result()
        except SshUnavailable as exc:
            if host.up:
                self._mark_down(host, str(exc))
            return self.take_notices()
        except SshCommandFailed as exc:
            return [RunnerNotice(f"polling SSH host {host.name} failed: {self.redact(str(exc))}")]
        if not host.up:  # it answered the retry
            return self._host_back(host, raw)
        try:
            results = sh.parse_poll(raw)
        except ValueError as exc:
            return [RunnerNotice(f"SSH host {host.name}: {exc}")]
        out: list[Message] = []
        for att in [a for a in list(self.attempts.values()) if a.host is host]:
            res = results.get(att.name)
            if res is not None:
                out += self._advance(att, res)
        return out

    def _advance(self, att: SshAttempt, res: sh.PollResult) -> list[Message]:
        if res.data:
            with open(att.stdout, "ab") as fh:
                fh.write(res.data)
            att.fetched += len(res.data)
        msgs = att.reports()
        if not res.finished or att.fetched < res.size:
            if res.finished:
                att.host.next_poll = 0.0  # more output to fetch before the exit
            return msgs
        att.stderr.write_bytes(res.stderr_tail)
        code = res.exit_code
        if code is None and att.stop_reason is None:
            code = "the process vanished without an exit status (killed, or the host rebooted)"
        return msgs + self.finish(att, code)

    def released(self, att: SshAttempt) -> None:
        att.host.machine.release(att.launch.key)

    def finish(self, att: SshAttempt, code: int | str | None) -> list[Message]:
        c = self.config
        if not c.keep_remote_files:
            att.host.trash.append(att.rundir)
        return ckpt.fetch_back(att.host.client, att.checkpoint, att.launch, super().finish(att, code),
                               c.checkpoint_limit, c.checkpoint_timeout)

    def _host_back(self, host: Host, raw: bytes) -> list[Message]:
        """The host answered the probe, which also killed what was left of the trials lost with
        it (each only if its pid still names the process recorded at launch)."""
        host.up, host.next_poll = True, 0.0
        msg = f"SSH host {host.name} is reachable again"
        refused: list[RunnerNotice] = []
        if host.probing:
            cleaned, refused = kill_report(host, raw, "cleaning up a trial lost while it was down",
                                           remove=not self.config.keep_remote_files)
            msg += f"; killed what was left of {cleaned} trial(s) lost while it was down"
            host.lost = [t for t in host.lost if t not in host.probing]
            host.lost_at = {r: at for r, at in host.lost_at.items() if any(r == t[0] for t in host.lost)}
            host.probing = []
        return [RunnerNotice(self.redact(msg), {"host": host.name}), *refused]

    def close(self, stop_running: bool) -> None:
        for host in self._hosts or []:
            if host.inflight is not None:
                try:
                    host.inflight.result(timeout=self.config.connect_timeout + self.config.command_timeout + 1)
                except Exception:
                    pass
                host.inflight = None
            dirs = [(a.rundir, a.record) for a in self.attempts.values() if a.host is host] if stop_running else []
            # the group's folder goes once empty (rmdir: an attempt kept for a person stays)
            groups = sorted(host.groups) if stop_running and not self.config.keep_remote_files else []
            if host.up and (dirs or host.trash or groups):
                try:
                    out = host.client.run(sh.kill_script(dirs, remove=not self.config.keep_remote_files)
                                          + "".join(f"rm -rf -- {sh.q(d)}\n" for d in host.trash)
                                          + "".join(f"rmdir -- {sh.q(g)} 2>/dev/null\n" for g in groups)
                                          + "true\n")
                except (SshUnavailable, SshCommandFailed) as exc:
                    log.warning("SSH host %s: could not clean up: %s", host.name, self.redact(str(exc)))
                else:
                    for notice in kill_report(host, out, "stopping a trial as the engine left",
                                              remove=not self.config.keep_remote_files)[1]:
                        log.warning("%s", notice.message)
                host.trash.clear()
            host.client.close()
        self.attempts.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._control_dir is not None:
            shutil.rmtree(self._control_dir, ignore_errors=True)
        self._hosts, self._control_dir = None, None


@hookimpl
def hpo_register_runners(register):
    register(SshRunner)
