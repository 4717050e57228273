"""The plain-lines view: one line per trial event, for logs and pipes (CI stays readable)."""

from __future__ import annotations

from rich.console import Console

from hpo.eventlog.state import GroupState
from hpo.eventlog.store import Stored
from hpo.views.fmt import metrics_text, num, params_text
from hpo.engine.plans import Plan
from hpo.views.overview import overview


class LineProgress:
    """An engine listener printing trial launches and ends, stops, failures and the group's end.

    Finished trials carry the progress and the best value so far: ``[5/12 done, best 0.9556]``.
    """

    def __init__(self, console: Console | None = None, plan: Plan | None = None):
        self.console = console or Console(highlight=False)
        self.plan = plan or Plan()

    def refresh(self, state: GroupState) -> None:
        """One line for where a group stands (``hpo watch`` starts with it)."""
        snap = overview(state, self.plan)
        self.console.print(f"group {state.name} ({state.group_id}) {state.status}: {self._progress(state)}",
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
            why = f" ({e.reason})" if e.reason and e.status != "succeeded" else ""
            c.print(f"trial {e.trial_id} {e.status}{why}: {metrics_text(tr.metrics)}"
                    f"  [{self._progress(state)}]", markup=False, soft_wrap=True)
        elif e.type == "TrialReattached":
            c.print(f"trial {e.trial_id} still running: reattached", markup=False, soft_wrap=True)
        elif e.type == "Stopped" and e.scope == "group":
            c.print(f"search stopped by {e.policy}: {e.reason}", markup=False, soft_wrap=True)
        elif e.type == "PluginFailed":
            c.print(f"{e.plugin} failed: {e.error}", markup=False, soft_wrap=True, style="red")
        elif e.type == "RunnerNoticed":
            c.print(f"runner {e.runner}: {e.message}", markup=False, soft_wrap=True, style="yellow")


def print_end(console: Console, state: GroupState, planned: int | None = None) -> None:
    """The few lines that close ``hpo run``, ``hpo resume`` and ``hpo watch``."""
    counts: dict[str, int] = {}
    for t in state.trials.values():
        counts[t.status] = counts.get(t.status, 0) + 1
    text = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no trials"
    console.print(f"group {state.name} ({state.group_id}) {state.status}: {text}", markup=False, soft_wrap=True)
    if state.reason:
        console.print(f"reason: {state.reason}", markup=False, soft_wrap=True)
    best = state.best()
    if best is not None:
        console.print(f"best: trial {best.trial_id} {state.metric_name}="
                      f"{num(best.value(state.metric_name), 6)} {best.params}", markup=False, soft_wrap=True)
    if state.status == "stopped":
        console.print(f"resume with: hpo resume {state.group_id}", markup=False, soft_wrap=True)
