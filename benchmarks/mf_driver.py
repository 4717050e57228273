"""Simulated groups for the multi-fidelity benchmark: the engine's loop, in simulated time.

A trial occupies one of ``concurrency`` slots for as many time units as the epochs it trains (a
trial that continues its parent's checkpoint trains only its extra epochs; a configuration that
diverges frees its slot after one epoch). Free slots are filled the way the engine fills them,
and the total resource spent never exceeds ``budget``:

- ``run_searcher``: an hpo searcher is asked (``suggest`` with the history, running trials
  included) whenever a slot is free; ``Wait`` leaves the slot idle until a trial finishes; work
  that no longer fits the budget is not started. A searcher that is exhausted while budget remains
  is started again with another seed (a new hyperband run), its history its own.
- ``run_stopped``: trials start at the full resource and report every epoch; after each report a
  judge (the ``asha`` stopper through ``decide``, as the engine calls it, or an Optuna pruner)
  may stop them. When the budget is spent, whatever still runs is cut.

Slot utilisation is busy slot-time over available slot-time (``concurrency`` times the makespan).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Any, Callable

from hpo.contracts.searcher import SearchHistory, Suggestion, TrialRecord, Wait
from hpo.contracts.stopper import StopView, TrialCurves

import mf_curves


@dataclass
class Outcome:
    final: float  # the best loss of any trial trained to max_iter (inf: none was)
    busy: float  # slot-time spent training
    makespan: float  # simulated time until the last trial ended
    trials: int
    full: int  # trials that reached max_iter
    concurrency: int

    @property
    def utilisation(self) -> float:
        return self.busy / (self.concurrency * self.makespan) if self.makespan else 0.0


def _config(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k != mf_curves.RESOURCE}


def run_searcher(make: Callable[[int], Any], problem_seed: int, budget: float, concurrency: int,
                 max_iter: int) -> Outcome:
    """Drive the searcher ``make(restart)`` builds (see the module doc)."""
    runs: list[tuple[Any, list[TrialRecord]]] = [(make(0), [])]
    running: list[tuple[float, int, int, int]] = []  # (end, order, run index, trial index)
    clock = spent = 0.0
    best, count, full, order, closed = math.inf, 0, 0, 0, False
    while True:
        while len(running) < concurrency and not closed:
            searcher, trials = runs[-1]
            decision = searcher.suggest(SearchHistory(tuple(trials)))
            if isinstance(decision, Wait):
                break
            if not isinstance(decision, Suggestion):
                runs.append((make(len(runs)), []))
                continue
            meta, epochs = decision.meta, decision.params[mf_curves.RESOURCE]
            parent = meta.get("parent") if meta.get("resume") else None
            cost = epochs - trials[parent - 1].params[mf_curves.RESOURCE] if parent else epochs
            if mf_curves.diverges(_config(decision.params)):
                cost = 1  # it fails in its first epoch
            if spent + cost > budget + 1e-9:
                closed = True
                break
            trials.append(TrialRecord(len(trials) + 1, decision.params, "running", None, meta))
            heapq.heappush(running, (clock + cost, order, len(runs) - 1, len(trials) - 1))
            spent, order, count = spent + cost, order + 1, count + 1
        if not running:
            break
        clock, _, r, i = heapq.heappop(running)
        t = runs[r][1][i]
        epochs = t.params[mf_curves.RESOURCE]
        value = mf_curves.loss(_config(t.params), epochs, problem_seed)
        failed = not math.isfinite(value)
        runs[r][1][i] = TrialRecord(t.trial_id, t.params, "failed" if failed else "succeeded",
                                    None if failed else value, t.meta)
        if epochs == max_iter and not failed:
            best, full = min(best, value), full + 1
    return Outcome(best, spent, clock, count, full, concurrency)


class AshaJudge:
    """The ``asha`` stopper, making the decisions the engine would make by calling ``decide``
    with the whole group after every report, at a fraction of the cost.

    A trial is judged at its rung (the highest rung step it has reported) against the values
    recorded at that rung step, and with one report per epoch both change only when some trial
    reports at a rung step. So ``decide`` is called only then, and sees only the trials that
    have reached that rung: they hold the whole population of that rung and of every rung above
    it, and trials below it, whose populations did not change, were kept last time and would be
    kept again. Curves are cut to their rung steps, which give the same rung and the same value
    at it. ``tests/search/test_multi_fidelity_bench.py`` checks the decisions against the
    whole-group call.
    """

    def __init__(self, max_iter: int, eta: int):
        from hpo.plugins.stoppers.asha import Asha, rungs_upto
        from hpo.spec.metric import MetricSpec

        config = Asha.parse_config({"min_resource": 1, "max_resource": max_iter,
                                    "reduction_factor": eta}, "stopping.asha")
        self.metric = MetricSpec(name="loss", optimization="minimize")
        self.stopper = Asha(config, self.metric)
        self.rungs = set(rungs_upto(max_iter, config))
        self.curves: dict[int, list[tuple[int, float]]] = {}  # rung steps only
        self.status: dict[int, str] = {}
        self.seen: dict[int, TrialCurves] = {}  # what the stopper sees of each trial

    def start(self, trial: int, config: dict[str, Any]) -> None:
        self.curves[trial], self.status[trial] = [], "running"

    def report(self, trial: int, epoch: int, value: float, now: float) -> set[int]:
        """Record the report; the trials the stopper stops (any running one may be)."""
        if epoch not in self.rungs:
            return set()
        self.curves[trial].append((epoch, value))
        self._update(trial)
        view = StopView(tuple(self.seen[t] for t, c in self.curves.items()
                              if c and c[-1][0] >= epoch), self.metric, 0.0, now)
        stopped = {d.trial_id for d in self.stopper.decide(view) if d.scope == "trial"}
        for tid in stopped:
            self.status[tid] = "stopped"
            self._update(tid)
        return stopped

    def end(self, trial: int, status: str, value: float | None) -> None:
        if self.status[trial] == "running":
            self.status[trial] = status
            self._update(trial)

    def _update(self, trial: int) -> None:
        if self.curves[trial]:
            self.seen[trial] = TrialCurves(trial, self.status[trial], {},
                                           {"loss": tuple(self.curves[trial])})


def run_stopped(next_config: Callable[[int], tuple[dict[str, Any], Any]], judge: Any,
                problem_seed: int, budget: float, concurrency: int, max_iter: int) -> Outcome:
    """Trials at the full resource, one report per epoch, judged after each (see the module
    doc). ``next_config(i)`` gives the i-th configuration and its handle for the judge."""
    running: list[tuple[float, int, int]] = []  # (time of the next report, trial, epoch)
    configs: dict[int, dict[str, Any]] = {}
    clock = spent = 0.0
    best, count, full = math.inf, 0, 0
    while True:
        while len(running) < concurrency and spent + len(running) < budget:
            config, handle = next_config(count)
            configs[count] = config
            judge.start(count, handle)
            heapq.heappush(running, (clock + 1, count, 1))
            count += 1
        if not running or spent >= budget:
            break
        clock, trial, epoch = heapq.heappop(running)
        spent += 1
        value = mf_curves.loss(configs[trial], epoch, problem_seed)
        if not math.isfinite(value):
            judge.end(trial, "failed", None)
            continue
        if epoch == max_iter:
            best, full = min(best, value), full + 1
            judge.end(trial, "succeeded", value)
            continue
        stopped = judge.report(trial, epoch, value, clock)
        if stopped - {trial}:
            running = [r for r in running if r[1] not in stopped]
            heapq.heapify(running)
        if trial not in stopped:
            heapq.heappush(running, (clock + 1, trial, epoch + 1))
    for _, trial, _ in running:
        judge.end(trial, "stopped", None)  # cut by the budget
    return Outcome(best, spent, clock, count, full, concurrency)
