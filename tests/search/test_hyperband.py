"""The hyperband searcher: promotion, failures, concurrency, determinism, options."""

from __future__ import annotations

import math
import numpy as np
import pytest
import yaml

from hpo.errors import SpecError
from hpo.plugins.search.hyperband import HyperbandSearcher, hpo_register_searchers, plan
from hpo.contracts.searcher import Exhausted, SearchHistory, Suggestion, TrialRecord, Wait
from hpo.spec import parse_spec

def make_spec(metric="minimize", matrix=None, **options):
    block = {"max_iter": 27, "eta": 3, "resource": {"name": "num_steps", "type": "int"}}
    block.update(options)
    if metric:
        block["metric"] = {"name": "loss", "optimization": metric}
    if matrix is None:
        matrix = {"lr": {"uniform": [0.0, 1.0]}, "act": {"values": ["relu", "tanh"]}}
    data = {"run": {"cmd": "train"},
            "settings": {"hyperband": block, "matrix": matrix}}
    return parse_spec(yaml.safe_dump(data, sort_keys=False))


def make(seed=0, **kw):
    return HyperbandSearcher(make_spec(**kw), seed=seed)


# -- a tiny engine --------------------------------------------------------------------------------


def loss(params):
    """Lower with more resource and with lr near 0.3: a learning curve in disguise."""
    return (params["lr"] - 0.3) ** 2 + 1.0 / math.sqrt(params["num_steps"])


def simulate(searcher, objective=loss, concurrency=1, fails=lambda p, tid: False, order_seed=None):
    """Run the searcher to exhaustion; returns (trials, [(history, decision), ...])."""
    trials: list[TrialRecord] = []
    calls = []
    rng = np.random.default_rng(order_seed) if order_seed is not None else None
    while True:
        decision = None
        while sum(t.active for t in trials) < concurrency:
            history = SearchHistory(tuple(trials))
            decision = searcher.suggest(history)
            calls.append((history, decision))
            if not isinstance(decision, Suggestion):
                break
            trials.append(TrialRecord(len(trials) + 1, decision.params, "pending", None, decision.meta))
        active = [i for i, t in enumerate(trials) if t.active]
        if not active:
            assert isinstance(decision, Exhausted), f"deadlock: {decision!r} with nothing running"
            return trials, calls
        i = active[0] if rng is None else active[int(rng.integers(len(active)))]
        t = trials[i]
        if fails(t.params, t.trial_id):
            trials[i] = TrialRecord(t.trial_id, t.params, "failed", None, t.meta)
        else:
            trials[i] = TrialRecord(t.trial_id, t.params, "succeeded", objective(t.params), t.meta)


def rung_trials(trials, bracket, rung):
    return [t for t in trials if t.meta["bracket"] == bracket and t.meta["rung"] == rung]


# -- tests ----------------------------------------------------------------------------------------


def test_registers_through_the_hook():
    registered = []
    hpo_register_searchers(register=registered.append)
    assert registered == [HyperbandSearcher]
    assert HyperbandSearcher.name == "hyperband" and HyperbandSearcher.needs_metric


def test_runs_exactly_the_planned_rungs():
    searcher = make()
    trials, _ = simulate(searcher)
    assert len(trials) == searcher.planned_trials() == 27 + 9 + 3 + 1 + 12 + 4 + 1 + 6 + 2 + 4
    for b in plan(27, 3):
        for i, rung in enumerate(b.rungs):
            run = rung_trials(trials, b.s, i)
            assert len(run) == rung.n
            assert all(t.params["num_steps"] == rung.resource == t.meta["resource"] for t in run)


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_promotes_the_planned_number_of_best_trials(direction):
    trials, _ = simulate(make(metric=direction))
    sign = 1 if direction == "maximize" else -1
    by_id = {t.trial_id: t for t in trials}
    for b in plan(27, 3):
        for i in range(1, len(b.rungs)):
            previous = rung_trials(trials, b.s, i - 1)
            best = sorted(previous, key=lambda t: -sign * t.value)[: b.rungs[i].n]
            promoted = rung_trials(trials, b.s, i)
            assert [t.meta["parent"] for t in promoted] == [t.trial_id for t in best]
            for t in promoted:
                parent = by_id[t.meta["parent"]]
                assert t.meta["config"] == parent.meta["config"]
                assert {k: v for k, v in t.params.items() if k != "num_steps"} == {
                    k: v for k, v in parent.params.items() if k != "num_steps"
                }


