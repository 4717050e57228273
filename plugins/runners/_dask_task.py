"""What runs on a Dask worker for one trial attempt (shipped by value: workers need no hpo).

The task starts the command under ``/bin/sh`` in a new session, its stdout and stderr in files in
a private folder, and loops until it ends. Each turn it sends the stdout bytes not sent yet to the
attempt's ``distributed.Queue`` as ``("out", offset, bytes)``, applies what the runner asked
through the attempt's control ``Variable`` (a signal for the process group; a new queue and a
replay offset, when a resumed engine reattaches), and watches the runner's heartbeat: when no
runner has followed the trial for ``orphan_timeout`` seconds, the trial is killed. When it ends,
the result (exit status, stderr tail, the last MiB of stdout) goes to the attempt's result
``Variable`` as well as being returned, so a runner that was away can still read it.

A trial must not outlive its worker: the wrapper runs a watchdog that kills the process group as
soon as the worker process is gone. When a worker is lost, Dask runs the task again elsewhere;
the "started" variable tells the second run, which then reports the loss instead of running
the trial twice.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

CHUNK = 256 * 1024
TAIL = 1 << 20
STDERR_TAIL = 4000

# $1: the command, $2: the worker's pid. A stop's SIGTERM reaches the command and the watchdog;
# the wrapper survives it to record the status, and so does the subshell until the program it
# runs has ended (the same subshell as the local wrapper's, hpo.runkit.process.SUBSHELL, written
# out here: workers need no hpo).
WRAPPER = (
    "trap : TERM; "
    '( while kill -0 "$2" 2>/dev/null; do sleep 1; done; kill -s KILL -- -$$ ) '
    "</dev/null >/dev/null 2>&1 & "
    "( trap 'rc=$?; [ $rc -ne 0 ] || rc=143; exit $rc' TERM; eval \"$1\" ); rc=$?; "
    'kill $! 2>/dev/null; exit $rc'
)


def _gpu_devices(worker) -> list[str]:
    devices = getattr(worker, "_hpo_gpu_devices", None)
    if devices is None:
        raw = os.environ.get("HPO_GPUS")
        if raw is not None:
            devices = [d.strip() for d in raw.replace("\n", ",").split(",") if d.strip()]
        elif shutil.which("nvidia-smi"):
            out = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=30)
            devices = [d.strip() for d in out.stdout.splitlines() if d.strip()] if out.returncode == 0 else []
        else:
            devices = []
        worker._hpo_gpu_devices = devices
    return devices


def _take_gpus(worker, key: str, n: int) -> tuple[list[str], bool]:
    """(devices held for ``key``, whether this worker manages GPUs at all)."""
    devices = _gpu_devices(worker)
    lock = worker.__dict__.setdefault("_hpo_gpu_lock", threading.Lock())
    with lock:
        held = worker.__dict__.setdefault("_hpo_gpu_held", {})
        busy = {d for ds in held.values() for d in ds}
        free = [d for d in devices if d not in busy]
        if n > len(free):
            raise RuntimeError(f"the trial needs {n} GPU(s); this worker has {len(free)} free of "
                               f"{devices} (declare GPU resources that match HPO_GPUS/nvidia-smi)")
        held[key] = free[:n]
        return free[:n], bool(devices) or "HPO_GPUS" in os.environ


def _release_gpus(worker, key: str) -> None:
    lock = worker.__dict__.setdefault("_hpo_gpu_lock", threading.Lock())
    with lock:
        worker.__dict__.setdefault("_hpo_gpu_held", {}).pop(key, None)


def _tail(path: str, limit: int) -> tuple[int, bytes]:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            return max(0, size - limit), fh.read()
    except OSError:
        return 0, b""


def _untar(data: bytes, folder: str) -> None:
    import io
    import tarfile

    os.makedirs(folder, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(folder, filter="data")
        else:  # an older Python: the engine wrote this archive
            tar.extractall(folder)


def _tar(folder: str, limit: int) -> bytes:
    """The folder's contents as tar bytes; ValueError when over ``limit``."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            tar.add(os.path.join(folder, name), arcname=name)
            if buffer.tell() > limit:
                break
    if buffer.tell() > limit:
        raise ValueError(f"its checkpoint folder holds more than the runner's checkpoint_limit of "
                         f"{limit} bytes (at least {buffer.tell()}); it does not travel with the trial: "
                         "raise checkpoint_limit, or save less")
    return buffer.getvalue()


def _checkpoint_back(result: dict, folder: str | None, limit: int) -> None:
    """Put the checkpoint folder (``folder``) in the task's result, or why it is not there."""
    if folder is None:
        return
    began = time.monotonic()
    try:
        result["checkpoint"] = _tar(folder, limit)
    except (ValueError, OSError) as exc:
        result["checkpoint_error"] = str(exc)
    result["checkpoint_seconds"] = time.monotonic() - began


