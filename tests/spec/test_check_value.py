"""``Param.check_value``: what the engine asks of every suggested value before a trial runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpo.spec.matrix import parse_matrix

MATRIX = parse_matrix({
    "momentum": {"uniform": [0.5, 0.99]},
    "layers": {"range": [1, 5]},
    "act": {"values": ["relu", "tanh"]},
    "flag": {"values": [True, 1.5]},
    "units": {"quniform": [0, 10, 1]},
    "lr": {"qloguniform": [0, 3, 0.5]},
    "drop": {"pvalues": [["low", 0.5], ["high", 0.5]]},
    "noise": {"normal": [0, 1]},
    "scale": {"qlognormal": [0, 1, 0.5]},
    "frac": {"linspace": [0, 1, 11]},
    "big": {"range": [0, 1_000_000]},
}, "matrix")


@pytest.mark.parametrize("name, value", [
    ("momentum", 0.5), ("momentum", 0.99), ("momentum", 0.7), ("momentum", np.float64(0.6)),
    ("layers", 2), ("layers", 2.0), ("layers", np.int64(4)), ("act", "tanh"), ("flag", True),
    ("flag", 1.5), ("units", 3), ("units", 3.0), ("lr", 1.5), ("lr", 20.0), ("drop", "low"),
    ("noise", -40.0), ("scale", 2.5), ("frac", 0.30000000000000004), ("frac", 0.3),
    ("big", 999_999),
])
def test_values_the_matrix_holds(name, value):
    assert MATRIX[name].check_value(value) is None and MATRIX[name].contains(value)


@pytest.mark.parametrize("name, value, why", [
    ("momentum", 1.2, "1.2 lies outside [0.5, 0.99]"),
    ("momentum", 0.4999, "0.4999 lies outside [0.5, 0.99]"),
    ("momentum", "0.6", "'0.6' is not a number"),
    ("momentum", True, "True is not a number"),
    ("momentum", math.nan, "nan is not a finite number"),
    ("layers", 2.5, "2.5 is not one of its 4 values [1, 2, 3, 4]"),
    ("layers", 5, "5 is not one of its 4 values [1, 2, 3, 4]"),
    ("layers", "2", "'2' is not one of its 4 values [1, 2, 3, 4]"),
    ("act", "swish", "'swish' is not one of its 2 values ['relu', 'tanh']"),
    ("act", ["relu"], "['relu'] is not one of its 2 values ['relu', 'tanh']"),
    ("flag", 1, "1 is not one of its 2 values [True, 1.5]"),  # a number is no boolean
    ("units", 3.5, "3.5 is not a multiple of q=1"),
    ("units", 11, "11 lies outside [0, 10]"),
    ("lr", 1.2, "1.2 is not a multiple of q=0.5"),
    ("lr", 25, "25 lies outside [1, 20]"),
    ("drop", "medium", "'medium' is not one of its values ['low', 'high']"),
    ("noise", math.inf, "inf is not a finite number"),
    ("scale", -1.0, "-1.0 is negative, and a qlognormal value never is"),
    ("scale", 1.2, "1.2 is not a multiple of q=0.5"),
    ("frac", 0.35, "0.35 is not one of its 11 values [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, ...]"),
    ("big", 1_000_000, "1000000 is not one of its 1000000 values [0, 1, 2, 3, 4, 5, ...]"),
])
def test_values_outside_say_why(name, value, why):
    assert MATRIX[name].check_value(value) == why and not MATRIX[name].contains(value)


def test_every_sample_is_inside():
    rng = np.random.default_rng(0)
    for param in MATRIX.values():
        for _ in range(200):
            value = param.sample(rng)
            assert param.check_value(value) is None, (param, value)
