"""bo's output warping: a power transform fitted to the loss, measured from the best value."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.preprocessing import PowerTransformer

from hpo.plugins.search.bo.warping import power


def test_a_long_tail_no_longer_flattens_the_good_values():
    loss = np.array([3.0, 3.5, 5.0, 8.0, 40.0, 900.0, 2e4, 7e5])  # Goldstein-Price-like
    y = -loss
    plain = (y - y.mean()) / y.std()
    warped = power(y)
    # the gap between the two best values, in standard deviations of all of them
    assert plain[0] - plain[1] < 1e-5
    assert warped[0] - warped[1] > 1000 * (plain[0] - plain[1])
    assert warped[0] - warped[3] > 0.1  # the four good values span a tenth of the range
    assert np.all(np.diff(warped) < 0)  # monotone: the best stays the best, the order holds
    assert abs(warped.mean()) < 1e-9 and abs(warped.std() - 1) < 1e-9


def test_near_gaussian_values_are_left_nearly_as_they_were():
    y = np.random.default_rng(3).normal(size=60)
    plain = (y - y.mean()) / y.std()
    assert np.corrcoef(plain, power(y))[0, 1] > 0.99


@pytest.mark.parametrize("y", [np.array([1.0, 2.0]), np.array([5.0, 5.0, 5.0, 1.0]), np.array([2.0, 2.0, 2.0])])
def test_nothing_to_fit_leaves_the_values_as_they_are(y):
    # fewer than three values, or half of them tied at the best: no scale to measure from
    assert power(y) is y


@pytest.mark.parametrize("seed", range(5))
def test_the_exponent_is_scikit_learns_maximum_likelihood_one(seed):
    rng = np.random.default_rng(seed)
    loss = np.exp(rng.normal(size=50) * rng.uniform(0.5, 3)) + rng.uniform(-1, 1)
    best, median = loss.min(), np.median(loss)
    u = ((loss - best) / (median - best))[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = -PowerTransformer(method="yeo-johnson").fit_transform(u)[:, 0]
    assert np.max(np.abs(power(-loss) - expected)) < 0.05


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e12, 1e12, allow_nan=False), min_size=1, max_size=80))
def test_any_finite_values_give_finite_monotone_targets(values):
    y = np.array(values)
    out = power(y)
    assert out.shape == y.shape and np.all(np.isfinite(out))
    order = np.argsort(y, kind="stable")
    assert np.all(np.diff(out[order]) >= -1e-9)
