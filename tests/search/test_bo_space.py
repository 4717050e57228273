"""The unit-cube encoding bo searches in: log scaling, one-hot, snapping, enumeration."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from hpo.plugins.search.bo.space import Encoder
from hpo.spec import parse_spec


def encoder(matrix):
    data = {"run": {"cmd": "true"}, "settings": {"matrix": matrix, "random_search": {"n_experiments": 1}}}
    return Encoder(parse_spec(yaml.safe_dump(data, sort_keys=False)).matrix)


def test_log_domains_are_scaled_in_log_space():
    enc = encoder({"lr": {"loguniform": [-9, -1]}})
    z = enc.encode({"lr": math.exp(-5)})
    assert z.tolist() == pytest.approx([0.5])
    assert enc.decode(np.array([0.25]))["lr"] == pytest.approx(math.exp(-7))


def test_categoricals_are_one_hot_and_round_trip():
    enc = encoder({"act": {"values": ["relu", "tanh", "elu"]}, "x": {"uniform": [0, 2]}})
    assert enc.n_dims == 4
    z = enc.encode({"act": "tanh", "x": 0.5})
    assert z.tolist() == [0, 1, 0, 0.25]
    assert enc.decode(np.array([0.2, 0.3, 0.9, 1.0])) == {"act": "elu", "x": 2.0}


def test_snap_goes_to_the_nearest_reachable_value():
    enc = encoder({
        "b": {"values": [1, 2, 10]},
        "q": {"quniform": [0, 1, 0.1]},
        "n": {"qloguniform": [0, 5, 4]},
        "c": {"values": [True, False]},
    })
    assert enc.n_dims == 5
    Z = enc.snap(np.array([[0.5, 0.33, 0.77, 0.4, 0.6]]))
    params = enc.decode(Z[0])
    assert params["b"] == 2 and isinstance(params["b"], int)  # 0.5 of [1, 10] is 5.5: nearest 2
    assert params["q"] == 0.3  # tidy: not 0.30000000000000004
    # reachable: multiples of 4 in [e^0, e^5], i.e. 4..148; 4 * (148/4)^0.77 = 64.5 -> 64
    assert params["n"] == 64 and isinstance(params["n"], int)
    assert params["c"] is False
    assert np.allclose(enc.snap(Z), Z)  # snapping is idempotent


def test_random_points_are_reachable_and_size_is_known():
    enc = encoder({"a": {"range": [0, 5]}, "c": {"values": ["x", "y"]}})
    assert enc.size == 10 and enc.enumerable
    all_configs = {enc.key(enc.decode(z)) for z in enc.enumerate()}
    assert len(all_configs) == 10
    rng = np.random.default_rng(0)
    assert {enc.key(enc.decode(z)) for z in enc.random(rng, 200)} == all_configs


def test_continuous_space_is_infinite():
    enc = encoder({"x": {"uniform": [0, 1]}, "a": {"range": [0, 5]}})
    assert enc.size is None and not enc.enumerable
