"""The MAP against closed forms and scikit-learn's coordinate descent."""

import numpy as np
import pytest
from sklearn.linear_model import ElasticNet, Lasso, Ridge

from bayesreg import BayesianRegression, Prior
from bayesreg.map import center, kkt_violation
from bayesreg.model import SuffStats
from bayesreg.pipeline import solve_map


def _design(rng, n, p, kind):
    if kind == "correlated":
        base = rng.standard_normal((n, 1))
        X = base + 0.05 * rng.standard_normal((n, p))
    else:
        X = rng.standard_normal((n, p)) * rng.uniform(0.5, 3, p)
    w = np.zeros(p)
    w[: max(1, p // 4)] = rng.normal(0, 3, max(1, p // 4))
    return X, X @ w + 2.5 + rng.standard_normal(n)


@pytest.mark.parametrize("n,p", [(50, 5), (30, 60), (200, 20)])
def test_ridge_map_is_the_closed_form(rng, n, p):
    X, y = _design(rng, n, p, "plain")
    alpha = 0.3
    est = BayesianRegression(prior="ridge", alpha=alpha, method="map").fit(X, y)
    Xc, yc = X - X.mean(0), y - y.mean()
    expected = np.linalg.solve(Xc.T @ Xc + n * alpha * np.eye(p), Xc.T @ yc)
    np.testing.assert_allclose(est.coef_, expected, rtol=1e-8, atol=1e-10 * np.abs(expected).max())
    assert est.intercept_ == pytest.approx(y.mean() - X.mean(0) @ expected, rel=1e-8)
    # and scikit-learn's Ridge, whose alpha has no 1/n: Ridge(alpha = n * alpha)
    sk = Ridge(alpha=n * alpha, solver="cholesky" if p <= n else "svd").fit(X, y)
    np.testing.assert_allclose(est.coef_, sk.coef_, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("kind", ["plain", "correlated"])
@pytest.mark.parametrize("n,p", [(80, 10), (40, 100)])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.1])
def test_enet_map_matches_sklearn_with_exact_zeros_and_kkt(rng, kind, n, p, l1_ratio):
    X, y = _design(rng, n, p, kind)
    alpha = 0.05 * np.abs((X - X.mean(0)).T @ (y - y.mean())).max() / n
    prior = "lasso" if l1_ratio == 1.0 else "elastic_net"
    est = BayesianRegression(prior=prior, alpha=alpha, l1_ratio=l1_ratio, method="map").fit(X, y)
    sk = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-14, max_iter=1_000_000).fit(X, y)
    np.testing.assert_allclose(est.coef_, sk.coef_, atol=1e-6)
    assert est.intercept_ == pytest.approx(sk.intercept_, abs=1e-6)
    np.testing.assert_array_equal(est.coef_ == 0, sk.coef_ == 0)
    if l1_ratio == 1.0:  # the elastic net may keep a whole correlated group
        assert (est.coef_ == 0).any()
    Xc, yc, _, _ = center(X, y, True)
    assert kkt_violation(Xc, yc, est.coef_, Prior.create(prior, alpha, l1_ratio)) < 1e-8
    assert est.kkt_violation_ < 1e-8


def test_lasso_on_diabetes_matches_sklearn(diabetes):
    X, y = diabetes
    for alpha in [0.01, 0.1, 0.5, 2.0]:
        est = BayesianRegression(prior="lasso", alpha=alpha, method="map").fit(X, y)
        sk = Lasso(alpha=alpha, tol=1e-14, max_iter=1_000_000).fit(X, y)
        np.testing.assert_allclose(est.coef_, sk.coef_, atol=1e-6)
        np.testing.assert_array_equal(est.coef_ == 0, sk.coef_ == 0)
        assert est.kkt_violation_ < 1e-8


