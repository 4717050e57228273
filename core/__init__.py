"""hpo: event-sourced hyperparameter optimization for experiment groups.

In a training script::

    import hpo
    p = hpo.params()
    ...
    hpo.report(step=epoch, loss=loss)
"""

from __future__ import annotations

from hpo.trial import checkpoint_dir, params, report, trial_id

__version__ = "0.1.0"
__all__ = ["__version__", "checkpoint_dir", "params", "report", "trial_id"]
