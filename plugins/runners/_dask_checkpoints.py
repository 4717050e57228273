"""Checkpoints through Dask: the trial's checkpoint folder travels as tar bytes with its task
(scattered to the cluster, an argument of the task) and comes back in the task's result, so no
worker needs the engine's filesystem. The worker's side is in :mod:`._dask_task` (plain tarfile:
workers need no hpo); this is the engine's. A transfer's ``seconds`` are the time to pack and
unpack the folder; the bytes cross the network with the task and its result.
"""

from __future__ import annotations

import time
from typing import Any

from hpo.contracts.runner import Exited, Launch, Message
from hpo.runkit.checkpoints import (CheckpointTooLarge, CheckpointTransferFailed, Transfer, fetched,
                                    local_folder, pack, unpack)


def send(launch: Launch, copy: bool, limit: int) -> tuple[bytes | None, dict[str, Any], dict[str, Any]]:
    """(the folder's tar bytes, what the task needs to place them, what goes in the handle);
    (None, {}, {}) when nothing travels."""
    local = local_folder(launch)
    if not copy or local is None:
        return None, {}, {}
    began = time.monotonic()
    data = pack(local, limit)
    sent = Transfer(len(data), time.monotonic() - began)
    return data, {"here": str(local), "limit": int(limit)}, {"checkpoint_sent": sent.record()}


def fetch(launch: Launch, result: dict, limit: int) -> tuple[Transfer | None, Exception | None]:
    """Unpack the folder a task's result brought back into the engine's checkpoint folder."""
    local = local_folder(launch)
    if local is None or ("checkpoint" not in result and "checkpoint_error" not in result):
        return None, None
    if result.get("checkpoint_error"):
        return None, CheckpointTooLarge(f"on the Dask worker: {result['checkpoint_error']}")
    began = time.monotonic()
    try:
        size = unpack(result["checkpoint"], local, limit, where="the Dask worker")
    except (CheckpointTooLarge, CheckpointTransferFailed) as exc:
        return None, exc
    return Transfer(size, time.monotonic() - began + result.get("checkpoint_seconds", 0.0)), None


def with_fetched(messages: list[Message], outcome: tuple[Transfer | None, Exception | None]) -> list[Message]:
    return [fetched(m, *outcome) if isinstance(m, Exited) else m for m in messages]