def test_rung_zero_has_no_parent_and_configs_are_numbered():
    trials, _ = simulate(make())
    first = rung_trials(trials, 3, 0)
    assert [t.meta["config"] for t in first] == list(range(27))
    assert all(t.meta["parent"] is None for t in first)
    assert "resume" not in first[0].meta


def test_failed_trials_are_never_promoted_and_the_shortfall_is_noted():
    # every rung-0 trial of bracket 3 but config 0..1 fails: 2 valid, 9 planned
    def fails(params, tid):
        return tid <= 27 and tid > 2

    trials, _ = simulate(make(), fails=fails)
    promoted = rung_trials(trials, 3, 1)
    assert sorted(t.meta["parent"] for t in promoted) == [1, 2]
    assert all("only 2 of the 27 trials of rung 0" in t.meta["note"] for t in promoted)
    # the next rung still keeps floor(n/eta) of the *planned* size: 3 planned, 2 exist
    assert len(rung_trials(trials, 3, 2)) == 2
    assert len(rung_trials(trials, 3, 3)) == 1


def test_stopped_and_valueless_trials_are_never_promoted():
    searcher = make(max_iter=9, eta=3)  # bracket 2 starts 9 configs at 1, keeps 3
    history = []
    for tid in range(1, 10):
        d = searcher.suggest(SearchHistory(tuple(history)))
        status, value = "succeeded", float(tid)  # lower is better: 1, 2, 3 would win
        if tid == 1:
            status = "stopped"
        if tid == 2:
            value = None
        history.append(TrialRecord(tid, d.params, status, value, d.meta))
    parents = []
    for _ in range(3):
        d = searcher.suggest(SearchHistory(tuple(history)))
        parents.append(d.meta["parent"])
        history.append(TrialRecord(len(history) + 1, d.params, "pending", None, d.meta))
    assert parents == [3, 4, 5]
    assert "note" not in d.meta


def test_a_bracket_with_nothing_to_promote_ends_and_the_search_exhausts():
    trials, calls = simulate(make(), fails=lambda p, tid: tid <= 27)
    assert rung_trials(trials, 3, 1) == []
    assert isinstance(calls[-1][1], Exhausted)
    assert len(rung_trials(trials, 2, 0)) == 12


def test_replay_gives_the_same_decisions_on_every_prefix():
    trials, calls = simulate(make(seed=7), concurrency=3, order_seed=1)
    fresh = make(seed=7)
    for history, decision in calls:
        assert fresh.suggest(history) == decision


def test_seed_changes_samples_and_seed_zero_is_a_seed():
    a = simulate(make(seed=0))[0]
    b = simulate(make(seed=0))[0]
    c = simulate(make(seed=1))[0]
    assert [t.params for t in a] == [t.params for t in b]
    assert [t.params for t in a] != [t.params for t in c]


def test_brackets_draw_fresh_independent_samples():
    trials, _ = simulate(make())
    firsts = [rung_trials(trials, s, 0)[0].params["lr"] for s in (3, 2, 1, 0)]
    assert len(set(firsts)) == 4


