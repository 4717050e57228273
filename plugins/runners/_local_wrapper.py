"""The environment the local runner hands a trial: this process's, as bytes for ``posix_spawn``
(the wrapper that runs the command is :data:`hpo.runkit.process.WRAPPER`)."""

from __future__ import annotations

import os


def base_env() -> dict[bytes, bytes]:
    """A copy of this process's environment, as bytes (what posix_spawn passes on unchanged).

    ``os.environ._data`` is the encoded dict ``os.environ`` keeps in step with every change; copying
    it is one C call, where ``dict(os.environ)`` decodes and re-encodes every variable.
    """
    data = getattr(os.environ, "_data", None)
    if isinstance(data, dict) and isinstance(next(iter(data), b""), bytes):
        return data.copy()
    return {os.fsencode(k): os.fsencode(v) for k, v in os.environ.items()}
