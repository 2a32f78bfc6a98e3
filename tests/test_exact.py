"""bayesreg.exact: the conjugate ridge posterior against the normal-inverse-gamma closed form
computed here with NumPy (the intercept from the augmented normal equations), SciPy's
distributions and quadrature, and against its own draws."""

import numpy as np
import pytest
from scipy import integrate, stats

from bayesreg import BayesianRegression
from bayesreg.exact import ConjugateRidge
from bayesreg.model import SuffStats


def _data(rng, n, p):
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 3.0, p) + rng.normal(0, 2, p)
    return X, X[:, : min(p, 3)] @ [1.0, -0.5, 2.0][: min(p, 3)] + 4.0 + rng.standard_normal(n)


def _augmented(X, y, alpha, e):
    """The joint posterior of (w, b) per unit sigma^2 from the normal equations with a column
    of ones and a flat prior on b: mean, covariance, and the penalized residual sum."""
    n, p = X.shape
    Z = np.column_stack([X, np.ones(n)])
    prec = Z.T @ Z
    prec[np.arange(p), np.arange(p)] += n * alpha * e**2
    cov = np.linalg.inv(prec)
    mean = cov @ Z.T @ y
    r = y - Z @ mean
    return mean, cov, r @ r + n * alpha * np.sum((e * mean[:p]) ** 2)


