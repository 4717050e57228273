"""hpo: event-sourced hyperparameter optimization for experiment groups.

In a training script::

    import hpo
    p = hpo.params()
    ...
    hpo.report(step=epoch, loss=loss)
"""

from __future__ import annotations

from typing import Any

from hpo.trial import checkpoint_dir, params, report, trial_id

__version__ = "0.1.0"

# The Python API loads on first use, so `import hpo` in a trial script stays fast.
_LAZY = {
    "Group": "hpo.api.group",
    "TrialResult": "hpo.api.group",
    "WaitForResults": "hpo.api.group",
    "create_group": "hpo.api.entry",
    "load_group": "hpo.api.entry",
    "optimize": "hpo.api.entry",
    "Trial": "hpo.api.objective",
    "TrialStopped": "hpo.api.objective",
}
__all__ = ["__version__", "checkpoint_dir", "params", "report", "trial_id", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hpo' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
