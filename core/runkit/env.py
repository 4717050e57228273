"""What a trial inherits from the engine's environment: all of it but the engine's own variables.

Trials are not told where the event log is: ``HPO_DB`` never reaches them, nor any other
variable of the engine's (``HPO_FAULT``, ``HPO_GPUS``, ``HPO_LOAD_PLUGINS``...; every name that
starts with ``HPO_`` is hpo's). A runner that starts a trial from the engine's environment passes
it through :func:`trial_environment` once; the trial's own ``HPO_`` variables (``HPO_PARAMS``,
``HPO_TRIAL_ID``...) and ``run.env`` come from the launch, on top. docs/trial-contract.md lists
exactly what a trial gets.
"""

from __future__ import annotations

from typing import Mapping, TypeVar

K = TypeVar("K", str, bytes)
V = TypeVar("V", str, bytes)
ENGINE_PREFIX = "HPO_"
_PREFIXES = (ENGINE_PREFIX, ENGINE_PREFIX.encode())


def trial_environment(inherited: Mapping[K, V]) -> dict[K, V]:
    """``inherited`` (``os.environ`` or its bytes form) without the engine's own variables."""
    return {k: v for k, v in inherited.items() if k[:4] not in _PREFIXES}