@pytest.mark.parametrize("n,p,standardize", [(60, 4, False), (60, 4, True), (12, 30, False)])
def test_from_stats_is_the_normal_inverse_gamma_posterior(rng, n, p, standardize):
    """Through the Gram matrix (n >= p) and through the centred data (n < p), with and
    without a per-column penalty scale e: the same posterior as the augmented system."""
    X, y = _data(rng, n, p)
    alpha = 0.3
    e = X.std(0) if standardize else np.ones(p)
    post = ConjugateRidge.from_stats(SuffStats.of(X, y), alpha, e, None)
    mean, cov, ssr = _augmented(X, y, alpha, e)
    np.testing.assert_allclose(post.w_hat, mean[:p], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(post.a_inv, cov[:p, :p], rtol=1e-7, atol=1e-12)
    assert post.intercept_hat == pytest.approx(mean[p], rel=1e-9)
    assert post.intercept_var == pytest.approx(cov[p, p], rel=1e-8)
    assert post.ssr == pytest.approx(ssr, rel=1e-9) and post.nu == n - 1
    nu, scale = n - 1, np.sqrt(np.diag(cov) * ssr / (n - 1))
    for dist, j in zip(post.coef_marginals(), range(p)):
        assert dist.mean() == pytest.approx(mean[j], rel=1e-8, abs=1e-10)
        assert dist.std() == pytest.approx(scale[j] * np.sqrt(nu / (nu - 2)), rel=1e-7)
    b = post.intercept_marginal()
    assert b.interval(0.9) == pytest.approx(stats.t.interval(0.9, nu, mean[p], scale[p]),
                                            rel=1e-7)
    s2 = post.sigma2_marginal()
    assert s2.mean() == pytest.approx(ssr / 2 / ((n - 1) / 2 - 1), rel=1e-9)


def test_known_sigma_gives_normal_marginals_and_no_sigma_posterior(rng):
    X, y = _data(rng, 40, 3)
    post = ConjugateRidge.from_stats(SuffStats.of(X, y), 0.2, np.ones(3), 0.7)
    _, cov, _ = _augmented(X, y, 0.2, np.ones(3))
    for dist, var in zip(post.coef_marginals(), np.diag(cov)):
        assert dist.dist.name == "norm" and dist.std() == pytest.approx(0.7 * np.sqrt(var))
    assert post.sigma2_marginal() is None


def test_no_intercept_and_the_flat_prior_count_their_degrees_of_freedom(rng):
    X, y = _data(rng, 25, 3)
    stats_ = SuffStats.of(X, y, fit_intercept=False)
    post = ConjugateRidge.from_stats(stats_, 0.0, np.ones(3), None)
    w, *_ = np.linalg.lstsq(X, y, rcond=None)                     # flat prior: OLS
    np.testing.assert_allclose(post.w_hat, w, rtol=1e-9)
    assert post.nu == 25 - 3 and post.intercept_marginal() is None
    rows = post.summary_rows({"intercept": ("intercept", None, 0.0)}, [], 0.9)
    assert rows["intercept"]["sd"] == 0.0 and rows["intercept"]["hdi_low"] == 0.0


def test_summary_rows_are_the_marginals(rng):
    X, y = _data(rng, 50, 2)
    post = ConjugateRidge.from_stats(SuffStats.of(X, y), 0.1, np.ones(2), None)
    maps = {"a": ("coef", 0, 1.0), "b": ("coef", 1, -0.5), "intercept": ("intercept", None, 4.0),
            "sigma": ("sigma", None, 1.0)}
    rows = post.summary_rows(maps, ["a", "b"], 0.8)
    mean, cov, ssr = _augmented(X, y, 0.1, np.ones(2))
    for j, name in enumerate("ab"):
        want = stats.t(49, mean[j], np.sqrt(cov[j, j] * ssr / 49))
        assert rows[name]["hdi_low"] == pytest.approx(want.ppf(0.1), rel=1e-10)
        assert rows[name]["prob_positive"] == pytest.approx(want.sf(0.0), rel=1e-10)
        assert rows[name]["map"] == maps[name][2] and np.isnan(rows[name]["r_hat"])
    assert rows["sigma"]["median"] == pytest.approx(np.sqrt(post.sigma2_marginal().median()))


@pytest.mark.parametrize("nu,ssr,prob", [(5.0, 3.0, 0.9), (40.0, 120.0, 0.5), (3.0, 0.2, 0.95)])
def test_sigma_summary_against_quadrature(nu, ssr, prob):
    """sigma = sqrt(sigma^2), sigma^2 ~ IG(nu/2, SSR/2): mean and sd by quadrature of its
    density, and the HDI holds ``prob`` with equal density at both ends (the narrowest)."""
    post = ConjugateRidge(np.zeros(1), np.ones(1), 0.0, 1.0, None, nu, ssr, np.zeros(1), 0.0,
                          int(nu) + 1, True)
    s2 = stats.invgamma(nu / 2, scale=ssr / 2)

    def dens(s):
        return s2.pdf(s * s) * 2 * s

    mean, sd, median, (lo, hi) = post.sigma_summary(prob)
    m1 = integrate.quad(lambda s: s * dens(s), 0, np.inf)[0]
    m2 = integrate.quad(lambda s: s * s * dens(s), 0, np.inf)[0]
    assert mean == pytest.approx(m1, rel=1e-7)
    assert sd == pytest.approx(np.sqrt(m2 - m1 * m1), rel=1e-5)
    assert median == pytest.approx(np.sqrt(s2.ppf(0.5)), rel=1e-12)
    assert s2.cdf(hi * hi) - s2.cdf(lo * lo) == pytest.approx(prob, abs=1e-9)
    assert dens(lo) == pytest.approx(dens(hi), rel=1e-4)


def test_draws_follow_the_marginals_and_the_joint_covariance(rng):
    X, y = _data(rng, 30, 3)
    post = ConjugateRidge.from_stats(SuffStats.of(X, y), 0.2, np.ones(3), None)
    coef, intercept, sigma = post.draws(20_000, np.random.default_rng(1))
    for j, dist in enumerate(post.coef_marginals()):
        assert stats.kstest(coef[:, j], dist.cdf).pvalue > 1e-3
    assert stats.kstest(intercept, post.intercept_marginal().cdf).pvalue > 1e-3
    assert stats.kstest(sigma**2, post.sigma2_marginal().cdf).pvalue > 1e-3
    # Cov(w) = E[sigma^2] A^-1, E[sigma^2] = SSR / (nu - 2)
    np.testing.assert_allclose(np.cov(coef.T), post.a_inv * post.ssr / (post.nu - 2), rtol=0.08,
                               atol=0.02 * np.abs(post.a_inv).max() * post.ssr / post.nu)


def test_exact_flat_prior_is_the_classical_t_interval(rng):
    """alpha = 0, Jeffreys sigma: coefficients are t with n - 1 - p degrees of freedom (OLS)."""
    n, p = 30, 3
    X = rng.standard_normal((n, p))
    y = X @ [1.0, -0.5, 0.2] + 0.8 * rng.standard_normal(n)
    s = BayesianRegression(prior="ridge", alpha=0.0, hdi_prob=0.95, method="exact").fit(X, y).summary()
    Xc, yc = X - X.mean(0), y - y.mean()
    w = np.linalg.solve(Xc.T @ Xc, Xc.T @ yc)
    dof = n - 1 - p
    se = np.sqrt(np.sum((yc - Xc @ w) ** 2) / dof * np.diag(np.linalg.inv(Xc.T @ Xc)))
    lo, hi = stats.t(dof, w, se).interval(0.95)
    np.testing.assert_allclose(s["hdi_low"].values[:p], lo, rtol=1e-9)
    np.testing.assert_allclose(s["hdi_high"].values[:p], hi, rtol=1e-9)
    with pytest.raises(ValueError, match="improper"):
        BayesianRegression(prior="ridge", alpha=0.0, method="exact").fit(
            [[1, 1], [2, 2], [3, 3]], [1, 2, 3])
