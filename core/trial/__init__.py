"""The trial side of the contract: what a training script calls.

Trials never open the database. Params arrive in the ``HPO_PARAMS`` environment variable (JSON)
and in the command template; metrics leave as protocol lines on stdout (see
:mod:`hpo.trial.protocol`), which the runner carries back to the engine.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from hpo.trial.protocol import format_report

PARAMS_ENV = "HPO_PARAMS"
TRIAL_ID_ENV = "HPO_TRIAL_ID"
GROUP_ID_ENV = "HPO_GROUP_ID"
TRIAL_DIR_ENV = "HPO_TRIAL_DIR"
CHECKPOINT_DIR_ENV = "HPO_CHECKPOINT_DIR"
ATTEMPT_TOKEN_ENV = "HPO_ATTEMPT_TOKEN"  # the attempt's marker (hpo.runkit.markers)


def params() -> dict[str, Any]:
    """This trial's params (matrix values, declarations, and e.g. hyperband's resource).

    Outside a trial (no ``HPO_PARAMS``) it returns an empty dict, so a script also runs by hand.
    """
    raw = os.environ.get(PARAMS_ENV)
    return json.loads(raw) if raw else {}


def report(step: int | None = None, **metrics: float) -> None:
    """Report metrics for this trial, e.g. ``hpo.report(step=3, loss=0.25)``.

    The group's metric value is the last one reported. Safe to call outside a trial: it just
    prints the line.
    """
    line = format_report(step, metrics)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def trial_id() -> int | None:
    raw = os.environ.get(TRIAL_ID_ENV)
    return int(raw) if raw else None


def checkpoint_dir() -> Path | None:
    """Where this trial should save and load checkpoints.

    For a hyperband trial promoted with ``resume: true`` this is the folder of the trial it
    continues, so loading from it picks up where the parent stopped.
    """
    raw = os.environ.get(CHECKPOINT_DIR_ENV)
    if not raw:
        return None
    path = Path(raw)
    path.mkdir(parents=True, exist_ok=True)
    return path
