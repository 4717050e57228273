"""How the views tell a failure: the lines of its output worth reading, and a loud word when
the first trials all fail the same way.

A failed trial's record holds the end of its stdout and stderr (``--- stderr.log ---``
sections, see :func:`hpo.runkit.logtail.output_tail`). The error is nearly always in stderr's last
lines, so that is what the plain and live views print under the failure. When the first
:data:`SAME_ERROR_TRIALS` trials to finish all failed with the same error, the spec or the script
is wrong and every further trial will fail the same way: the views say so once, prominently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpo.trial.outcome import protocol_errors
from hpo.views.fmt import clean

if TYPE_CHECKING:
    from hpo.eventlog.state import GroupState, TrialState

SAME_ERROR_TRIALS = 3
ERROR_LINES = 3


def sections(output_tail: str) -> dict[str, list[str]]:
    """The recorded output tail split by file: ``{"stdout.log": [...], "stderr.log": [...]}``."""
    out: dict[str, list[str]] = {}
    current = ""
    for line in output_tail.splitlines():
        if line.startswith("--- ") and line.rstrip().endswith(" ---"):
            current = line.strip()[4:-4]
            out[current] = []
        elif current:
            out[current].append(line)
    return out


def error_lines(output_tail: str, n: int = ERROR_LINES) -> list[str]:
    """The last ``n`` non-empty lines of stderr, else of stdout without its report lines."""
    parts = sections(output_tail)
    lines = [ln for ln in parts.get("stderr.log", []) if ln.strip()]
    if not lines:
        lines = [ln for ln in parts.get("stdout.log", []) if ln.strip() and not ln.lstrip().startswith("@hpo")]
    return [clean(ln.rstrip()) for ln in lines[-n:]]


def signature(reason: str, output_tail: str) -> tuple[str, str]:
    """What makes two failures the same error: the reason and the last error line."""
    last = error_lines(output_tail, 1)
    return (reason, last[0] if last else "")


class SameErrorWatch:
    """Says once when the first trials to finish all failed with the same error."""

    def __init__(self) -> None:
        self.first: list[tuple[str, str] | None] = []  # per finished trial: its error, None if it did not fail
        self.said = False

    def observe(self, e, state: GroupState) -> str | None:
        """The message to print after ``e`` (a ``TrialFinished``), if it is time for it."""
        if e.type != "TrialFinished" or e.attempt == 0 or getattr(e, "resumable", False):
            return None
        if self.said or len(self.first) >= SAME_ERROR_TRIALS or e.status == "stopped":
            return None
        self.first.append(signature(e.reason, e.output_tail) if e.status == "failed" else None)
        errors = set(self.first)
        if len(self.first) < SAME_ERROR_TRIALS or None in errors or len(errors) != 1:
            return None
        self.said = True
        reason, line = self.first[0]  # type: ignore[misc]
        said = clean(reason) + (f": {line}" if line else "")
        return (f"the first {SAME_ERROR_TRIALS} trials all failed with the same error ({said}); "
                f"every trial will likely fail the same way: stop the group (Ctrl-C, or hpo stop "
                f"{state.group_id}), fix the spec or the script, and run it again "
                "(hpo run --fail-fast stops at the first failure)")


def bad_lines(t: TrialState) -> int:
    """How many of the trial's report lines did not parse (a log from before the count was an
    event lists the last few in the output tail: those are counted)."""
    return t.rejected or len(protocol_errors(t.output_tail))


def bad_examples(t: TrialState) -> list[str]:
    """The first report lines of the trial that did not parse, each with why."""
    return [clean(x) for x in (t.rejected_examples or protocol_errors(t.output_tail))]


def rejected_text(e, state: GroupState) -> str:
    """What a ``ReportsRejected`` event says, in one line for the live and plain views."""
    total = state.trials[e.trial_id].rejected if e.trial_id in state.trials else e.count
    lines = "line" if e.count == 1 else "lines"
    text = f"trial {e.trial_id}: {e.count} report {lines} rejected ({total} so far)"
    if e.examples:
        text += f": {clean(e.examples[0])[:160]}"
    return text + f"  (hpo logs {state.group_id} {e.trial_id})"
