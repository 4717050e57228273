"""The multi-fidelity benchmark's simulated driver keeps its own rules: the budget is never
exceeded, a continued trial pays only its extra epochs, slot utilisation is busy over available
slot-time, and the curve problem reports what a fresh trial would after a resume."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))

import mf_curves  # noqa: E402
import multi_fidelity  # noqa: E402
from mf_driver import AshaJudge, run_searcher, run_stopped  # noqa: E402

from hpo.contracts.stopper import StopView, TrialCurves  # noqa: E402

GOOD = {"learning_rate_init": 2e-3, "alpha": 1e-6, "batch_size": 64, "hidden": 128}


def test_curves_fall_with_epochs_and_are_a_function_of_config_and_epoch():
    losses = [mf_curves.loss(GOOD, e, 0) for e in (1, 3, 9, 27, 81)]
    assert losses == sorted(losses, reverse=True) and losses[-1] < 0.15
    assert mf_curves.loss(GOOD, 27, 0) == mf_curves.loss(dict(GOOD), 27, 0)  # resume = fresh
    assert mf_curves.loss(GOOD, 27, 0) != mf_curves.loss(GOOD, 27, 1)
    assert math.isinf(mf_curves.loss({**GOOD, "learning_rate_init": 0.9}, 1, 0))


@pytest.mark.parametrize("name", ["async_halving", "bohb", "hyperband"])
def test_our_searchers_stay_within_the_budget_and_report_utilisation(name):
    budget = 10 * multi_fidelity.MAX_ITER
    outcome = multi_fidelity.contenders(budget)[name](3, budget, 4)
    assert 0 < outcome.busy <= budget and 0 < outcome.utilisation <= 1
    assert outcome.full >= 1 and 0.1 <= outcome.final < 0.5


def test_a_continued_trial_pays_only_its_extra_epochs():
    from drivers import make_spec, searcher_for

    block = {"max_iter": 9, "eta": 3, "resource": multi_fidelity.RESOURCE, "max_trials": 4}
    matrix = {k: {"values": [v]} for k, v in GOOD.items()}

    def make(resume):
        return lambda restart: searcher_for(
            make_spec("async_halving", {**block, "resume": resume}, matrix, 0), 0)
    # budgets below a fifth trial (a restart's first): three configs at 1 epoch, then the best
    # promoted to 3 epochs, 1 + 1 + 1 + (3 - 1) with resume, + 3 without
    with_resume = run_searcher(make(True), 0, 5.5, 1, 9)
    without = run_searcher(make(False), 0, 6.5, 1, 9)
    assert (with_resume.busy, without.busy) == (5, 6) and with_resume.trials == 4
    assert with_resume.utilisation == without.utilisation == 1.0  # one slot is never idle


def test_stopped_trials_free_their_slot_and_the_budget_cuts_the_rest():
    budget = 300
    seen = []

    def next_config(i):
        config = {**GOOD, "learning_rate_init": 10 ** (-4 + (i % 7) * 0.4)}
        seen.append(config)
        return config, config
    outcome = run_stopped(next_config, AshaJudge(81, 3), 0, budget, 4, 81)
    assert outcome.busy == budget and outcome.utilisation == pytest.approx(1.0)
    assert outcome.trials > budget / 81 + 4  # asha stopped most trials early


class WholeGroupAsha(AshaJudge):
    """The engine's call: ``decide`` with every trial's whole curve after every report."""

    def report(self, trial, epoch, value, now):
        self.curves[trial].append((epoch, value))
        view = StopView(tuple(TrialCurves(t, self.status[t], {}, {"loss": tuple(c)})
                              for t, c in self.curves.items() if c), self.metric, 0.0, now)
        stopped = {d.trial_id for d in self.stopper.decide(view) if d.scope == "trial"}
        for t in stopped:
            self.status[t] = "stopped"
        return stopped

    def end(self, trial, status, value):
        if self.status[trial] == "running":
            self.status[trial] = status


@pytest.mark.parametrize("seed", [0, 1])
def test_the_cheap_asha_judge_stops_what_the_whole_group_call_stops(seed):
    space = multi_fidelity.make_spec("random_search", {"n_experiments": 1}, mf_curves.MATRIX,
                                     seed).matrix

    def run(judge):
        stops = []
        report = judge.report

        def logged(trial, epoch, value, now):
            stopped = report(trial, epoch, value, now)
            stops.append((trial, epoch, sorted(stopped)))
            return stopped
        judge.report = logged

        def next_config(i):
            rng = np.random.default_rng([seed, i + 1])
            config = {n: p.sample(rng) for n, p in space.items()}
            return config, config
        outcome = run_stopped(next_config, judge, seed, 6 * 81, 4, 81)
        return outcome, [s for s in stops if s[2]]
    cheap, whole = run(AshaJudge(81, 3)), run(WholeGroupAsha(81, 3))
    assert cheap == whole
    assert len(whole[1]) > 20 and any(t not in s for t, _, s in whole[1])  # others were stopped


@pytest.mark.parametrize("name", ["optuna-random+hb", "optuna-tpe+hb"])
def test_an_optuna_contender_gives_the_same_result_for_the_same_seed(name):
    budget = 4 * multi_fidelity.MAX_ITER
    run = multi_fidelity.contenders(budget)[name]
    first, again = run(5, budget, 4), run(5, budget, 4)
    assert first == again and first.trials > 4


def test_the_command_runs_a_subset_with_options_and_reprints_a_saved_table(tmp_path, capsys):
    out = tmp_path / "mf.json"
    args = ["--seeds", "2", "--budget", "6", "--only", "async_halving,hyperband",
            "--set", "async_halving.min_resource=27", "--out", str(out)]
    assert multi_fidelity.main(args) == 0
    printed = capsys.readouterr().out
    assert "async_halving.min_resource=27" in printed and "Target" not in printed  # a subset
    saved = json.loads(out.read_text())
    assert sorted(saved["results"]) == ["async_halving", "hyperband"]
    # with min_resource 27 the searcher charges every new configuration 27 epochs
    assert all(r["trials"] <= 6 * 81 / 27 for r in saved["results"]["async_halving"])
    assert multi_fidelity.main(["--table", str(out)]) == 0
    assert capsys.readouterr().out == printed
    with pytest.raises(SystemExit):
        multi_fidelity.main(["--set", "hyperband.eta=2"])  # only ours take options
    assert "expected NAME.OPTION=VALUE" in capsys.readouterr().err
