"""The 14 matrix kinds: the three argument forms, expansions, domains, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpo.errors import SpecError
from hpo.spec.matrix import KINDS, param_from_json, parse_matrix, parse_param
from hpo.spec.params import Categorical, Numeric


def param(kind, raw):
    return parse_param("p", {kind: raw}, "settings.matrix.p")


ALL_FORMS = [
    ("range", [1, 10, 2], "1:10:2", {"start": 1, "stop": 10, "step": 2}),
    ("linspace", [1, 10, 5], "1:10:5", {"start": 1, "stop": 10, "num": 5}),
    ("logspace", [0, 2, 3], "0:2:3", {"start": 0, "stop": 2, "num": 3}),
    ("logspace", [0, 3, 4, 2], "0:3:4:2", {"start": 0, "stop": 3, "num": 4, "base": 2}),
    ("geomspace", [1, 1000, 4], "1:1000:4", {"start": 1, "stop": 1000, "num": 4}),
    ("uniform", [0, 1], "0:1", {"low": 0, "high": 1}),
    ("quniform", [0, 1, 0.25], "0:1:0.25", {"low": 0, "high": 1, "q": 0.25}),
    ("loguniform", [-3, 0], "-3:0", {"low": -3, "high": 0}),
    ("qloguniform", [0, 2, 0.5], "0:2:0.5", {"low": 0, "high": 2, "q": 0.5}),
    ("normal", [0, 1], "0:1", {"loc": 0, "scale": 1}),
    ("qnormal", [0, 1, 0.5], "0:1:0.5", {"loc": 0, "scale": 1, "q": 0.5}),
    ("lognormal", [0, 1], "0:1", {"loc": 0, "scale": 1}),
    ("qlognormal", [0, 1, 0.5], "0:1:0.5", {"loc": 0, "scale": 1, "q": 0.5}),
]


def test_there_are_14_kinds():
    assert len(KINDS) == 14
    assert sum(cls.discrete for cls in KINDS.values()) == 5


@pytest.mark.parametrize("kind, as_list, as_str, as_map", ALL_FORMS)
def test_three_forms_are_the_same_param(kind, as_list, as_str, as_map):
    a, b, c = param(kind, as_list), param(kind, as_str), param(kind, as_map)
    assert a.args == b.args == c.args == as_map
    assert a == b == c
    assert param_from_json("p", a.to_json()) == a


def test_expansions_match_numpy():
    assert param("range", "1:10:2").values() == [1, 3, 5, 7, 9]
    assert param("range", [0, 1, 0.25]).values() == [0.0, 0.25, 0.5, 0.75]
    assert param("range", [5, 1, -2]).values() == [5, 3]
    assert param("range", [0, 3]).values() == [0, 1, 2]
    assert param("linspace", "1:10:5").values() == np.linspace(1, 10, 5).tolist()
    assert param("logspace", "0:2:3").values() == [1.0, 10.0, 100.0]
    assert param("logspace", "0:3:4:2").values() == [1.0, 2.0, 4.0, 8.0]
    assert param("geomspace", "1:1000:4").values() == np.geomspace(1, 1000, 4).tolist()


def test_expanded_values_are_python_scalars():
    for kind, raw in [("range", "1:10:2"), ("linspace", "1:2:3"), ("logspace", "0:1:2")]:
        values = param(kind, raw).values()
        assert all(type(v) in (int, float) for v in values)
    assert all(type(v) is int for v in param("range", "1:10:2").values())


def test_values_domains():
    assert param("values", ["a", "b"]).domain() == Categorical(("a", "b"))
    assert param("values", [1, "a"]).domain() == Categorical((1, "a"))
    assert param("values", [True, False]).domain() == Categorical((True, False))
    dom = param("values", [3, 1, 2]).domain()
    assert dom == Numeric(low=1, high=3, integer=True, grid=(1, 2, 3))
    assert param("values", [0.5, 1]).domain().integer is False


def test_log_domains():
    assert param("logspace", "0:2:3").domain().log is True
    dom = param("loguniform", [-2, 1]).domain()
    assert dom.log and dom.low == pytest.approx(math.exp(-2)) and dom.high == pytest.approx(math.e)
    dom = param("loguniform", {"low": -2, "high": 1, "base": 10}).domain()
    assert (dom.low, dom.high) == pytest.approx((0.01, 10))


def test_normal_family_is_unbounded():
    dom = param("normal", [1, 2]).domain()
    assert dom.bounded is False and dom.low == -5 and dom.high == 7
    assert param("lognormal", [0, 1]).domain().log is True
    assert param("qnormal", [0, 1, 1]).domain().integer is True
    assert param("normal", [0, 1]).cardinality() is None


def test_quantised_cardinality_and_samples():
    p = param("quniform", [0, 1, 0.1])
    assert p.cardinality() == 11
    rng = np.random.default_rng(0)
    samples = {p.sample(rng) for _ in range(2000)}
    assert samples == {round(0.1 * k, 1) for k in range(11)}
    q = param("qloguniform", [0, 0.8, 0.1])  # exp(0)=1 .. exp(0.8)=2.2255
    assert q.cardinality() == 13
    assert q.domain().low == 1.0 and q.domain().high == 2.2


def test_integer_q_gives_ints():
    p = param("quniform", [0.5, 10.5, 1])
    rng = np.random.default_rng(1)
    samples = [p.sample(rng) for _ in range(200)]
    assert all(type(s) is int and 1 <= s <= 10 for s in samples)
    assert p.cardinality() == 10 and p.domain().integer


def test_pvalues_forms():
    seed_form = param("pvalues", ["(relu", "0.2)", "(sigmoid", "0.8)"])
    nested = param("pvalues", [["relu", 0.2], ["sigmoid", 0.8]])
    mapping = param("pvalues", {"relu": 0.2, "sigmoid": 0.8})
    assert seed_form == nested == mapping
    assert seed_form.cardinality() == 2
    numbers = param("pvalues", ["(1", "0.5)", "(2", "0.5)"])
    assert numbers.domain().choices == (1, 2)


def test_pvalues_sampling_follows_weights():
    p = param("pvalues", [["a", 0.9], ["b", 0.1]])
    rng = np.random.default_rng(0)
    draws = [p.sample(rng) for _ in range(5000)]
    assert 0.87 < draws.count("a") / 5000 < 0.93


def test_discrete_sampling_is_uniform_over_values():
    p = param("values", ["x", "y"])
    rng = np.random.default_rng(0)
    assert {p.sample(rng) for _ in range(50)} == {"x", "y"}


def test_distributions_have_no_values():
    with pytest.raises(SpecError, match="distribution"):
        param("uniform", [0, 1]).values()


def test_to_json_carries_values_for_discrete_kinds():
    data = param("logspace", "0:2:3").to_json()
    assert data["kind"] == "logspace" and data["values"] == [1.0, 10.0, 100.0]
    assert data["args"] == {"start": 0, "stop": 2, "num": 3}
    assert "values" not in param("uniform", [0, 1]).to_json()


@pytest.mark.parametrize(
    "kind, raw, path, fragment",
    [
        (
            "linspace",
            "0.1:1",
            "linspace",
            "expected [start, stop, num] or 'start:stop:num' with num a positive integer, got '0.1:1'",
        ),
        ("linspace", [0, 1, 2.5], "linspace", "num=2.5"),
        ("logspace", [1, 2, 0], "logspace", "num=0"),
        ("logspace", [0, 400, 3], "logspace", "overflows"),
        ("range", [1, 1, 1], "range", "produces no value"),
        ("range", [1, 10, 0], "range", "step must not be 0"),
        ("range", [0, 1e9, 1e-3], "range", "more than"),
        ("range", "a:b", "range", "got 'a:b'"),
        ("range", {"start": 1, "end": 2}, "range", "unknown argument 'end'"),
        ("range", {"start": 1}, "range", "missing argument 'stop'"),
        ("range", [True, 3], "range", "not a finite number"),
        ("geomspace", [0, 10, 3], "geomspace", "start must not be 0"),
        ("geomspace", [-1, 10, 3], "geomspace", "same sign"),
        ("linspace", [1, 1, 3], "linspace", "duplicate values"),
        ("values", [], "values", "non-empty list"),
        ("values", "abc", "values", "expected a list"),
        ("values", [1, [2]], "values", "item 1"),
        ("values", [1, 1], "values", "duplicate"),
        ("uniform", [1, 0], "uniform", "low must be < high"),
        ("uniform", [0, float("inf")], "uniform", "finite"),
        ("quniform", [0.1, 0.2, 1], "quniform", "no multiple of q=1"),
        ("quniform", [0, 1, -0.1], "quniform", "q must be > 0"),
        ("loguniform", [0, 1, 1], "loguniform", "base must not be 1"),
        ("normal", [0, 0], "normal", "scale must be > 0"),
        ("qnormal", [0, 1], "qnormal", "expected [loc, scale, q]"),
        ("pvalues", [["a", 0.1], ["b", 0.8]], "pvalues", "sum to 0.9"),
        ("pvalues", [["a", 0], ["b", 1]], "pvalues", "(0, 1]"),
        ("pvalues", [["a", 0.5], ["a", 0.5]], "pvalues", "appears twice"),
        (
            "pvalues",
            ["(MeanSquaredError", 0, "2)", "(AbsoluteDifference", "0.8)"],
            "pvalues",
            "decimal comma",
        ),
        ("pvalues", ["(a", "0.5)", "(b"], "pvalues", "unclosed"),
        ("pvalues", ["a", 0.5], "pvalues", "expected [[value, prob]"),
    ],
)
def test_kind_errors_name_path_and_form(kind, raw, path, fragment):
    with pytest.raises(SpecError) as info:
        param(kind, raw)
    assert info.value.path == f"settings.matrix.p.{path}"
    assert fragment in info.value.message


def test_unknown_kind_lists_kinds_and_suggests():
    with pytest.raises(SpecError) as info:
        parse_param("lr", {"logspce": [1, 2, 3]}, "matrix.lr")
    assert info.value.path == "matrix.lr.logspce"
    assert "did you mean 'logspace'" in info.value.message
    assert all(k in info.value.message for k in KINDS)


def test_two_kinds_for_one_param():
    with pytest.raises(SpecError, match="two kinds, 'values' and 'range'") as info:
        parse_param("lr", {"values": [1], "range": [1, 3]}, "matrix.lr")
    assert info.value.path == "matrix.lr"


def test_matrix_errors():
    with pytest.raises(SpecError, match="empty"):
        parse_matrix({}, "hptuning.matrix")
    with pytest.raises(SpecError, match="not a valid parameter name"):
        parse_matrix({"learning-rate": {"values": [1]}}, "matrix")
    with pytest.raises(SpecError, match="expected a mapping with one kind"):
        parse_matrix({"lr": [1, 2]}, "matrix")
