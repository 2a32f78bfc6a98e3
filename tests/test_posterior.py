"""Posterior against the conjugate closed form and against Park & Casella (2008).

Sampling tests are small and seeded; one compiled sampler kernel serves them all.
"""

import numpy as np
import pytest
from scipy import stats

from bayesreg import BayesianRegression, alpha_from_park_casella


def _ridge_closed_form(X, y, alpha, sigma):
    n, p = X.shape
    Xc, yc = X - X.mean(0), y - y.mean()
    cov = np.linalg.inv(Xc.T @ Xc + n * alpha * np.eye(p))
    return cov @ Xc.T @ yc, sigma**2 * cov


def test_ridge_nuts_matches_conjugate_closed_form(ridge_data):
    X, y = ridge_data
    alpha, sigma = 0.2, 1.3
    est = BayesianRegression(prior="ridge", alpha=alpha, sigma=sigma, draws=1000, tune=500,
                             chains=4, seed=11).fit(X, y)
    mean, cov = _ridge_closed_form(X, y, alpha, sigma)
    s = est.summary()
    sd = np.sqrt(np.diag(cov))
    coef_rows = s.iloc[:5]
    # Monte Carlo error of the mean is mcse_mean; allow 4 of them
    np.testing.assert_array_less(np.abs(coef_rows["mean"].values - mean), 4 * coef_rows["mcse_mean"].values)
    # sd's Monte Carlo error is about sd / sqrt(2 ess): allow 4 of them, and 5% at most
    np.testing.assert_allclose(coef_rows["sd"].values, sd, rtol=0.05)
    assert est.diagnostics_["divergences"] == 0 and est.diagnostics_["warnings"] == []


def test_ridge_exact_equals_closed_form(ridge_data):
    X, y = ridge_data
    alpha, sigma = 0.2, 1.3
    est = BayesianRegression(prior="ridge", alpha=alpha, sigma=sigma, hdi_prob=0.9, method="exact").fit(X, y)
    mean, cov = _ridge_closed_form(X, y, alpha, sigma)
    s = est.summary()
    sd = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(s["mean"].values[:5], mean, rtol=1e-10)
    np.testing.assert_allclose(s["sd"].values[:5], sd, rtol=1e-10)
    np.testing.assert_allclose(s["hdi_high"].values[:5], mean + stats.norm.ppf(0.95) * sd, rtol=1e-10)
    np.testing.assert_allclose(s["map"].values[:5], mean, rtol=1e-10)   # Gaussian: mode = mean
    assert est.posterior_.posterior["coef"].shape == (4, 1000, 5)


def test_ridge_exact_with_learned_sigma_matches_nuts(ridge_data):
    """Student-t marginals and the inverse-gamma sigma against NUTS on the same model."""
    X, y = ridge_data
    exact = BayesianRegression(prior="ridge", alpha=0.2, method="exact").fit(X, y).summary()
    nuts = BayesianRegression(prior="ridge", alpha=0.2, draws=1000, tune=500, seed=3).fit(X, y)
    s = nuts.summary()
    np.testing.assert_array_less(np.abs(s["mean"] - exact["mean"]).values, 4 * s["mcse_mean"].values)
    np.testing.assert_allclose(s["sd"].values, exact["sd"].values, rtol=0.06)
    # the sigma posterior: IG((n-1)/2, SSR/2)
    n = len(y)
    Xc, yc = X - X.mean(0), y - y.mean()
    w = np.linalg.solve(Xc.T @ Xc + n * 0.2 * np.eye(5), Xc.T @ yc)
    ssr = yc @ yc - w @ Xc.T @ yc
    median = np.sqrt(stats.invgamma((n - 1) / 2, scale=ssr / 2).median())
    assert exact.loc["sigma", "median"] == pytest.approx(median, rel=1e-10)


def test_park_casella_figure_2(diabetes):
    """Bayesian lasso at lambda = 0.237: 95% intervals exclude 0 for sex, bmi, map (bp), ltg (s5) only."""
    X, y = diabetes
    n = len(y)
    est = BayesianRegression(prior="lasso", alpha=alpha_from_park_casella(0.237, 54.0, n),
                             hdi_prob=0.95, seed=2008).fit(X, y)
    s = est.summary().loc[list(X.columns)]
    excludes_zero = s.index[(s["hdi_low"] > 0) | (s["hdi_high"] < 0)]
    assert sorted(excludes_zero) == ["bmi", "bp", "s5", "sex"]
    assert est.diagnostics_["max_r_hat"] < 1.01
    assert est.summary().loc["sigma", "median"] == pytest.approx(54, abs=4)


def test_new_width_and_new_prior_compile_nothing(diabetes):
    """One kernel serves every prior, option and width: after the first fit, nothing compiles."""
    X, y = diabetes
    est = BayesianRegression(prior="lasso", alpha=0.05, draws=200, tune=200, chains=2, seed=1)
    est.fit(X, y)
    for prior, cols, sigma in [("lasso", 7, None), ("ridge", 3, 50.0), ("elastic_net", 9, None)]:
        other = BayesianRegression(prior=prior, alpha=0.05, sigma=sigma, draws=200, tune=200,
                                   chains=2, seed=1).fit(X.iloc[:, :cols], y)
        assert other.timing_["compile_s"] == 0.0
        assert other.posterior_.posterior["coef"].shape == (2, 200, cols)


