"""bo's acquisition functions and their maximiser: log-EI/log-PI, gradients, batched L-BFGS-B."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from scipy.stats import norm

from hpo.plugins.search.bo import gp
from hpo.plugins.search.bo.acquisition import Acquisition, lbfgsb_per_row, log_ei, log_h, log_pi
from hpo.plugins.search.bo.space import Encoder
from hpo.spec import parse_spec


def plain_ei(mu, sigma, best):
    z = (mu - best) / sigma
    return sigma * (norm.pdf(z) + z * norm.cdf(z))


def test_log_ei_is_log_of_ei_where_ei_is_representable():
    mu = np.linspace(-6, 3, 301)
    for sigma in (0.05, 0.3, 1.0, 2.5):
        ei = plain_ei(mu, sigma, 0.5)
        ok = ei > 1e-250
        value, _, _ = log_ei(mu, np.full_like(mu, sigma), 0.5)
        np.testing.assert_allclose(value[ok], np.log(ei[ok]), rtol=1e-9, atol=1e-9)


def test_log_h_is_finite_smooth_and_increasing_where_ei_underflows():
    z = -np.logspace(-3, 6, 4000)[::-1]  # from -1e6 up to -1e-3
    assert plain_ei(z, 1.0, 0.0)[0] == 0.0  # plain EI is 0 here: no gradient for L-BFGS-B
    value = log_h(z)
    assert np.all(np.isfinite(value)) and np.all(np.diff(value) > 0)
    # the three branches join without jumps (at z = -1 and z = -1000)
    for edge in (-1.0, -1000.0):
        left, right = log_h(np.array([np.nextafter(edge, -2e3)])), log_h(np.array([edge + 1e-9]))
        assert abs(left[0] - right[0]) < 1e-6 + 1e-9 * abs(edge) * 2  # slope |z| times the step
    # far below, h(z) ~ phi(z) / z^2
    far = np.array([-50.0, -5e3, -1e5])
    np.testing.assert_allclose(log_h(far), norm.logpdf(far) - 2 * np.log(-far), rtol=1e-3)


@pytest.mark.parametrize("f", [log_ei, log_pi])
@pytest.mark.parametrize("mu,sigma", [(0.2, 0.7), (-3.0, 0.2), (-40.0, 0.5), (0.45, 1e-3), (2.0, 0.1)])
def test_partial_derivatives_match_finite_differences(f, mu, sigma):
    best = 0.5
    _, d_mu, d_sigma = f(np.array([mu]), np.array([sigma]), best)
    h = 1e-6 * max(1.0, abs(mu))
    num_mu = (f(np.array([mu + h]), np.array([sigma]), best)[0] - f(np.array([mu - h]), np.array([sigma]), best)[0]) / (2 * h)
    hs = 1e-6 * sigma
    num_sigma = (f(np.array([mu]), np.array([sigma + hs]), best)[0] - f(np.array([mu]), np.array([sigma - hs]), best)[0]) / (2 * hs)
    assert d_mu[0] == pytest.approx(num_mu[0], rel=1e-5, abs=1e-8)
    assert d_sigma[0] == pytest.approx(num_sigma[0], rel=1e-5, abs=1e-8)
    assert np.isfinite(d_mu[0]) and d_mu[0] > 0


def test_log_pi_is_log_of_pi():
    mu = np.linspace(-3, 3, 61)
    value, _, _ = log_pi(mu, np.full_like(mu, 0.8), 0.2)
    np.testing.assert_allclose(value, norm.logcdf((mu - 0.2) / 0.8), rtol=1e-12)


def _posterior(seed=0, n=25, d=3):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    y = np.sin(6 * X[:, 0]) + X[:, 1] ** 2 - X[:, 2]
    y = (y - y.mean()) / y.std()
    return gp.fit(X, y, "matern", 1.0, 2.5, 0, seed), y


@pytest.mark.parametrize("kind", ["ei", "poi", "ucb"])
def test_acquisition_gradient_in_x_matches_finite_differences(kind):
    post, y = _posterior()
    acq = Acquisition(kind, 2.0, 0.0, float(y.max()))
    Z = np.random.default_rng(1).random((6, 3)) * 0.8 + 0.1
    value, grad = acq(post, Z, grad=True)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
    h = 1e-6
    for j in range(3):
        step = np.zeros(3)
        step[j] = h
        num = (acq(post, Z + step) - acq(post, Z - step)) / (2 * h)
        np.testing.assert_allclose(grad[:, j], num, rtol=1e-4, atol=1e-6)


def test_ei_gradient_survives_near_a_well_sampled_incumbent():
    """Plain EI underflows to 0 away from the incumbent late in a run; log-EI still points uphill."""
    post, y = _posterior(n=40)
    acq = Acquisition("ei", 0.0, 0.0, float(y.max()) + 30.0)  # improvement far out of reach
    Z = np.random.default_rng(2).random((20, 3))
    value, grad = acq(post, Z, grad=True)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
    assert np.all(np.linalg.norm(grad, axis=1) > 0)


def test_lbfgsb_per_row_runs_independent_minimisations():
    centres = np.array([[0.2, 0.7], [0.9, 0.1], [0.5, 0.5], [1.5, -0.3]])  # the last one clips

    calls = []

    # each row its own badly scaled quadratic; rows are told apart by their bounds: row i lives
    # in [i, i + 1] x [0, 1]
    def fun_grad(X):
        calls.append(len(X))
        i = np.floor(X[:, 0]).clip(0, 3).astype(int)
        target = centres[i] + np.stack([i, np.zeros_like(i)], axis=1)
        diff = X - target
        weight = np.array([1.0, 100.0])
        return np.sum(weight * diff**2, axis=1), 2 * weight * diff

    lower = np.array([[i, 0.0] for i in range(4)])
    upper = lower + 1.0
    starts = lower + 0.5
    found = lbfgsb_per_row(fun_grad, starts, lower, upper)
    expected = np.clip(centres, 0, 1) + lower * [1, 0]
    np.testing.assert_allclose(found, expected, atol=1e-6)
    assert set(calls) == {1}  # one row at a time: the same arithmetic everywhere
    np.testing.assert_array_equal(found, lbfgsb_per_row(fun_grad, starts, lower, upper))


def test_sobol_pool_is_reachable_deterministic_and_covers_the_choices():
    matrix = {"lr": {"loguniform": [-9, -1]}, "n": {"range": [1, 6]},
              "act": {"values": ["relu", "tanh", "elu"]}, "x": {"uniform": [0, 1]}}
    data = {"run": {"cmd": "true"}, "settings": {"matrix": matrix, "random_search": {"n_experiments": 1}}}
    enc = Encoder(parse_spec(yaml.safe_dump(data, sort_keys=False)).matrix)
    a = enc.sobol(np.random.default_rng(3), 300)
    b = enc.sobol(np.random.default_rng(3), 300)
    assert a.shape == (300, enc.n_dims)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(enc.snap(a), a)
    decoded = [enc.decode(z) for z in a]
    assert {p["act"] for p in decoded} == {"relu", "tanh", "elu"}
    assert {p["n"] for p in decoded} == set(range(1, 6))
    # a low-discrepancy set: every eighth of x holds close to an eighth of the points
    counts = np.histogram([p["x"] for p in decoded], bins=8, range=(0, 1))[0]
    assert counts.min() >= 300 / 8 - 3


def test_log_ei_value_matches_plain_ei_in_the_searcher_units():
    post, y = _posterior()
    acq = Acquisition("ei", 0.0, 0.1, float(y.max()))
    Z = np.random.default_rng(4).random((50, 3))
    mu, sigma = post.predict(Z)
    ei = plain_ei(mu, sigma, float(y.max()) + 0.1)
    ok = ei > 1e-300
    np.testing.assert_allclose(acq(post, Z)[ok], np.log(ei[ok]), rtol=1e-8, atol=1e-10)
    assert math.isfinite(float(acq(post, Z).min()))


def test_mixed_space_reoptimises_the_continuous_columns_of_the_best_snapped_points(monkeypatch):
    from hpo.plugins.search.bo import acquisition

    matrix = {"x": {"uniform": [-2, 2]}, "n": {"range": [1, 8]},
              "act": {"values": ["relu", "tanh", "elu"]}}
    data = {"run": {"cmd": "true"}, "settings": {"matrix": matrix, "random_search": {"n_experiments": 1}}}
    enc = Encoder(parse_spec(yaml.safe_dump(data, sort_keys=False)).matrix)
    rng = np.random.default_rng(5)
    X = enc.sobol(rng, 30)
    params = [enc.decode(z) for z in X]
    y = np.array([-(p["x"] - 0.37) ** 2 - 0.05 * (p["n"] - 5) ** 2 + (p["act"] == "tanh") for p in params])
    y = (y - y.mean()) / y.std()
    post = gp.fit(X, y, "matern", 1.0, 2.5, 0, 0)
    acq = Acquisition("ei", 0.0, 0.0, float(y.max()))

    rows = []
    real = acquisition.lbfgsb_per_row

    def counting(fun_grad, starts, lower, upper, max_iter=acquisition.MAX_ITER):
        rows.append(len(starts))
        return real(fun_grad, starts, lower, upper, max_iter)

    monkeypatch.setattr(acquisition, "lbfgsb_per_row", counting)
    incumbents = X[np.argsort(-y)[:3]]
    cands, values = acquisition.maximize(acq, post, enc, np.random.default_rng(1), 500, 5, incumbents)
    assert rows == [5 + 3, acquisition.REPOLISH]  # every start once, then only the best few again
    np.testing.assert_array_equal(enc.snap(cands[:10]), cands[:10])  # reachable configurations
    assert np.all(np.diff(values) <= 0)
    np.testing.assert_allclose(values[:5], acq(post, cands[:5]))
    # the winner's continuous column is a maximum along x given its discrete columns
    best = cands[:1]
    step = np.zeros_like(best)
    step[0, 0] = 1e-3
    for z in (best + step, best - step):
        if 0 <= z[0, 0] <= 1:
            assert acq(post, z)[0] <= values[0] + 1e-9


def _two_scale_posterior(kernel="matern", seed=0, n=25, d=3):
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    y = np.sin(6 * X[:, 0]) + X[:, 1] ** 2 - X[:, 2]
    y = (y - y.mean()) / y.std()
    return gp.fit(X, y, kernel, 1.0, 2.5, 0, seed, isotropic_term=True), X, y


@pytest.mark.parametrize("kernel", ["matern", "rbf"])
def test_isotropic_term_predicts_what_scikit_learn_predicts(kernel):
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Matern, WhiteKernel

    post, X, y = _two_scale_posterior(kernel)
    assert post.amplitude2 > 0 and np.ndim(post.length_scale2) == 0 and len(post.length_scale) == 3
    base = (lambda ls: RBF(ls)) if kernel == "rbf" else (lambda ls: Matern(ls, nu=2.5))
    k = (ConstantKernel(post.amplitude) * base(post.length_scale)
         + ConstantKernel(post.amplitude2) * base(post.length_scale2) + WhiteKernel(post.noise))
    ref = GaussianProcessRegressor(k, alpha=gp.JITTER, optimizer=None).fit(X, y)
    Z = np.random.default_rng(7).random((40, 3))
    mu_ref, sd_ref = ref.predict(Z, return_std=True)
    mu, sigma = post.predict(Z)
    np.testing.assert_allclose(mu, mu_ref, atol=1e-6)
    # scikit-learn's std is of a noisy observation: remove the noise to compare
    np.testing.assert_allclose(sigma, np.sqrt(np.maximum(sd_ref**2 - post.noise, 1e-12)), atol=1e-5)


def test_isotropic_term_gradients_match_finite_differences():
    post, _, y = _two_scale_posterior()
    acq = Acquisition("ei", 0.0, 0.0, float(y.max()))
    Z = np.random.default_rng(1).random((6, 3)) * 0.8 + 0.1
    value, grad = acq(post, Z, grad=True)
    h = 1e-6
    for j in range(3):
        step = np.zeros_like(Z)
        step[:, j] = h
        fd = (acq(post, Z + step) - acq(post, Z - step)) / (2 * h)
        np.testing.assert_allclose(grad[:, j], fd, rtol=1e-4, atol=1e-6)
    # conditioning on imagined points keeps the term
    cond = post.condition(Z[:2], post.predict(Z[:2])[0])
    assert (cond.amplitude2, cond.length_scale2) == (post.amplitude2, post.length_scale2)
