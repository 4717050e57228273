"""The conformance kit catches the mistakes it is there to catch."""

from __future__ import annotations

import os
import random

import pytest

from hpo.contracts.runner import Exited, Runner
from hpo.plugins.runners.local import LocalAttempt, LocalRunner
from hpo.runkit.exits import read_exit_file
from hpo.runkit.procs import ProcessRecord
from hpo.contracts.searcher import Exhausted, Searcher, Suggestion, Wait
from hpo.contracts.stopper import StopDecision, Stopper
from hpo.errors import PluginError
from hpo.testing import (
    RunnerConformance,
    SearcherConformance,
    StopperConformance,
    history,
    inside,
    record,
    simulate,
)

SPEC = {"search": {"algorithm": "x"}, "matrix": {"lr": {"uniform": [0, 1]}, "k": {"values": [1, 2]}}}


def conformance(searcher_cls, **attrs):
    spec = {**SPEC, "search": {"algorithm": searcher_cls.name}}
    return type("Check", (SearcherConformance,), {"searcher": searcher_cls, "spec": spec, **attrs})()


class Counting(Searcher):
    name = "counting"

    def __init__(self, spec, seed):
        super().__init__(spec, seed)
        self.calls = 0

    def suggest(self, h):
        self.calls += 1
        return Suggestion({"lr": 0.5, "k": 1})


class GlobalRandom(Searcher):
    name = "globalrandom"

    def suggest(self, h):
        return Suggestion({"lr": random.random(), "k": 1})


class Outside(Searcher):
    name = "outside"

    def suggest(self, h):
        return Suggestion({"lr": 1.5, "k": 3}) if len(h) < 3 else Exhausted("done")


class Endless(Searcher):
    name = "endless"

    def suggest(self, h):
        rng = self.rng(h.next_trial_id)
        return Suggestion({"lr": float(rng.random()), "k": 1})


class Stalls(Searcher):
    name = "stalls"

    def suggest(self, h):
        return Wait("forever")


def test_state_changes_are_caught():
    with pytest.raises(AssertionError, match="changed the searcher's state"):
        conformance(Counting).test_same_history_same_decision_and_no_state_change()


def test_global_randomness_is_caught():
    with pytest.raises(AssertionError):
        conformance(GlobalRandom).test_a_fresh_instance_agrees()


def test_suggestions_outside_the_matrix_are_caught():
    with pytest.raises(AssertionError, match="lr=1.5"):
        conformance(Outside).test_suggestions_lie_inside_the_matrix()


def test_a_budget_that_is_not_kept_is_caught():
    with pytest.raises(AssertionError, match="expected Exhausted"):
        conformance(Endless, budget=4).test_respects_its_budget()


def test_waiting_on_nothing_is_caught():
    with pytest.raises(AssertionError, match="stall"):
        conformance(Stalls).test_an_empty_history_gets_a_suggestion()


def test_a_conforming_searcher_passes_everything(tmp_path):
    check = conformance(Endless, trials=6)
    for name in dir(check):
        if name.startswith("test_") and name != "test_respects_its_budget":
            method = getattr(check, name)
            method(tmp_path) if "tmp_path" in method.__code__.co_varnames else method()


class StopsFinished(Stopper):
    name = "stopsfinished"

    def decide(self, view):
        return [StopDecision("trial", "done anyway", self.name, trial_id=t.trial_id, evidence={"x": 1})
                for t in view.trials if t.status == "succeeded"][:1]


class NoEvidence(Stopper):
    name = "noevidence"

    def decide(self, view):
        return [StopDecision("trial", "why not", self.name, trial_id=t.trial_id)
                for t in view.trials if t.status == "running"][:1]


def test_stopping_a_finished_trial_is_caught():
    check = type("Check", (StopperConformance,), {"stopper": StopsFinished})()
    with pytest.raises(AssertionError, match="stopped 1"):
        check.test_only_running_trials_are_stopped()


def test_a_decision_without_evidence_is_caught():
    check = type("Check", (StopperConformance,), {"stopper": NoEvidence})()
    with pytest.raises(AssertionError, match="reason and evidence"):
        check.test_decisions_carry_a_reason_and_evidence()


class Forgetful(Runner):
    """Reports an exit twice."""

    name = "forgetful"

    def __init__(self, config):
        super().__init__(config)
        self.keys = []

    def start(self, launch):
        self.keys.append(launch.key)
        return {}

    def poll(self):
        return [Exited(t, a, "succeeded") for t, a in self.keys for _ in range(2)]

    def stop(self, trial_id, attempt, reason):
        pass

    def running(self):
        return list(self.keys)


def test_a_runner_that_breaks_the_contract_is_caught(tmp_path):
    check = type("Check", (RunnerConformance,), {"runner": Forgetful})()
    with pytest.raises((AssertionError, ValueError)):
        check.test_reports_in_order_then_one_exit(lambda: Forgetful(Forgetful.Config()), tmp_path)


def test_history_helpers():
    h = history(record(1, {"lr": 0.1, "k": 1}, value=0.3), record(2, {"lr": 0.2, "k": 2}, "running"))
    assert len(h) == 2 and h.next_trial_id == 3 and [t.trial_id for t in h.active()] == [2]
    from hpo.spec import parse_spec

    spec = parse_spec({**SPEC, "search": {"algorithm": "endless"}, "run": {"cmd": "x"}}, algorithms=["endless"])
    assert inside(spec.matrix["lr"], 0.5) and not inside(spec.matrix["lr"], 2.0)
    assert inside(spec.matrix["k"], 2) and not inside(spec.matrix["k"], "2")
    trials, last = simulate(Endless(spec, 0), 5, concurrency=2, fail_every=2)
    assert last is None and [t.status for t in trials] == ["succeeded", "failed"] * 2 + ["succeeded"]


