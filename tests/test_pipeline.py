"""The pipeline's steps, called directly, against closed forms and independent libraries:
``solve_map`` against scikit-learn, ``conjugate_ridge`` against the normal-inverse-gamma
posterior computed here with NumPy and SciPy, ``sample`` against the conjugate posterior, and
``Diagnostics`` against ArviZ on the same draws."""

import json

import arviz as az
import numpy as np
import pytest
from scipy import stats as st
from sklearn.linear_model import ElasticNet, Lasso, Ridge

from bayesreg import BayesianRegression, Prior
from bayesreg.model import SuffStats
from bayesreg.pipeline import (Diagnostics, MapResult, Posterior, SamplerSettings,
                               conjugate_ridge, sample, solve_map)


def _data(rng, n, p, noise=0.5):
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 3.0, p) + rng.normal(0, 2, p)
    w = np.zeros(p)
    w[: max(1, p // 3)] = rng.normal(0, 2, max(1, p // 3))
    return X, X @ w + 1.5 + noise * rng.standard_normal(n)


# ---------------------------------------------------------------- SuffStats
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_statistics_keep_the_gram_matrix_or_the_centred_data_when_wide(rng, fit_intercept):
    X, y = _data(rng, 40, 6)
    tall = SuffStats.of(X, y, fit_intercept)
    x_mean = X.mean(0) if fit_intercept else np.zeros(6)
    Xc = X - x_mean
    assert tall.Xc is None and tall.n == 40 and tall.p == 6
    np.testing.assert_allclose(tall.gram(), Xc.T @ Xc, rtol=1e-12)
    Xw, yw = _data(rng, 10, 30)
    wide = SuffStats.of(Xw, yw, fit_intercept)
    xw_mean = Xw.mean(0) if fit_intercept else np.zeros(30)
    assert wide.xtx is None and wide.Xc.shape == (10, 30)
    np.testing.assert_allclose(wide.gram(), (Xw - xw_mean).T @ (Xw - xw_mean), rtol=1e-12)
    np.testing.assert_allclose(wide.scales(), np.sqrt(((Xw - xw_mean) ** 2).mean(0)), rtol=1e-12)


# ---------------------------------------------------------------- solve_map
@pytest.mark.parametrize("n,p", [(80, 6), (20, 50)])
@pytest.mark.parametrize("name,l1_ratio", [("lasso", 1.0), ("elastic_net", 0.3)])
def test_solve_map_is_scikit_learns_elastic_net(rng, n, p, name, l1_ratio):
    X, y = _data(rng, n, p)
    alpha = 0.05
    got = solve_map(SuffStats.of(X, y), Prior.create(name, alpha, l1_ratio))
    ref = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-13, max_iter=200_000).fit(X, y)
    np.testing.assert_allclose(got.coef, ref.coef_, atol=1e-7)
    assert got.intercept == pytest.approx(ref.intercept_, abs=1e-6)
    assert got.kkt < 1e-8 and isinstance(got, MapResult)


@pytest.mark.parametrize("n,p", [(80, 6), (20, 50)])
def test_solve_map_ridge_is_scikit_learns_ridge(rng, n, p):
    X, y = _data(rng, n, p)
    alpha = 0.2
    got = solve_map(SuffStats.of(X, y), Prior.create("ridge", alpha))
    ref = Ridge(alpha=n * alpha).fit(X, y)        # Ridge has no 1/(2n): alpha_ridge = n alpha
    np.testing.assert_allclose(got.coef, ref.coef_, rtol=1e-8, atol=1e-10)
    assert got.intercept == pytest.approx(ref.intercept_, rel=1e-8)


def test_solve_map_standardized_is_lasso_on_scaled_columns(rng):
    X, y = _data(rng, 60, 5)
    scale = X.std(0)
    got = solve_map(SuffStats.of(X, y), Prior.create("lasso", 0.05), standardize=True)
    ref = Lasso(alpha=0.05, tol=1e-13, max_iter=200_000).fit(X / scale, y)
    np.testing.assert_allclose(got.coef, ref.coef_ / scale, atol=1e-7)
    np.testing.assert_allclose(got.scale, scale, rtol=1e-12)


@pytest.mark.parametrize("name,extra", [("ridge", 0), ("lasso", 1)])
def test_solve_map_sigma_is_the_closed_form_mode(rng, name, extra):
    """Mode of p(sigma | w, y) with the Jeffreys prior: each Normal prior contributes
    sigma^-1 and each Laplace sigma^-2, so sigma^2 = (rss + 2 n pen) / (n + 1 + (1 + e) p)."""
    X, y = _data(rng, 50, 4)
    n, p, alpha = 50, 4, 0.1
    got = solve_map(SuffStats.of(X, y), Prior.create(name, alpha))
    Xc, yc = X - X.mean(0), y - y.mean()
    r = yc - Xc @ got.coef
    pen = alpha * (np.abs(got.coef).sum() if name == "lasso" else 0.5 * got.coef @ got.coef)
    want = np.sqrt((r @ r + 2 * n * pen) / (n + 1 + (1 + extra) * p))
    assert got.sigma == pytest.approx(want, rel=1e-6)
    assert got.rss == pytest.approx(r @ r, rel=1e-10)
    known = solve_map(SuffStats.of(X, y), Prior.create(name, alpha), sigma=0.7)
    assert known.sigma == 0.7 and known.sigma_known
    assert known.to_dict() == {"coef": [float(c) for c in known.coef],
                               "intercept": float(known.intercept), "sigma": 0.7}


# ---------------------------------------------------------------- conjugate_ridge
def _nig(X, y, alpha):
    n, p = X.shape
    Xc, yc = X - X.mean(0), y - y.mean()
    A = Xc.T @ Xc + n * alpha * np.eye(p)
    w = np.linalg.solve(A, Xc.T @ yc)
    r = yc - Xc @ w
    ssr = r @ r + n * alpha * w @ w
    return w, np.linalg.inv(A), ssr, n - 1


@pytest.mark.parametrize("n,p", [(60, 4), (12, 30)])
def test_conjugate_ridge_is_the_normal_inverse_gamma_posterior(rng, n, p):
    X, y = _data(rng, n, p)
    alpha, prob = 0.1, 0.9
    stats_, prior = SuffStats.of(X, y), Prior.create("ridge", alpha)
    post = conjugate_ridge(stats_, prior, solve_map(stats_, prior),
                           SamplerSettings(draws=50, chains=2, seed=1, hdi_prob=prob))
    w, a_inv, ssr, nu = _nig(X, y, alpha)
    scale = np.sqrt(np.diag(a_inv) * ssr / nu)
    s = post.summary.loc[[f"x{j}" for j in range(p)]]
    np.testing.assert_allclose(s["mean"], w, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(s["sd"], scale * np.sqrt(nu / (nu - 2)), rtol=1e-8)
    lo, hi = st.t.interval(prob, nu, loc=w, scale=scale)
    np.testing.assert_allclose(s["hdi_low"], lo, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(s["hdi_high"], hi, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(s["map"], w, rtol=1e-7, atol=1e-10)   # ridge: mode = mean
    assert s["map_in_hdi"].all()
    # another mass, through the same summary path
    lo8, hi8 = st.t.interval(0.8, nu, loc=w, scale=scale)
    s8 = post.summary_at(0.8).loc[[f"x{j}" for j in range(p)]]
    np.testing.assert_allclose(s8["hdi_low"], lo8, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(s8["hdi_high"], hi8, rtol=1e-8, atol=1e-12)
    assert post.idata.posterior["coef"].shape == (2, 50, p)
    assert post.diagnostics == Diagnostics(0, None, None, (), post.diagnostics.note)


def test_conjugate_ridge_known_sigma_is_normal(rng):
    X, y = _data(rng, 40, 3)
    stats_, prior = SuffStats.of(X, y), Prior.create("ridge", 0.3)
    post = conjugate_ridge(stats_, prior, solve_map(stats_, prior, sigma=0.4),
                           SamplerSettings(draws=10, chains=1, seed=0))
    w, a_inv, _, _ = _nig(X, y, 0.3)
    s = post.summary
    np.testing.assert_allclose(s["sd"].iloc[:3], 0.4 * np.sqrt(np.diag(a_inv)), rtol=1e-10)
    assert s.loc["sigma", "sd"] == 0.0 and s.loc["sigma", "mean"] == 0.4


def test_conjugate_ridge_refuses_an_l1_prior(rng):
    X, y = _data(rng, 30, 3)
    stats_, prior = SuffStats.of(X, y), Prior.create("lasso", 0.1)
    with pytest.raises(ValueError, match="closed form") as step:
        conjugate_ridge(stats_, prior, solve_map(stats_, prior), SamplerSettings(seed=0))
    # the estimator's door check is the same rule: the same field and the same words
    with pytest.raises(ValueError, match="closed form") as door:
        BayesianRegression(prior="lasso", alpha=0.1, method="exact", seed=0).fit(X, y)
    assert step.value.field == door.value.field == "method"
    assert str(step.value) == str(door.value)


def test_an_unseeded_exact_fit_draws_a_fresh_seed_and_records_it(rng):
    X, y = _data(rng, 30, 3)
    fits = [BayesianRegression(prior="ridge", alpha=0.1, method="exact", draws=50,
                               chains=1).fit(X, y) for _ in range(2)]
    assert fits[0].seed_ != fits[1].seed_ and all(0 <= f.seed_ < 2**32 for f in fits)
    # the recorded seed repeats the fit's draws
    again = BayesianRegression(prior="ridge", alpha=0.1, method="exact", draws=50, chains=1,
                               seed=fits[0].seed_).fit(X, y)
    np.testing.assert_array_equal(again.posterior_.posterior["coef"].values,
                                  fits[0].posterior_.posterior["coef"].values)


# ---------------------------------------------------------------- sample
@pytest.fixture(scope="module")
def ridge_fit():
    rng = np.random.default_rng(11)
    X, y = _data(rng, 80, 3, noise=1.0)
    stats_, prior = SuffStats.of(X, y), Prior.create("ridge", 0.05)
    m = solve_map(stats_, prior)
    settings = SamplerSettings(draws=500, tune=500, chains=2, seed=3)
    calls = []
    post = sample(stats_, prior, m, settings, feature_names=["a", "b", "c"],
                  progress=lambda done, total: calls.append((done, total)))
    return X, y, post, calls


def test_sample_matches_the_conjugate_posterior(ridge_fit):
    X, y, post, _ = ridge_fit
    w, a_inv, ssr, nu = _nig(X, y, 0.05)
    s = post.summary.loc[["a", "b", "c"]]
    sd = np.sqrt(np.diag(a_inv) * ssr / nu * nu / (nu - 2))
    assert np.all(np.abs(s["mean"] - w) < 5 * s["mcse_mean"])
    np.testing.assert_allclose(s["sd"], sd, rtol=0.15)
    sigma2 = st.invgamma(nu / 2, scale=ssr / 2)
    assert post.summary.loc["sigma", "median"] == pytest.approx(np.sqrt(sigma2.median()), rel=0.05)
    assert isinstance(post, Posterior) and post.exact is None


def test_sample_reports_progress(ridge_fit):
    *_, calls = ridge_fit
    assert calls and calls[-1] == (2 * 1000, 2 * 1000)


def test_diagnostics_are_arvizs_on_the_same_draws(ridge_fit):
    _, _, post, _ = ridge_fit
    d = post.diagnostics.to_dict()
    assert list(d) == ["divergences", "max_r_hat", "min_ess_bulk", "warnings"]
    assert d["divergences"] == int(post.idata.sample_stats["diverging"].values.sum())
    r_hat = az.rhat(post.idata.posterior)
    ess = az.ess(post.idata.posterior, method="bulk")
    assert d["max_r_hat"] == pytest.approx(max(float(r_hat[v].max()) for v in r_hat.data_vars))
    assert d["min_ess_bulk"] == pytest.approx(min(float(ess[v].min()) for v in ess.data_vars))
    assert d["warnings"] == list(post.diagnostics.warnings)


def test_posterior_to_dict_is_json_and_shaped_as_the_estimators(ridge_fit):
    _, _, post, _ = ridge_fit
    out = post.to_dict()
    json.dumps(out, allow_nan=False)
    assert list(out) == ["map", "posterior", "diagnostics"]
    assert [r["name"] for r in out["posterior"]["coef"]] == ["a", "b", "c"]
    assert out["posterior"]["sigma"]["mean"] == pytest.approx(post.summary.loc["sigma", "mean"])


def test_the_estimator_is_the_pipeline(rng):
    X, y = _data(rng, 50, 4)
    est = BayesianRegression(prior="ridge", alpha=0.1, draws=20, chains=2, seed=5,
                             method="exact").fit(X, y)
    stats_, prior = SuffStats.of(X, y), Prior.create("ridge", 0.1)
    post = conjugate_ridge(stats_, prior, solve_map(stats_, prior),
                           SamplerSettings(draws=20, chains=2, seed=5))
    out = est.to_dict()
    assert out.pop("timing").keys() == {"map_s", "compile_s", "sample_s", "total_s"}
    assert out == post.to_dict()
    assert est.diagnostics == post.diagnostics and est.diagnostics_ == post.diagnostics.to_dict()
    np.testing.assert_array_equal(est.posterior_.posterior["coef"], post.idata.posterior["coef"])


def test_a_loaded_estimator_keeps_its_typed_results(rng, tmp_path):
    X, y = _data(rng, 40, 3)
    est = BayesianRegression(prior="ridge", alpha=0.1, draws=20, chains=2, seed=2,
                             method="exact").fit(X, y)
    est.save(tmp_path / "m.nc")
    back = BayesianRegression.load(tmp_path / "m.nc")
    assert back.diagnostics == est.diagnostics and back.diagnostics_ == est.diagnostics_
    w, a_inv, ssr, nu = _nig(X, y, 0.1)
    lo, hi = st.t.interval(0.5, nu, loc=w, scale=np.sqrt(np.diag(a_inv) * ssr / nu))
    s = back.summary(hdi_prob=0.5).iloc[:3]
    np.testing.assert_allclose(s["hdi_low"], lo, rtol=1e-8)
    np.testing.assert_allclose(s["hdi_high"], hi, rtol=1e-8)
    assert back.to_dict()["posterior"] == est.to_dict()["posterior"]
    assert back.map_.to_dict() == est.map_.to_dict()
