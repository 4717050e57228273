"""The live view: a :class:`rich.live.Live` dashboard redrawn from the group's state.

Used as an engine listener by ``hpo run``/``hpo resume`` and fed by the log follower in
``hpo watch``. Each finished trial is also printed as a line above the dashboard, so the
terminal keeps a record once the view closes. :func:`progress_view` picks this view on a
terminal and plain lines everywhere else.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.live import Live
from rich.text import Text

from hpo.eventlog.state import GroupState
from hpo.eventlog.store import Stored
from hpo.views.dashboard import dashboard
from hpo.views.fmt import clean, duration, metrics_text
from hpo.views.failures import SameErrorWatch, rejected_text
from hpo.views.lines import LineProgress, metric_warning, retried_text
from hpo.engine.plans import Plan
from hpo.views.overview import overview

ALWAYS_REDRAW = {"TrialLaunched", "TrialFinished", "Stopped", "PluginFailed", "GroupFinished",
                 "EngineStarted"}
MIN_REDRAW_SECONDS = 0.2
MARK = {"succeeded": "[green]✓[/]", "failed": "[red]✗[/]", "stopped": "[yellow]■[/]"}


class LiveView:
    """An engine listener that keeps a dashboard up to date (use it as a context manager)."""

    def __init__(self, console: Console, plan: Plan | None = None, refresh_per_second: float = 4):
        self.console = console
        self.plan = plan or Plan()
        self.live = Live(console=console, refresh_per_second=refresh_per_second,
                         auto_refresh=True, transient=False)
        self._drawn = 0.0
        self.warned_metric = False
        self.same_error = SameErrorWatch()

    def __enter__(self) -> "LiveView":
        self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.stop()

    def refresh(self, state: GroupState) -> None:
        """Redraw now (the dashboard holds copies: the refresh thread never reads the state)."""
        snap = overview(state, self.plan)
        self.live.update(dashboard(snap, ticking=True), refresh=True)
        self._drawn = time.monotonic()

    def __call__(self, s: Stored, state: GroupState) -> None:
        e = s.event
        if e.type == "TrialFinished" and e.attempt > 0:
            self._print_finished(e, state)
            warning = None if self.warned_metric else metric_warning(e, state)
            if warning:
                self.warned_metric = True
                self.live.console.print(warning, markup=False, style="bold yellow")
            same = self.same_error.observe(e, state)
            if same:
                self.live.console.print(same, markup=False, style="bold red")
        elif e.type == "Stopped" and e.scope == "group":
            self.live.console.print(clean(f"search stopped by {e.policy}: {e.reason}"), markup=False)
        elif e.type == "RunnerNoticed":
            self.live.console.print(clean(f"runner {e.runner}: {e.message}"), markup=False, style="yellow")
        elif e.type == "ReportsRejected":
            self.live.console.print(rejected_text(e, state), markup=False, style="yellow")
        elif e.type == "TrialRetried":
            self.live.console.print(retried_text(e), markup=False, style="yellow")
        if e.type in ALWAYS_REDRAW or time.monotonic() - self._drawn >= MIN_REDRAW_SECONDS:
            self.refresh(state)

    def _print_finished(self, e, state: GroupState) -> None:
        tr = state.trials[e.trial_id]
        start = tr.attempt_started_at or tr.started_at
        took = None if start is None or tr.finished_at is None else tr.finished_at - start
        why = f" ({clean(e.reason)})" if e.reason and e.status != "succeeded" else ""
        line = Text.from_markup(MARK.get(e.status, "-"))
        metrics = metrics_text(tr.metrics)
        line.append(f" trial {e.trial_id} {e.status}{why} in {duration(took)}" + (f": {metrics}" if metrics else ""))
        self.live.console.print(line, highlight=False)


@contextmanager
def progress_view(console: Console, plan: Plan | None = None, live: bool | None = None
                  ) -> Iterator[LiveView | LineProgress]:
    """The live dashboard on a terminal, plain lines otherwise (``live`` forces either)."""
    if live is None:
        live = console.is_terminal and not console.is_dumb_terminal
    if not live:
        yield LineProgress(console, plan)
        return
    with LiveView(console, plan) as view:
        yield view
