"""Plain progress lines for ``hpo run``/``hpo resume`` (one line per trial event)."""

from __future__ import annotations

from rich.console import Console

from hpo.state import GroupState
from hpo.store import Stored


def _fmt(metrics: dict) -> str:
    return " ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items())


class LineProgress:
    """A listener printing trial launches and ends, and the group's end."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(highlight=False)

    def __call__(self, s: Stored, state: GroupState) -> None:
        e, c = s.event, self.console
        if e.type == "TrialLaunched":
            tr = state.trials[e.trial_id]
            again = f" (attempt {e.attempt})" if e.attempt > 1 else ""
            c.print(f"trial {e.trial_id} started{again}: {_fmt(tr.params)}")
        elif e.type == "TrialFinished" and e.attempt > 0:
            tr = state.trials[e.trial_id]
            why = f" ({e.reason})" if e.reason and e.status != "succeeded" else ""
            c.print(f"trial {e.trial_id} {e.status}{why}: {_fmt(tr.metrics)}")
        elif e.type == "TrialReattached":
            c.print(f"trial {e.trial_id} still running: reattached")
        elif e.type == "Stopped" and e.scope == "group":
            c.print(f"search stopped by {e.policy}: {e.reason}")
        elif e.type == "PluginFailed":
            c.print(f"[red]{e.plugin} failed:[/] {e.error}")