@pytest.mark.parametrize("l1_ratio", [1.0, 0.6])
def test_soft_thresholding_on_orthonormal_design(rng, l1_ratio):
    n, p = 64, 8
    Q, _ = np.linalg.qr(rng.standard_normal((n, p)))
    X = Q * np.sqrt(n)                      # X'X / n = I, no intercept needed
    y = X @ np.array([3, -2, 1, 0.5, -0.2, 0.1, 0, 0]) + 0.3 * rng.standard_normal(n)
    alpha = 0.4
    z = X.T @ y / n
    expected = np.sign(z) * np.maximum(np.abs(z) - alpha * l1_ratio, 0) / (1 + alpha * (1 - l1_ratio))
    prior = "lasso" if l1_ratio == 1 else "elastic_net"
    w = solve_map(SuffStats.of(X, y, fit_intercept=False), Prior.create(prior, alpha, l1_ratio)).coef
    np.testing.assert_allclose(w, expected, atol=1e-12)
    np.testing.assert_array_equal(w == 0, expected == 0)
    assert (w == 0).sum() >= 2


def test_grouping_effect_identical_columns(rng):
    X = rng.standard_normal((60, 4))
    X = np.column_stack([X, X[:, 0]])       # column 4 duplicates column 0
    y = X[:, 0] * 2 + X[:, 1] + rng.standard_normal(60)
    w = BayesianRegression(prior="elastic_net", alpha=0.1, l1_ratio=0.5, method="map").fit(X, y).coef_
    assert w[0] != 0
    assert w[0] == pytest.approx(w[4], rel=1e-10)


def test_grouping_effect_difference_formula(rng):
    """Zou & Hastie (2005), Theorem 1: w_i - w_j = (x_i - x_j)'r / (n alpha (1 - rho)) (exact)."""
    n = 100
    z = rng.standard_normal(n)
    X = np.column_stack([z + 0.1 * rng.standard_normal(n), z + 0.1 * rng.standard_normal(n),
                         rng.standard_normal((n, 3))])
    y = 3 * z + X[:, 2] + rng.standard_normal(n)
    alpha, rho = 0.05, 0.5
    est = BayesianRegression(prior="elastic_net", alpha=alpha, l1_ratio=rho, method="map").fit(X, y)
    w = est.coef_
    assert w[0] > 0 and w[1] > 0
    r = y - X @ w - est.intercept_
    Xc = X - X.mean(0)
    np.testing.assert_allclose(w[0] - w[1], (Xc[:, 0] - Xc[:, 1]) @ r / (n * alpha * (1 - rho)),
                               rtol=1e-8, atol=1e-10)


def test_standardize_penalizes_standardized_columns(rng):
    X = rng.standard_normal((70, 6)) * np.array([1, 10, 100, 0.1, 1, 5])
    y = X @ np.array([1, 0.1, 0.01, 10, 0, 0]) + rng.standard_normal(70)
    alpha = 0.1
    est = BayesianRegression(prior="lasso", alpha=alpha, standardize=True, method="map").fit(X, y)
    sd = X.std(0)
    sk = Lasso(alpha=alpha, tol=1e-14, max_iter=10**6).fit((X - X.mean(0)) / sd, y)
    np.testing.assert_allclose(est.coef_, sk.coef_ / sd, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(est.predict(X), sk.predict((X - X.mean(0)) / sd), rtol=1e-8)


def test_constant_and_duplicated_columns_and_no_intercept(rng):
    X = np.column_stack([rng.standard_normal(30), np.ones(30), rng.standard_normal(30)])
    X = np.column_stack([X, X[:, 2]])
    y = X[:, 0] - X[:, 2] + rng.standard_normal(30)
    est = BayesianRegression(prior="lasso", alpha=0.05, method="map").fit(X, y)
    assert est.coef_[1] == 0
    sk = Lasso(alpha=0.05, fit_intercept=False, tol=1e-14, max_iter=10**6).fit(X, y)
    est0 = BayesianRegression(prior="lasso", alpha=0.05, fit_intercept=False, method="map").fit(X, y)
    np.testing.assert_allclose(est0.coef_, sk.coef_, atol=1e-6)
    assert est0.intercept_ == 0