def run_trial(spec: dict, checkpoint: bytes | None = None) -> dict:
    from distributed import Variable, get_worker

    worker = get_worker()
    names = spec["names"]
    started, result_var = Variable(names["started"]), Variable(names["result"])
    control = Variable(names["control"])
    if started.get(timeout=10) is not None:
        # Dask runs a task again when its worker died; never run a trial twice
        before = started.get(timeout=10)
        result = {"status": "lost", "reason": f"the Dask worker running it ({before.get('worker')}) was lost"}
        result_var.set(result)
        return result
    info = {"worker": worker.address, "host": socket.gethostname(), "pid": os.getpid()}
    started.set(info)
    folder = tempfile.mkdtemp(prefix="hpo-trial-", dir=getattr(worker, "local_directory", None))
    out_path, err_path = os.path.join(folder, "stdout.log"), os.path.join(folder, "stderr.log")
    key = names["started"]
    try:
        devices, managed = _take_gpus(worker, key, spec["gpus"])
    except Exception as exc:
        result = {"status": "error", "reason": str(exc)}
        result_var.set(result)
        return result
    env = {**spec["inherit"](os.environ), **spec["env"]}  # hpo.runkit.env.trial_environment
    command, ckpt = spec["command"], None
    if checkpoint is not None:  # the engine's checkpoint folder, copied here (see _dask_checkpoints)
        ckpt = os.path.join(folder, "checkpoints")
        _untar(checkpoint, ckpt)
        env["HPO_CHECKPOINT_DIR"] = ckpt
        command = command.replace(spec["checkpoint"]["here"], ckpt)
    if managed:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(devices)
    try:
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", WRAPPER, "hpo-trial", command, str(os.getpid())],
                cwd=spec["workdir"], env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                start_new_session=True,
            )
    except OSError as exc:
        _release_gpus(worker, key)
        result = {"status": "error", "reason": f"could not start the command: {exc}"}
        result_var.set(result)
        return result
    try:
        result = _follow(proc, spec, control, out_path, err_path, info, devices)
    finally:
        if proc.returncode is None:  # not reaped (an error while following): its pid is its own
            _kill_group(proc.pid)
            proc.wait()
        _release_gpus(worker, key)
    _checkpoint_back(result, ckpt, spec.get("checkpoint", {}).get("limit", 0))
    result_var.set(result)
    shutil.rmtree(folder, ignore_errors=True)
    return result


def _follow(proc, spec, control, out_path, err_path, info, devices) -> dict:
    from distributed import Queue, Variable

    ctl = control.get(timeout=10)
    queue, sent, applied = Queue(ctl["queue"]), 0, 0
    heartbeat, beat, seen = Variable(ctl["heartbeat"]), None, time.monotonic()
    queue.put(("start", {**info, "gpus": devices}))
    orphaned = False
    while True:
        done = _ended(proc)
        ctl = control.get(timeout=10)
        if ctl["epoch"] != spec.get("_epoch", 0):  # a new runner took over: new queue, replay
            spec["_epoch"] = ctl["epoch"]
            queue, sent = Queue(ctl["queue"]), int(ctl.get("replay") or 0)
            heartbeat, beat, seen = Variable(ctl["heartbeat"]), None, time.monotonic()
            queue.put(("start", {**info, "gpus": devices}))
        if ctl.get("signal_seq", 0) > applied and not done:
            applied = ctl["signal_seq"]
            _kill_group(proc.pid, signal.SIGKILL if ctl["signal"] == "KILL" else signal.SIGTERM)
        try:
            value = heartbeat.get(timeout=1)
        except Exception:
            value = beat
        if value != beat:
            beat, seen = value, time.monotonic()
        elif not done and time.monotonic() - seen > spec["orphan_timeout"]:
            orphaned = True
            _kill_group(proc.pid)
        sent = _send(queue, out_path, sent)
        if done:
            break
        time.sleep(0.1)
    _kill_group(proc.pid)  # nothing of the trial outlives it; the leader is not reaped yet
    proc.wait()
    sent = _send(queue, out_path, sent)
    start, tail = _tail(out_path, TAIL)
    _, err = _tail(err_path, STDERR_TAIL)
    return {"status": "exited", "exit_code": proc.returncode, "stderr_tail": err,
            "stdout_tail": tail, "stdout_tail_start": start, "stdout_size": start + len(tail),
            "orphaned": orphaned}


def _ended(proc) -> bool:
    """Whether the command ended, without reaping it: until it is reaped its pid cannot go to
    another process, so signalling its group stays safe."""
    if hasattr(os, "waitid"):
        try:
            return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True
    return proc.poll() is not None


def _kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(pid, sig)
    except OSError:
        pass


def _send(queue, path: str, sent: int) -> int:
    try:
        with open(path, "rb") as fh:
            fh.seek(sent)
            while True:
                data = fh.read(CHUNK)
                if not data:
                    return sent
                queue.put(("out", sent, data))
                sent += len(data)
    except OSError:
        return sent


def task_state(dask_scheduler, key: str) -> str | None:
    """Run on the scheduler: the state of a task (None when the scheduler does not know it)."""
    ts = dask_scheduler.tasks.get(key)
    return ts.state if ts is not None else None
