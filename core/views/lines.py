"""The plain-lines view: one line per trial event, for logs and pipes (CI stays readable)."""

from __future__ import annotations

from rich.console import Console

from hpo.eventlog.state import GroupState
from hpo.eventlog.store import Stored
from hpo.views.fmt import clean, metrics_text, num, params_text
from hpo.engine.plans import Plan
from hpo.views.overview import overview
from hpo.trial.outcome import is_missing_metric
from hpo.views.failures import SameErrorWatch, error_lines, rejected_text


def retried_text(e) -> str:
    """``trial 3 attempt 1 was lost (...): it runs again (retry 1 of 2)``."""
    return clean(f"trial {e.trial_id} attempt {e.attempt} did not finish ({e.reason}): "
                 f"it runs again (retry {e.retry} of {e.max_retries})")


def metric_warning(e, state: GroupState) -> str | None:
    """The warning the first trial that exits 0 without the group's metric deserves: the group
    is most likely misconfigured, and every trial after it will fail the same way."""
    if e.type != "TrialFinished" or e.status != "failed" or not is_missing_metric(e.reason):
        return None
    return (f"warning: trial {e.trial_id} did not report the group's metric {clean(state.metric_name)}, "
            f"so it is failed; check the metric name in the spec and in the script's reports "
            f"(hpo logs {state.group_id} {e.trial_id})")


class LineProgress:
    """An engine listener printing trial launches and ends, stops, failures and the group's end.

    Finished trials carry the progress and the best value so far: ``[5/12 done, best 0.9556]``.
    """

    def __init__(self, console: Console | None = None, plan: Plan | None = None):
        self.console = console or Console(highlight=False)
        self.plan = plan or Plan()
        self.warned_metric = False
        self.same_error = SameErrorWatch()

    def refresh(self, state: GroupState) -> None:
        """One line for where a group stands (``hpo watch`` starts with it)."""
        snap = overview(state, self.plan)
        self.console.print(f"group {clean(state.name)} ({state.group_id}) {state.status}: {self._progress(state)}",
                           markup=False, soft_wrap=True)
        for t in snap.running:
            self.console.print(f"trial {t.trial_id} running: {params_text(t.params)}", markup=False, soft_wrap=True)

    def _progress(self, state: GroupState) -> str:
        """``5/12 done, best 0.9556 (trial 4)``: two cheap passes, it runs for every trial."""
        done = sum(1 for t in state.trials.values() if t.finished and not t.resumable)
        of = f"/{self.plan.planned}" if self.plan.planned else ""
        text = f"{done}{of} done"
        best = state.best()
        if best is not None:
            text += f", best {num(best.value(state.metric_name))} (trial {best.trial_id})"
        return text

    def __call__(self, s: Stored, state: GroupState) -> None:
        e, c = s.event, self.console
        if e.type == "TrialLaunched":
            tr = state.trials[e.trial_id]
            again = f" (attempt {e.attempt})" if e.attempt > 1 else ""
            c.print(f"trial {e.trial_id} started{again}: {params_text(tr.params)}", markup=False, soft_wrap=True)
        elif e.type == "TrialFinished" and e.attempt > 0:
            tr = state.trials[e.trial_id]
            why = f" ({clean(e.reason)})" if e.reason and e.status != "succeeded" else ""
            c.print(f"trial {e.trial_id} {e.status}{why}: {metrics_text(tr.metrics)}"
                    f"  [{self._progress(state)}]", markup=False, soft_wrap=True)
            if e.status == "failed":
                for line in error_lines(e.output_tail):
                    c.print(f"  | {line}", markup=False, soft_wrap=True, style="dim")
            warning = None if self.warned_metric else metric_warning(e, state)
            if warning:
                self.warned_metric = True
                c.print(warning, markup=False, soft_wrap=True, style="bold yellow")
            same = self.same_error.observe(e, state)
            if same:
                c.print(same, markup=False, soft_wrap=True, style="bold red")
        elif e.type == "ReportsRejected":
            c.print(rejected_text(e, state), markup=False, soft_wrap=True, style="yellow")
        elif e.type == "TrialRetried":
            c.print(retried_text(e), markup=False, soft_wrap=True, style="yellow")
        elif e.type == "TrialReattached":
            c.print(f"trial {e.trial_id} still running: reattached", markup=False, soft_wrap=True)
        elif e.type == "Stopped" and e.scope == "group":
            c.print(clean(f"search stopped by {e.policy}: {e.reason}"), markup=False, soft_wrap=True)
        elif e.type == "PluginFailed":
            c.print(clean(f"{e.plugin} failed: {e.error}"), markup=False, soft_wrap=True, style="red")
        elif e.type == "RunnerNoticed":
            c.print(clean(f"runner {e.runner}: {e.message}"), markup=False, soft_wrap=True, style="yellow")


def print_end(console: Console, state: GroupState, planned: int | None = None) -> None:
    """The few lines that close ``hpo run``, ``hpo resume`` and ``hpo watch``."""
    counts: dict[str, int] = {}
    for t in state.trials.values():
        counts[t.status] = counts.get(t.status, 0) + 1
    text = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no trials"
    console.print(f"group {clean(state.name)} ({state.group_id}) {state.status}: {text}", markup=False, soft_wrap=True)
    if state.reason:
        console.print(f"reason: {clean(state.reason)}", markup=False, soft_wrap=True)
    best = state.best()
    if best is not None:
        console.print(f"best: trial {best.trial_id} {clean(state.metric_name)}="
                      f"{num(best.value(state.metric_name), 6)} {clean(best.params)}", markup=False, soft_wrap=True)
    if state.status == "stopped":
        console.print(f"resume with: hpo resume {state.group_id}", markup=False, soft_wrap=True)
