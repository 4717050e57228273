"""The async_halving searcher: rungs, promotion as soon as a rung allows, no idle slot, the
budget, resume, options."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from hpo.contracts.searcher import Exhausted, SearchHistory, Suggestion, TrialRecord, Wait
from hpo.errors import SpecError
from hpo.plugins.search.async_halving import (
    AsyncHalvingSearcher,
    hpo_register_searchers,
    rung_resources,
)
from hpo.plugins.search.async_halving.rungs import expected_sizes, rung_costs
from hpo.plugins.search.hyperband.brackets import default_min_resource
from hpo.spec import parse_spec


def make_spec(metric="minimize", matrix=None, **options):
    block = {"max_iter": 27, "eta": 3, "resource": {"name": "steps", "type": "int"},
             "max_trials": 40, "min_resource": 1}  # every rung, 1 to 27
    block.update(options)
    block = {k: v for k, v in block.items() if v is not None}
    if metric:
        block["metric"] = {"name": "loss", "optimization": metric}
    if matrix is None:
        matrix = {"lr": {"uniform": [0.0, 1.0]}, "act": {"values": ["relu", "tanh"]}}
    data = {"run": {"cmd": "train"}, "settings": {"async_halving": block, "matrix": matrix}}
    return parse_spec(yaml.safe_dump(data, sort_keys=False))


def make(seed=0, **kw):
    return AsyncHalvingSearcher(make_spec(**kw), seed=seed)


def loss(params):
    return (params["lr"] - 0.3) ** 2 + 1.0 / params["steps"]


def finish(t, value, status="succeeded"):
    return TrialRecord(t.trial_id, t.params, status, value, t.meta)


def simulate(searcher, concurrency=1, objective=loss, fails=lambda t: False, order_seed=None):
    """Run to exhaustion like the engine; returns (trials, decisions, idle) where ``idle`` counts
    the times a free slot got Wait."""
    trials: list[TrialRecord] = []
    decisions, idle = [], 0
    rng = np.random.default_rng(order_seed)
    while True:
        while sum(t.active for t in trials) < concurrency:
            decision = searcher.suggest(SearchHistory(tuple(trials)))
            decisions.append(decision)
            if not isinstance(decision, Suggestion):
                idle += isinstance(decision, Wait)
                break
            trials.append(TrialRecord(len(trials) + 1, decision.params, "running", None, decision.meta))
        active = [i for i, t in enumerate(trials) if t.active]
        if not active:
            assert isinstance(decisions[-1], Exhausted)
            return trials, decisions, idle
        i = active[int(rng.integers(len(active)))] if order_seed is not None else active[0]
        t = trials[i]
        trials[i] = finish(t, None, "failed") if fails(t) else finish(t, objective(t.params))


def test_registers_through_the_hook():
    registered = []
    hpo_register_searchers(register=registered.append)
    assert registered == [AsyncHalvingSearcher] and AsyncHalvingSearcher.name == "async_halving"


@pytest.mark.parametrize("args,expected", [
    ((81, 3), [1, 3, 9, 27, 81]),
    ((81, 3, 9), [9, 27, 81]),
    ((81, 3, 10), [27, 81]),  # the bottom rung is the smallest eta-step at or above min_resource
    ((100, 3), [1, 4, 11, 33, 100]),  # rounded, not truncated: 100/27 = 3.7 is 4
    ((16, 2, 2), [2, 4, 8, 16]),
    ((5, 3), [2, 5]),  # 5/3 = 1.67 rounds to 2
])
def test_rungs_end_at_max_iter_a_factor_eta_apart(args, expected):
    assert rung_resources(*args) == expected


@pytest.mark.parametrize("args,low,rungs", [
    ((81, 3), 9, [9, 27, 81]),
    ((96, 3), 10, [11, 32, 96]),  # 96/9 rounds up to 11: the bound is the exact rung rounded down
    ((1000, 4, "float"), 62.5, [62.5, 250.0, 1000.0]),
    ((5.0, 1.2, "float"), pytest.approx(5 / 1.44), pytest.approx([5 / 1.44, 5 / 1.2, 5.0])),
    ((9, 3), None, [1, 3, 9]),  # three rungs or fewer: every rung
    ((1, 3), None, [1]),
])
def test_the_default_bottom_rung_keeps_the_top_three_rungs(args, low, rungs):
    assert default_min_resource(*args) == low
    assert rung_resources(*args[:2], default_min_resource(*args), *args[2:]) == rungs


def test_an_omitted_min_resource_is_resolved_and_an_explicit_null_keeps_every_rung():
    from hpo.engine.composition import with_resolved_options

    spec = make_spec(max_iter=81, min_resource=None)  # the helper drops None: omitted
    assert AsyncHalvingSearcher(spec, 0).plan().brackets[0]["rungs"][0]["resource"] == 9
    assert with_resolved_options(spec).search.options["min_resource"] == 9  # the log records it
    block = {"max_iter": 81, "resource": {"name": "steps"}, "max_trials": 40, "min_resource": None,
             "metric": {"name": "loss", "optimization": "minimize"}}
    explicit = parse_spec({"run": {"cmd": "train"}, "settings": {
        "async_halving": block, "matrix": {"lr": {"uniform": [0.0, 1.0]}}}})
    resources = [r["resource"] for r in AsyncHalvingSearcher(explicit, 0).plan().brackets[0]["rungs"]]
    assert resources == [1, 3, 9, 27, 81]


def test_float_rungs_and_costs():
    assert rung_resources(10.0, 3, None, "float") == pytest.approx([10 / 9, 10 / 3, 10.0])
    assert rung_costs([1, 3, 9], resume=True) == [1, 2, 6]
    assert rung_costs([1, 3, 9], resume=False) == [1, 3, 9]
    # 40 trials over rungs holding n0, n0/3, n0/9, n0/27: n0 = 40 / (1 + 1/3 + 1/9 + 1/27) = 27
    assert expected_sizes([1, 3, 9, 27], 3, False, 40, None) == [27, 9, 3, 1]


def test_promotes_a_trial_as_soon_as_it_is_in_the_top_third_of_its_rung():
    searcher = make()
    trials = []
    for value in (5.0, 4.0):  # two finished trials: floor(2/3) = 0 may move up
        d = searcher.suggest(SearchHistory(tuple(trials)))
        trials.append(finish(TrialRecord(len(trials) + 1, d.params, "running", None, d.meta), value))
    d = searcher.suggest(SearchHistory(tuple(trials)))
    assert d.meta["rung"] == 0 and d.meta["config"] == 2
    trials.append(finish(TrialRecord(3, d.params, "running", None, d.meta), 6.0))
    d = searcher.suggest(SearchHistory(tuple(trials)))  # three finished: the best one moves up
    assert (d.meta["rung"], d.meta["parent"], d.meta["config"], d.params["steps"]) == (1, 2, 1, 3)
    assert d.params["lr"] == trials[1].params["lr"]
    trials.append(TrialRecord(4, d.params, "running", None, d.meta))
    d = searcher.suggest(SearchHistory(tuple(trials)))  # trial 2 is promoted already: new config
    assert d.meta["rung"] == 0 and d.meta["parent"] is None


def test_higher_rungs_promote_first_and_failures_rank_last_but_count():
    searcher = make()
    trials = []
    for _ in range(6):  # six configurations start before any finishes
        d = searcher.suggest(SearchHistory(tuple(trials)))
        trials.append(TrialRecord(len(trials) + 1, d.params, "running", None, d.meta))
    assert [t.meta["config"] for t in trials] == list(range(6))
    # trial 1 fails, trial 2 is stopped, trial 3 reports nothing: all count among the six
    trials = [finish(trials[0], None, "failed"), finish(trials[1], 0.0, "stopped"),
              finish(trials[2], None)] + [finish(t, 10.0 - t.trial_id) for t in trials[3:]]
    parents = []
    for value in (1.0, 2.0):  # floor(6/3) = 2 move up: the valid best are 6, then 5
        d = searcher.suggest(SearchHistory(tuple(trials)))
        parents.append(d.meta["parent"])
        trials.append(finish(TrialRecord(len(trials) + 1, d.params, "running", None, d.meta), value))
    assert parents == [6, 5]
    # rung 1 has 2 finished: nothing moves up from it; rung 0's top 2 are gone: a new config
    d = searcher.suggest(SearchHistory(tuple(trials)))
    assert d.meta["rung"] == 0 and d.meta["config"] == 6
    trials.append(TrialRecord(9, d.params, "running", None, d.meta))
    # a third finished trial in rung 1 lets its best (trial 7, 1.0) move up to rung 2
    trials.append(finish(TrialRecord(10, trials[3].params, "running", None,
                                     {**trials[7].meta, "parent": 4, "config": 3}), 3.0))
    d = searcher.suggest(SearchHistory(tuple(trials)))
    assert (d.meta["rung"], d.meta["parent"], d.params["steps"]) == (2, 7, 9)


def test_never_idles_a_slot_and_respects_max_trials():
    for concurrency in (1, 4):
        trials, decisions, idle = simulate(make(max_trials=60), concurrency, order_seed=2)
        assert len(trials) == 60 and idle == 0
        assert isinstance(decisions[-1], Exhausted) and "60 trials" in decisions[-1].reason
        rungs = [t.meta["rung"] for t in trials]
        assert max(rungs) == 3 and [t.params["steps"] for t in trials if t.meta["rung"] == 3][0] == 27


def test_max_resource_is_never_exceeded_and_continued_trials_pay_the_extra():
    for resume, budget in ((True, 100), (False, 100), (True, 61.5)):
        searcher = make(max_trials=None, max_resource=budget, resume=resume)
        trials, decisions, _ = simulate(searcher, concurrency=3, order_seed=1)
        costs = rung_costs([1, 3, 9, 27], resume)
        spent = sum(costs[t.meta["rung"]] for t in trials)
        assert spent <= budget and budget - spent < 1  # a rung-0 trial (cost 1) no longer fits
        assert isinstance(decisions[-1], Exhausted)


def test_a_tight_budget_waits_for_a_promotion_that_fits():
    # eta 1.5 with resume: rungs 1, 1.5, 2.25 cost 1, 0.5, 0.75, so a promotion can be cheaper
    searcher = make(max_trials=None, max_resource=3.6, resume=True, max_iter=2.25, eta=1.5,
                    resource={"name": "steps", "type": "float"})
    trials = []
    for _ in range(3):
        d = searcher.suggest(SearchHistory(tuple(trials)))
        trials.append(TrialRecord(len(trials) + 1, d.params, "running", None, d.meta))
    wait = searcher.suggest(SearchHistory(tuple(trials)))  # 0.6 left: no new config fits
    assert isinstance(wait, Wait) and "0.6" in wait.reason
    trials = [finish(t, float(t.trial_id)) for t in trials]
    d = searcher.suggest(SearchHistory(tuple(trials)))
    assert (d.meta["rung"], d.meta["parent"], d.params["steps"]) == (1, 1, 1.5)
    trials.append(TrialRecord(4, d.params, "running", None, d.meta))
    assert isinstance(searcher.suggest(SearchHistory(tuple(trials))), Exhausted)  # 0.1 left


def test_without_running_trials_a_budget_that_fits_nothing_is_exhausted():
    searcher = make(max_trials=None, max_resource=3.6, resume=True, max_iter=2.25, eta=1.5,
                    resource={"name": "steps", "type": "float"})
    trials = []
    for _ in range(3):
        d = searcher.suggest(SearchHistory(tuple(trials)))
        trials.append(TrialRecord(len(trials) + 1, d.params, "failed", None, d.meta))
    assert isinstance(searcher.suggest(SearchHistory(tuple(trials))), Exhausted)


def test_failed_trials_are_never_promoted():
    trials, _, _ = simulate(make(), fails=lambda t: t.trial_id % 2 == 1)
    by_id = {t.trial_id: t for t in trials}
    parents = [by_id[t.meta["parent"]] for t in trials if t.meta["parent"] is not None]
    assert parents and all(p.status == "succeeded" for p in parents)


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_the_best_configuration_climbs_to_the_top_rung(direction):
    trials, _, _ = simulate(make(metric=direction, max_trials=80),
                            objective=lambda p: (1 if direction == "minimize" else -1) * loss(p))
    top = [t for t in trials if t.meta["rung"] == 3]
    rung0 = [t for t in trials if t.meta["rung"] == 0]
    assert top and abs(top[0].params["lr"] - 0.3) < np.median([abs(t.params["lr"] - 0.3) for t in rung0])


def test_resume_marks_promoted_trials_and_continues_their_parent():
    searcher = make(resume=True)
    trials, _, _ = simulate(searcher)
    promoted = [t for t in trials if t.meta["parent"] is not None]
    assert promoted and all(t.meta["resume"] is True for t in promoted)
    assert all(searcher.continues(t.meta) == t.meta["parent"] for t in promoted)
    assert all("resume" not in t.meta and searcher.continues(t.meta) is None
               for t in trials if t.meta["parent"] is None)
    assert make().continues(promoted[0].meta | {"resume": False}) is None


def test_plan_names_the_rungs_and_the_budget():
    plan = make(max_iter=81, max_trials=None, max_resource=1000, resume=True).plan()
    assert plan.resource == "steps" and len(plan.brackets) == 1
    assert [r["resource"] for r in plan.brackets[0]["rungs"]] == [1, 3, 9, 27, 81]
    sizes = [r["n"] for r in plan.brackets[0]["rungs"]]
    assert all(a >= b for a, b in zip(sizes, sizes[1:])) and plan.planned == sum(sizes)
    assert "max_resource=1000" in plan.note and "estimated" in plan.note
    # n0 (1 + 2/3 + 6/9 + 18/27 + 54/81) = 1000 -> n0 = 272.7
    assert sizes[0] == 272


@pytest.mark.parametrize(
    "options,path,message",
    [
        ({"max_trials": None}, "settings.async_halving", "needs a budget"),
        ({"max_trials": 0}, "settings.async_halving.max_trials", "greater than or equal to 1"),
        ({"max_resource": -1}, "settings.async_halving.max_resource", "greater than 0"),
        ({"max_trials": None, "max_resource": 0.5}, "settings.async_halving.max_resource",
         "less than one trial"),
        ({"eta": 1}, "settings.async_halving.eta", "greater than 1"),
        ({"max_iter": 10.5}, "settings.async_halving.max_iter", "whole number"),
        ({"min_resource": 50}, "settings.async_halving.min_resource", "at most max_iter"),
        ({"resource": {"name": "lr"}}, "settings.async_halving.resource.name", "matrix"),
        ({"max_iter": 1, "eta": 3, "resource": {"name": "s", "type": "float"},
          "min_resource": 1e-40}, "settings.async_halving.min_resource", "rungs"),
        ({"rungs": 3}, "settings.async_halving.rungs", "unknown option"),
    ],
)
def test_option_errors_name_the_path(options, path, message):
    with pytest.raises(SpecError) as err:
        make(**options)
    assert err.value.path == path
    assert message in err.value.message


def test_needs_a_metric():
    with pytest.raises(SpecError, match="needs a metric"):
        make(metric=None)


def test_seed_changes_the_configurations():
    a, b, c = (simulate(make(seed=s))[0] for s in (0, 0, 1))
    assert [t.params for t in a] == [t.params for t in b] != [t.params for t in c]
    assert not any(math.isnan(t.params["lr"]) for t in a)