def test_learn_alpha_reports_map_at_posterior_median(diabetes):
    X, y = diabetes
    est = BayesianRegression(prior="lasso", alpha=0.05, learn_alpha=True, draws=500, tune=500,
                             seed=5).fit(X, y)
    med = float(est.posterior_.posterior["alpha"].median())
    assert est.alpha_ == pytest.approx(med)
    ref = BayesianRegression(prior="lasso", alpha=med, method="map").fit(X, y)
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-10)
    assert "alpha" in est.summary().index


def test_predict_interval_matches_closed_form_predictive(ridge_data):
    X, y = ridge_data
    sigma = 1.3
    est = BayesianRegression(prior="ridge", alpha=0.2, sigma=sigma, draws=2000, chains=4,
                             hdi_prob=0.9, seed=9, method="exact").fit(X, y)
    x_new = X[:3] + 0.5
    pi = est.predict_interval(x_new)
    n = len(y)
    Xc = X - X.mean(0)
    cov = sigma**2 * np.linalg.inv(Xc.T @ Xc + n * 0.2 * np.eye(5))
    d = x_new - X.mean(0)
    mean_sd = np.sqrt(np.einsum("ij,jk,ik->i", d, cov, d) + sigma**2 / n)
    # MAP = posterior mean here; the MC mean of 8000 exact draws is within 4 standard errors
    assert np.all(np.abs(pi.mean - est.predict(x_new)) < 4 * mean_sd / np.sqrt(8000))
    z = stats.norm.ppf(0.95)
    np.testing.assert_allclose(pi.mean_high - pi.mean_low, 2 * z * mean_sd, rtol=0.08)
    obs_sd = np.sqrt(mean_sd**2 + sigma**2)
    np.testing.assert_allclose(pi.obs_high - pi.obs_low, 2 * z * obs_sd, rtol=0.05)


def test_progress_is_reported_while_sampling(rng):
    """Progress arrives before the end (not only a final call), counts tuning draws, and
    names the phase to a callback that asks for it."""
    n, p = 400, 120
    X = rng.standard_normal((n, p))
    y = X[:, :3] @ [2.0, -1.0, 0.5] + rng.standard_normal(n)
    seen = []

    def progress(done, total, phase):
        seen.append((done, total, phase))

    # about 1.5 s of sampling here: reports come every 0.25 s at most
    est = BayesianRegression(prior="lasso", alpha=0.05, draws=3000, tune=2000, chains=2,
                             seed=1)
    est.fit(X, y, progress=progress)
    assert all(total == 10_000 for _, total, _ in seen)
    assert seen[-1] == (10_000, 10_000, "sampling")
    during = [done for done, _, _ in seen[:-1]]
    assert during and 0 < max(during) < 10_000    # draws counted while sampling ran
    assert during == sorted(during)
    phases = [phase for _, _, phase in seen]
    assert set(phases) <= {"tuning", "sampling"} and phases[0] == "tuning"
    assert phases == sorted(phases, key=["tuning", "sampling"].index)  # tuning, then sampling
    # "sampling" only once every chain has finished its 2 x 2000 tuning draws
    assert all(done >= 4000 for done, _, phase in seen if phase == "sampling")


def test_a_two_argument_progress_callback_still_works(diabetes):
    X, y = diabetes
    seen = []
    BayesianRegression(draws=100, tune=100, chains=2, seed=1).fit(
        X, y, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (400, 400)


def test_pymc_fallback_samples_the_same_posterior(diabetes):
    X, y = diabetes
    est = BayesianRegression(prior="lasso", alpha=0.05, draws=500, tune=500, chains=2,
                             seed=1).fit(X, y)
    slow = BayesianRegression(prior="lasso", alpha=0.05, draws=300, tune=300, chains=2,
                              seed=1, sampler="pymc").fit(X, y)
    a, b = est.summary(), slow.summary()
    # same posterior: means agree within a few posterior sd / sqrt(ess)
    assert np.all(np.abs(a["mean"] - b["mean"]) < 5 * np.hypot(a["mcse_mean"], b["mcse_mean"]) + 1e-9)


def test_standardize_exact_and_nuts_agree_with_closed_form(ridge_data):
    """Penalty on standardized columns: precision n alpha sd_j^2 on the original-scale w_j."""
    X, y = ridge_data
    n, alpha, sigma = len(y), 0.3, 1.3
    Xc, yc = X - X.mean(0), y - y.mean()
    A = Xc.T @ Xc + n * alpha * np.diag(X.var(0))
    mean, sd = np.linalg.solve(A, Xc.T @ yc), sigma * np.sqrt(np.diag(np.linalg.inv(A)))
    exact = BayesianRegression(prior="ridge", alpha=alpha, sigma=sigma, standardize=True,
                               method="exact")
    s = exact.fit(X, y).summary()
    np.testing.assert_allclose(s["mean"].values[:5], mean, rtol=1e-10)
    np.testing.assert_allclose(s["sd"].values[:5], sd, rtol=1e-10)
    nuts = BayesianRegression(prior="ridge", alpha=alpha, sigma=sigma, standardize=True,
                              draws=1000, tune=500, seed=8).fit(X, y).summary()
    np.testing.assert_array_less(np.abs(nuts["mean"].values[:5] - mean),
                                 4 * nuts["mcse_mean"].values[:5])
    np.testing.assert_allclose(nuts["sd"].values[:5], sd, rtol=0.06)
