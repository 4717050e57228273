import json
import math

from rich.console import Console

from hpo.plugins.stoppers.early_stopping import EarlyStopping
from hpo.plugins.stoppers.median import Median
from hpo.contracts.stopper import StopDecision, Stopper, StopView
from hpo.views.whatif import LOCKSTEP_NOTE, simulate


def median(metric, **options):
    return Median(Median.parse_config(options, "stopping[0]"), metric)


def curves(trial):
    return [
        trial(1, "succeeded", acc=[0.5, 0.6, 0.7, 0.8]),
        trial(2, "succeeded", acc=[0.1, 0.2, 0.3, 0.4]),
        trial(3, "stopped", acc=[0.6, 0.7]),
        trial(4, "failed"),  # never reported
    ]


def test_exact_savings(trial, acc):
    result = simulate(median(acc, min_trials=2), curves(trial), acc, started_at=0.0)
    # step 1: trial 2's best 0.1 < median(0.5, 0.6); later steps have < 2 others
    assert [(t.trial_id, t.stopped_at_step, t.steps_logged) for t in result.trials] == [
        (1, None, 4), (2, 1, 4), (3, None, 2), (4, None, 0)]
    assert (result.steps_logged, result.steps_would_run, result.steps_saved) == (10, 7, 3)
    assert result.saved_percent == 30.0
    assert result.stopped_trials == [2]
    assert (result.best_trial_id, result.best_trial_stopped) == (1, False)
    assert result.outcome(2).reason.startswith("trial 2: best acc so far 0.1 at step 1")
    assert result.outcome(2).policy == "median"


def test_a_too_eager_policy_stops_the_eventual_best(trial, acc):
    result = simulate(median(acc, min_trials=1), curves(trial), acc, started_at=0.0)
    # step 2: trial 1's best 0.6 is below trial 3's running average 0.65
    assert {t.trial_id: t.stopped_at_step for t in result.trials} == {1: 2, 2: 1, 3: None,
                                                                      4: None}
    assert (result.steps_would_run, result.steps_saved, result.saved_percent) == (5, 5, 50.0)
    assert result.best_trial_stopped is True


def test_notes_state_the_assumptions(trial, acc):
    result = simulate(median(acc), curves(trial), acc, started_at=0.0)
    assert result.notes[0] == LOCKSTEP_NOTE
    assert "1 trial(s) were already stopped in the log (3)" in result.notes[1]
    clean = simulate(median(acc), curves(trial)[:2], acc, started_at=0.0)
    assert clean.notes == (LOCKSTEP_NOTE,)


def test_group_stop_cuts_every_running_trial(trial, acc):
    entries = [{"metric": "acc", "value": 0.9, "optimization": "maximize"}]
    es = EarlyStopping(EarlyStopping.parse_config(entries, "x"), None)
    trials = [trial(1, "succeeded", acc=[0.5, 0.7, 0.9, 0.95]),
              trial(2, "succeeded", acc=[0.1, 0.2, 0.3, 0.4, 0.5])]
    result = simulate(es, trials, acc, started_at=0.0)
    assert result.group_stop.step == 3 and result.group_stop.status == "succeeded"
    assert [t.stopped_at_step for t in result.trials] == [3, 3]
    assert (result.steps_logged, result.steps_saved) == (9, 3)
    assert result.outcome(2).reason.startswith("group stopped: early_stopping[0]")
    assert result.best_trial_stopped is True


def test_the_view_is_cut_at_each_step_and_stopped_trials_stay_cut(trial, acc):
    seen = []

    class Recorder(Stopper):
        name = "recorder"

        def decide(self, view: StopView):
            seen.append({t.trial_id: (t.status, t.curves.get("acc", ())) for t in view.trials})
            if len(seen) == 1:
                return [StopDecision(scope="trial", reason="r", policy="recorder", trial_id=1),
                        StopDecision(scope="trial", reason="x", policy="recorder", trial_id=2)]
            return []

    trials = [trial(1, "succeeded", acc=[(0, 0.1), (5, 0.2)]),
              trial(2, "succeeded", acc=[(5, 0.3), (0, 0.4), (10, math.nan)]),  # not in order
              trial(3, "pending")]
    result = simulate(Recorder(Recorder.Config(), acc), trials, acc, started_at=0.0)
    assert seen == [
        {1: ("running", ((0, 0.1),)), 2: ("running", ((0, 0.4),)), 3: ("pending", ())},
        {1: ("stopped", ((0, 0.1),)), 2: ("stopped", ((0, 0.4),)), 3: ("pending", ())},
        {1: ("stopped", ((0, 0.1),)), 2: ("stopped", ((0, 0.4),)), 3: ("pending", ())},
    ]
    assert (result.steps_logged, result.steps_would_run) == (15, 0)
    assert result.best_trial_id == 2  # final real value 0.4 (the NaN is skipped)


def test_finished_trials_are_not_stopped_at_their_last_step(trial, acc):
    class StopAll(Stopper):
        name = "stop_all"

        def decide(self, view):
            return [StopDecision(scope="trial", reason="all", policy="stop_all",
                                 trial_id=t.trial_id) for t in view.trials]

    result = simulate(StopAll(StopAll.Config(), acc), [trial(1, "succeeded", acc=[0.5])], acc,
                      started_at=0.0)
    assert result.stopped_trials == [] and result.steps_saved == 0


def test_nothing_logged(acc):
    result = simulate(median(acc), [], acc, started_at=0.0)
    assert (result.steps_logged, result.saved_percent, result.best_trial_id) == (0, 0.0, None)
    assert result.best_trial_stopped is None


def test_minimize_best_trial(trial, loss):
    trials = [trial(1, "succeeded", loss=[0.5]), trial(2, "succeeded", loss=[0.2]),
              trial(3, "failed", loss=[0.1])]
    assert simulate(median(loss), trials, loss, started_at=0.0).best_trial_id == 2


def test_json_and_render(trial, acc):
    result = simulate(median(acc, min_trials=2), curves(trial), acc, started_at=0.0)
    data = json.loads(json.dumps(result.to_json()))
    assert data["steps_saved"] == 3 and data["saved_percent"] == 30.0
    assert data["policy"] == "median" and data["config"]["min_trials"] == 2
    assert data["metric"] == {"name": "acc", "optimization": "maximize"}
    assert data["trials"][1] == {
        "trial_id": 2, "status": "succeeded", "steps_logged": 4, "stopped_at_step": 1,
        "steps_would_run": 1, "steps_saved": 3, "reason": result.outcome(2).reason,
        "policy": "median",
    }
    assert data["best_trial_id"] == 1 and data["best_trial_stopped"] is False
    console = Console(record=True, width=200)
    console.print(result)
    text = console.export_text()
    assert "what if: median" in text
    assert "would stop 1 of 4 trials; steps: 7 of 10 would have run, 3 saved (30.0%)" in text
    assert "best trial (*): 1, would have run to the end" in text
