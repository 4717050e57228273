"""The bohb searcher: hyperband's brackets (repeated ``iterations`` times), new configurations
from the density model fitted at the largest budget with enough observations, options."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from scipy.stats import norm

from hpo.contracts.searcher import SearchHistory, Suggestion, TrialRecord
from hpo.errors import SpecError
from hpo.plugins.search.bo.space import Encoder
from hpo.plugins.search.bohb import BOHBSearcher, hpo_register_searchers
from hpo.plugins.search.bohb.kde import Axes, Density, propose
from hpo.plugins.search.hyperband import HyperbandSearcher, plan
from hpo.spec import parse_spec
from hpo.testing.histories import simulate

MATRIX = {"lr": {"uniform": [0.0, 1.0]}, "act": {"values": ["relu", "tanh", "gelu"]},
          "units": {"values": [16, 32, 64]}}


def make_spec(key="bohb", metric="minimize", matrix=None, **options):
    block = {"max_iter": 27, "eta": 3, "resource": {"name": "steps", "type": "int"}}
    block.update(options)
    if metric:
        block["metric"] = {"name": "loss", "optimization": metric}
    data = {"run": {"cmd": "train"}, "settings": {key: block, "matrix": matrix or MATRIX}}
    return parse_spec(yaml.safe_dump(data, sort_keys=False))


def make(seed=0, **kw):
    return BOHBSearcher(make_spec(**kw), seed=seed)


def regret(p):
    return (p["lr"] - 0.3) ** 2 + (0.0 if p["act"] == "tanh" else 0.2)


def loss(p):
    return regret(p) + 0.01 / p["steps"]


def test_registers_through_the_hook():
    registered = []
    hpo_register_searchers(register=registered.append)
    assert registered == [BOHBSearcher] and BOHBSearcher.name == "bohb"


def test_iterations_repeat_hyperbands_brackets_with_ids_falling_in_run_order():
    searcher = make(iterations=3, min_resource=1)  # every bracket of hyperband's
    one = plan(27, 3)
    assert [b.s for b in searcher.brackets] == list(range(11, -1, -1))
    assert [b.rungs for b in searcher.brackets] == [b.rungs for b in one] * 3
    assert searcher.planned_trials() == 3 * sum(b.trials for b in one)
    p = searcher.plan()
    assert [b["bracket"] for b in p.brackets] == list(range(11, -1, -1))
    assert p.note == "max_iter=27, eta=3, iterations=3" and p.resource == "steps"
    trials, _ = simulate(searcher, 1000, concurrency=2, objective=loss)
    assert len(trials) == searcher.planned_trials()
    firsts = [t for t in trials if t.meta["rung"] == 0 and t.meta["config"] == 0]
    assert [(t.meta["iteration"], t.meta["s"]) for t in firsts] == [
        (i, s) for i in range(3) for s in (3, 2, 1, 0)]


def test_an_omitted_min_resource_keeps_the_brackets_of_the_top_three_rungs_and_is_recorded():
    from hpo.engine.composition import with_resolved_options

    spec = make_spec(iterations=2)
    searcher = BOHBSearcher(spec, 0)
    assert searcher.config.min_resource == 3
    assert with_resolved_options(spec).search.options["min_resource"] == 3
    assert [[r.resource for r in b.rungs] for b in searcher.brackets] == [
        [3, 9, 27], [9, 27], [27]] * 2
    assert [b.rungs for b in searcher.brackets] == [b.rungs for b in plan(27, 3, "int", 3)] * 2
    assert len(make(min_resource=None).brackets) == len(plan(27, 3)) == 4


@pytest.mark.parametrize("value,message", [(50, "at most max_iter"), (0, "greater than 0")])
def test_a_bad_min_resource_names_the_field(value, message):
    with pytest.raises(SpecError) as err:
        make(min_resource=value)
    assert err.value.path == "settings.bohb.min_resource" and message in err.value.message


def test_with_every_configuration_random_it_is_hyperband():
    hb, _ = simulate(HyperbandSearcher(make_spec("hyperband"), 5), 1000, objective=loss)
    bohb, _ = simulate(make(seed=5, random_fraction=1.0, min_resource=None), 1000, objective=loss)
    assert [t.params for t in bohb] == [t.params for t in hb]
    extra = {"s", "iteration", "model"}
    assert [{k: v for k, v in t.meta.items() if k not in extra} for t in bohb] == [t.meta for t in hb]
    assert all(t.meta["model"] is None for t in bohb if t.meta["rung"] == 0)


def history_at(searcher, budgets):
    """Finished trials at the given resources (as if some bracket ran them), values from loss."""
    rng = np.random.default_rng(0)
    trials = []
    for resource, count in budgets.items():
        for _ in range(count):
            params = {n: p.sample(rng) for n, p in searcher.space.items()}
            params["steps"] = resource
            meta = {"bracket": 9, "rung": 0, "resource": resource, "config": len(trials)}
            trials.append(TrialRecord(len(trials) + 1, params, "succeeded", loss(params), meta))
    return trials


def test_the_model_uses_the_largest_budget_with_enough_observations():
    searcher = make(random_fraction=0.0)  # 3 params: the model needs 3 + 1 + 2 = 6 observations
    assert searcher.min_points == 4
    assert searcher.suggest(SearchHistory()).meta["model"] is None
    trials = history_at(searcher, {1: 10, 3: 6, 9: 5})
    d = searcher.suggest(SearchHistory(tuple(trials)))
    assert d.meta["model"] == 3 and d.meta["rung"] == 0 and d.meta["parent"] is None
    trials += history_at(searcher, {9: 1})
    assert searcher.suggest(SearchHistory(tuple(trials))).meta["model"] == 9
    # stopped and valueless trials are not observations; failed ones are (the worst)
    cut = [TrialRecord(t.trial_id, t.params, "stopped" if t.meta["resource"] == 9 else t.status,
                       t.value, t.meta) for t in trials]
    assert searcher.suggest(SearchHistory(tuple(cut))).meta["model"] == 3
    failed = [TrialRecord(t.trial_id, t.params, "failed" if t.meta["resource"] == 9 else t.status,
                          None if t.meta["resource"] == 9 else t.value, t.meta) for t in trials]
    assert searcher.suggest(SearchHistory(tuple(failed))).meta["model"] == 9


def test_the_good_density_gets_min_points_and_the_bad_one_what_is_left():
    """docs/search/bohb.md: l(x) gets at least min_points_in_model observations; g(x) the next
    ones, which at the smallest modelled budget (min_points + 2 observations) are only 2."""
    searcher = make(random_fraction=0.0)
    trials = history_at(searcher, {1: searcher.min_points + 2})
    good, bad = searcher._densities(SearchHistory(tuple(trials)), 1)
    assert len(good.data) == searcher.min_points and len(bad.data) == 2
    trials = history_at(searcher, {1: 40})  # 15 % of 40 is 6, 85 % is 34
    good, bad = searcher._densities(SearchHistory(tuple(trials)), 1)
    assert (len(good.data), len(bad.data)) == (6, 34)


def test_model_drawn_configurations_beat_random_ones():
    searcher = make(random_fraction=0.0)
    trials = history_at(searcher, {1: 30})
    history = SearchHistory(tuple(trials))
    drawn = []
    for config in range(30):  # configurations the first bracket would start next
        params, meta = searcher._fresh(3, config, history)
        assert meta["model"] == 1
        drawn.append(params)
    random = [t.params for t in trials]
    assert np.median([regret(p) for p in drawn]) < 0.5 * np.median([regret(p) for p in random])
    assert sum(p["act"] == "tanh" for p in drawn) >= 20  # the good choice, from 1/3 at random
    assert len({p["lr"] for p in drawn}) == 30  # draws, not copies of the best


def test_densities_are_product_kernels_and_samples_stay_in_the_box():
    axes = Axes(Encoder(make_spec().matrix))
    assert list(axes.choices) == [0, 3, 0]  # lr and units (numeric values) numeric, act a choice
    # a Gaussian kernel per numeric centre (as the paper's estimator evaluates it), an
    # Aitchison-Aitken kernel per categorical one: keep the choice with 1 - bw, else share bw
    density = Density(np.array([[0.2, 0.0], [0.6, 2.0]]), np.array([0.1, 0.3]), np.array([0, 3]))
    x = np.array([[0.3, 0.0]])
    expected = 0.5 * (norm.pdf(0.3, 0.2, 0.1) * 0.7 + norm.pdf(0.3, 0.6, 0.1) * 0.15)
    assert np.exp(density.log_pdf(x))[0] == pytest.approx(expected)
    rng = np.random.default_rng(1)
    fitted = Density.fit(np.column_stack([rng.random(8), rng.integers(3, size=8)]),
                         np.array([0, 3]), 1e-3)
    assert 0 < fitted.bw[1] <= 2 / 3 and fitted.bw[0] > 1e-3  # Scott's rule, capped for choices
    grid = np.linspace(-1, 2, 6001)
    total = sum(np.trapezoid(np.exp(fitted.log_pdf(
        np.column_stack([grid, np.full_like(grid, a)]))), grid) for a in range(3))
    assert total == pytest.approx(1.0, abs=1e-3)
    density = fitted
    S = density.sample(rng, 500, widen=3.0)
    assert (S[:, 0] >= 0).all() and (S[:, 0] <= 1).all()
    assert set(np.unique(S[:, 1])) == {0.0, 1.0, 2.0}
    good = np.column_stack([rng.random(8), rng.integers(3, size=8), rng.random(8)])
    bad = np.column_stack([rng.random(8), rng.integers(3, size=8), rng.random(8)])
    best = propose(Density.fit(good, axes.choices, 1e-3), Density.fit(bad, axes.choices, 1e-3),
                   rng, 16, 3.0)
    params = axes.params(best)
    assert set(params) == {"lr", "act", "units"} and params["units"] in (16, 32, 64)


@pytest.mark.parametrize(
    "options,matrix,path,message",
    [
        ({"random_fraction": 1.5}, None, "settings.bohb.random_fraction", "less than or equal to 1"),
        ({"top_n_percent": 0}, None, "settings.bohb.top_n_percent", "greater than 0"),
        ({"iterations": 0}, None, "settings.bohb.iterations", "greater than or equal to 1"),
        ({"num_samples": 0}, None, "settings.bohb.num_samples", "greater than or equal to 1"),
        ({"eta": 1}, None, "settings.bohb.eta", "greater than 1"),
        ({"resource": {"name": "lr"}}, None, "settings.bohb.resource.name", "matrix"),
        ({"kde": "tpe"}, None, "settings.bohb.kde", "unknown option"),
        ({}, {"x": {"normal": [0, 1]}}, "settings.matrix.x.normal", "unbounded"),
    ],
)
def test_option_errors_name_the_path(options, matrix, path, message):
    with pytest.raises(SpecError) as err:
        make(matrix=matrix, **options)
    assert err.value.path == path
    assert message in err.value.message


def test_needs_a_metric_and_keeps_resume():
    with pytest.raises(SpecError, match="needs a metric"):
        make(metric=None)
    trials, _ = simulate(make(resume=True), 1000, objective=loss)
    promoted = [t for t in trials if t.meta["parent"] is not None]
    assert promoted and all(t.meta["resume"] is True for t in promoted)
    assert all(make(resume=True).continues(t.meta) == t.meta["parent"] for t in promoted)


def test_a_suggestion_is_a_pure_function_of_the_history():
    searcher = make(random_fraction=0.0)
    history = SearchHistory(tuple(history_at(searcher, {1: 12})))
    first = searcher.suggest(history)
    assert isinstance(first, Suggestion) and first.meta["model"] == 1
    assert make(random_fraction=0.0).suggest(history) == first == searcher.suggest(history)