class ExhaustedWhileBusy(Searcher):
    """Says Exhausted while a trial runs, then suggests once it is done (it meant Wait)."""

    name = "busyexhausted"

    def suggest(self, h):
        if len(h) >= 6:
            return Exhausted("done")
        if h.active() and len(h) >= 2:
            return Exhausted("nothing while trials run")
        return Suggestion({"lr": float(self.rng(h.next_trial_id).random()), "k": 1})


class ComesBack(Searcher):
    """Exhausted after 4 trials, but a longer history (a fork's) gets suggestions again."""

    name = "comesback"

    def suggest(self, h):
        if len(h) == 4:
            return Exhausted("ran 4")
        return Suggestion({"lr": float(self.rng(h.next_trial_id).random()), "k": 1})


def test_a_suggestion_after_exhausted_is_caught():
    with pytest.raises(AssertionError, match=r"after Exhausted\(reason='nothing while trials run'\).*Exhausted is forever"):
        conformance(ExhaustedWhileBusy, budget=6).test_respects_its_budget()


def test_exhausted_must_hold_over_longer_histories():
    with pytest.raises(AssertionError, match=r"Exhausted must stay: with 7 trials \(succeeded\)"):
        conformance(ComesBack, budget=4).test_respects_its_budget()


class Slow(Searcher):
    """Takes a minute to suggest its second trial."""

    name = "slow"

    def suggest(self, h):
        if h.trials:
            import time

            time.sleep(60)
        return Suggestion({"lr": 0.5, "k": 1})


def test_the_real_group_has_a_timeout(tmp_path):
    check = conformance(Slow, real_group_timeout=2)
    with pytest.raises(pytest.fail.Exception, match="did not finish in 2 s"):
        check.test_a_real_group_runs_and_replays(tmp_path)


def test_a_name_that_an_installed_plugin_holds_is_a_clear_error(tmp_path):
    """A working copy of a plugin that is also installed: the kit says which is which."""

    class Grid(Searcher):
        name = "grid"

        def suggest(self, h):
            return Suggestion({"lr": 0.5, "k": 1})

    check = conformance(Grid)
    with pytest.raises(PluginError) as err:
        check.test_a_real_group_runs_and_replays(tmp_path)
    message = str(err.value)
    assert "the searcher name 'grid' of " in message and ".Grid is already registered" in message
    assert "already registered by the plugin 'grid' (hpo-groups" in message
    assert "hpo.plugins.search.grid.GridSearcher" in message and "HPO_DISABLE_PLUGINS=grid" in message
    assert "Plugin name already registered" not in message


KIT_TEST = '''
from hpo.search import Exhausted, Searcher, Suggestion
from hpo.testing import SearcherConformance


class Sloppy(Searcher):
    name = "sloppy"
    version = ""

    def suggest(self, h):
        return Suggestion({"lr": 0.5}) if len(h) < 3 else Exhausted("done")


class TestSloppy(SearcherConformance):
    searcher = Sloppy
    spec = {"search": {"algorithm": "sloppy"}, "matrix": {"lr": {"uniform": [0, 1]}}}
    budget = 3
'''


def test_the_kit_failures_explain_themselves_under_pytest(tmp_path):
    """The pytest11 plugin has pytest rewrite hpo.testing's asserts, as a test module's own."""
    import subprocess
    import sys

    (tmp_path / "test_sloppy.py").write_text(KIT_TEST)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "test_sloppy.py", "-k", "declares"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "set `version` to a non-empty string" in proc.stdout
    # rewritten: pytest shows the operands, not a bare AssertionError
    assert "where '' = <class 'test_sloppy.Sloppy'>.version" in proc.stdout, proc.stdout


class NaiveAttempt(LocalAttempt):
    """Alive while ``kill(pid, 0)`` succeeds: a zombie and a reused pid pass for the attempt."""

    def exit_status(self):
        code = read_exit_file(self.exit_file)
        if code is not None:
            return code
        try:
            os.kill(self.record.pid, 0)
            return None
        except ProcessLookupError:
            return "gone"


class NaiveReattach(LocalRunner):
    """A reattach written from the pid alone."""

    name = "naive"

    def reattach(self, launch, handle, offset):
        att = NaiveAttempt(launch, ProcessRecord(handle["pid"]), child=False, grace_period=0.2,
                           offset=offset)
        if att.exit_status() is not None:
            return False
        self.attempts[launch.key] = att
        return True


@pytest.fixture
def naive(tmp_path):
    check = type("Check", (RunnerConformance,), {"runner": NaiveReattach, "wait_limit": 3.0,
                                                 "options": {"grace_period": 0.2}})()
    made = []

    def runners():
        made.append(check.make())
        return made[-1]

    yield check, runners
    for r in made:
        r.close(stop_running=True)


def test_a_reattach_that_takes_a_zombie_for_a_running_attempt_is_caught(naive, tmp_path):
    check, runners = naive
    with pytest.raises(AssertionError, match="timed out waiting"):
        check.test_reattach_does_not_take_a_zombie_for_a_running_attempt(runners, tmp_path)


def test_a_reattach_to_a_process_that_reuses_the_pid_is_caught(naive, tmp_path):
    check, runners = naive
    with pytest.raises(AssertionError, match="only reuses the recorded pid"):
        check.test_reattach_leaves_a_process_that_reuses_the_pid_alone(runners, tmp_path)