def test_concurrency_starts_the_next_bracket_instead_of_waiting():
    searcher = make()
    history = []
    for _ in range(27 + 12 + 6 + 4):  # every rung 0 of every bracket, all still pending
        d = searcher.suggest(SearchHistory(tuple(history)))
        assert isinstance(d, Suggestion) and d.meta["rung"] == 0
        history.append(TrialRecord(len(history) + 1, d.params, "pending", None, d.meta))
    assert [h.meta["bracket"] for h in history[26:28]] == [3, 2]
    assert isinstance(searcher.suggest(SearchHistory(tuple(history))), Wait)
    # finishing bracket 2's rung 0 lets it promote though bracket 3 is still busy
    for i in range(27, 39):
        t = history[i]
        history[i] = TrialRecord(t.trial_id, t.params, "succeeded", float(i), t.meta)
    d = searcher.suggest(SearchHistory(tuple(history)))
    assert (d.meta["bracket"], d.meta["rung"], d.meta["parent"]) == (2, 1, 28)


def test_distinct_suggestions_under_concurrency_four():
    trials, calls = simulate(make(), concurrency=4, order_seed=3)
    assert len(trials) == make().planned_trials()
    rung0 = [t for t in trials if t.meta["rung"] == 0]
    assert len({t.params["lr"] for t in rung0}) == len(rung0)
    # the pending-aware history means a slot never receives a config already handed out
    keys = [(t.meta["bracket"], t.meta["rung"], t.meta["config"]) for t in trials]
    assert len(set(keys)) == len(keys)
    waits = [h for h, d in calls if isinstance(d, Wait)]
    assert all(len(h.active()) > 0 for h in waits)


def test_resume_marks_promoted_trials():
    trials, _ = simulate(make(resume=True))
    promoted = [t for t in trials if t.meta["parent"] is not None]
    assert promoted and all(t.meta["resume"] is True for t in promoted)
    assert all("resume" not in t.meta for t in trials if t.meta["parent"] is None)


def test_float_resource():
    searcher = make(max_iter=9.0, eta=3, resource={"name": "epochs", "type": "float"})
    trials, _ = simulate(searcher, objective=lambda p: p["lr"] / p["epochs"])
    assert {t.params["epochs"] for t in trials} == {1.0, 3.0, 9.0}


@pytest.mark.parametrize(
    "options,path,message",
    [
        ({"eta": 1}, "settings.hyperband.eta", "greater than 1"),
        ({"eta": 0.5}, "settings.hyperband.eta", "greater than 1"),
        ({"max_iter": 0}, "settings.hyperband.max_iter", "greater than 0"),
        ({"max_iter": 10.5}, "settings.hyperband.max_iter", "whole number"),
        ({"resource": {"name": "lr"}}, "settings.hyperband.resource.name", "matrix"),
        ({"resource": {"type": "int"}}, "settings.hyperband.resource.name", "required"),
        ({"resource": {"name": "x", "type": "long"}}, "settings.hyperband.resource.type", ""),
        ({"etaa": 3}, "settings.hyperband.etaa", "unknown option"),
        ({"max_iter": 1000000, "eta": 1.01}, "settings.hyperband.eta", "1389 brackets"),
    ],
)
def test_option_errors_name_the_path(options, path, message):
    with pytest.raises(SpecError) as err:
        make(**options)
    assert err.value.path == path
    assert message in err.value.message


def test_required_options_and_metric():
    spec = make_spec()
    options = {k: v for k, v in spec.search.options.items() if k != "max_iter"}
    with pytest.raises(SpecError) as err:
        HyperbandSearcher(spec.model_copy(update={"search": spec.search.model_copy(update={"options": options})}), 0)
    assert err.value.path == "settings.hyperband.max_iter"
    with pytest.raises(SpecError, match="needs a metric"):
        make(metric=None)


def test_nan_values_are_never_promoted():
    searcher = make(max_iter=9, eta=3)
    history = []
    for tid in range(1, 10):
        d = searcher.suggest(SearchHistory(tuple(history)))
        value = float("nan") if tid <= 7 else float(tid)
        history.append(TrialRecord(tid, d.params, "succeeded", value, d.meta))
    d = searcher.suggest(SearchHistory(tuple(history)))
    assert d.meta["parent"] == 8 and "only 2 of the 9" in d.meta["note"]
