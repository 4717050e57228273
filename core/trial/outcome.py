"""What an attempt's exit means: a trial that exits 0 without reporting the group's metric has
not succeeded.

Optuna fails a trial whose objective returns nothing; here the same mistake (the script reports
``val_acc`` while the spec optimises ``val_accuracy``, or its report lines do not parse) would
otherwise end a group "succeeded" with no value, no best trial and stopping rules that never
fire. The engine records such a trial ``failed`` with a reason that names what it did report and
the closest name, so the mistake shows at the first trial.
"""

from __future__ import annotations

import difflib
from typing import Iterable

MISSING_METRIC = "exited 0 without reporting the metric"
PROTOCOL_ERRORS_HEADER = "protocol errors:"  # how runners open the list in an output tail


def missing_metric_reason(metric: str, reported: Iterable[str], output_tail: str = "") -> str:
    """``exited 0 without reporting the metric val_accuracy: reported val_acc, n_trees; did you
    mean val_accuracy (not val_acc)?``, plus the protocol errors the record lists."""
    names = sorted(set(reported))
    text = f"{MISSING_METRIC} {metric}"
    if names:
        text += ": reported " + ", ".join(names)
        close = difflib.get_close_matches(metric, names, n=1, cutoff=0.5)
        if close:
            text += f"; did you mean {metric} (not {close[0]})?"
    else:
        text += ": reported no metric"
    errors = protocol_errors(output_tail)
    if errors:
        text += f"; {len(errors)} report line{'s' if len(errors) != 1 else ''} did not parse: {errors[0]}"
    return text


def is_missing_metric(reason: str) -> bool:
    return reason.startswith(MISSING_METRIC)


def protocol_errors(output_tail: str) -> list[str]:
    """The report lines that did not parse, as the runner listed them in the recorded output
    tail (the last few: the full output is in the attempt's folder)."""
    lines = output_tail.splitlines()
    if not lines or lines[0].strip() != PROTOCOL_ERRORS_HEADER:
        return []
    out = []
    for line in lines[1:]:
        if line.startswith("--- ") and line.rstrip().endswith(" ---"):
            break
        if line.strip():
            out.append(line.strip())
    return out
