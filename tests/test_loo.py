"""PSIS-LOO (bayesreg.loo, BayesianRegression.loo): against ArviZ's az.loo on a log-likelihood
built here with SciPy, chunked against unchunked, and against the exact leave-one-out
predictive of ridge with a known sigma."""

import arviz as az
import numpy as np
import pytest
import xarray as xr
from scipy import stats

from bayesreg import BayesianRegression, InputError, LooResult
from bayesreg.estimator import LOG_LIKELIHOOD_CAP
from bayesreg.loo import loo_from_log_likelihood, pointwise_log_likelihood, psis_loo

LOO_KEYS = {"elpd_loo", "se", "p_loo", "n_obs", "n_draws", "pareto_k_max", "pareto_k_bad",
            "pareto_k_very_bad", "warning"}


@pytest.fixture(scope="module")
def lasso_fit(diabetes):
    X, y = diabetes
    return BayesianRegression(prior="lasso", alpha=0.01, draws=300, tune=300, chains=2,
                              seed=7).fit(X, y)


def scipy_log_lik(posterior, X, y):
    """(chain, draw, obs) log N(y | Xw + b, sigma), independently of bayesreg.loo."""
    mu = (posterior["intercept"].values[..., None]
          + np.einsum("cdp,np->cdn", posterior["coef"].values, np.asarray(X, dtype=float)))
    return stats.norm.logpdf(np.asarray(y, dtype=float), mu, posterior["sigma"].values[..., None])


# ArviZ warns when a Pareto k exceeds min(1 - 1/log10(S), 0.7): the reference call may say so
@pytest.mark.filterwarnings("ignore:Estimated shape parameter of Pareto:UserWarning:arviz")
def test_psis_loo_equals_arviz_loo_on_the_whole_log_likelihood(lasso_fit, diabetes):
    X, y = diabetes
    post = lasso_fit.posterior_.posterior
    ll = xr.Dataset({"y": (("chain", "draw", "obs_id"), scipy_log_lik(post, X, y))})
    ref = az.loo(az.InferenceData(posterior=post, log_likelihood=ll), pointwise=True)
    ours = psis_loo(lasso_fit.posterior_, X, y, pointwise=True)
    for key in ("elpd_loo", "se", "p_loo"):
        assert ours[key] == pytest.approx(ref[key], rel=1e-10)
    assert (ours["n_samples"], ours["n_data_points"]) == (600, 442)
    np.testing.assert_allclose(ours["loo_i"].values, ref["loo_i"].values, rtol=1e-10)
    np.testing.assert_allclose(ours["pareto_k"].values, ref["pareto_k"].values, rtol=1e-10)
    assert ours["pareto_k_bad"] == int((ref["pareto_k"].values > 0.7).sum())
    from_arviz, from_ours = LooResult.from_elpd(ref), LooResult.from_elpd(ours)  # ArviZ's too
    assert from_arviz.pareto_k_bad == from_ours.pareto_k_bad
    assert from_arviz.pareto_k_max == pytest.approx(from_ours.pareto_k_max, rel=1e-10)
    assert from_arviz.elpd_loo == pytest.approx(from_ours.elpd_loo, rel=1e-10)


def test_pointwise_log_likelihood_equals_scipy(lasso_fit, diabetes):
    X, y = diabetes
    ll = pointwise_log_likelihood(lasso_fit.posterior_, X, y)
    assert ll.dims == ("chain", "draw", "obs_id") and ll.shape == (2, 300, 442)
    np.testing.assert_allclose(ll.values, scipy_log_lik(lasso_fit.posterior_.posterior, X, y),
                               rtol=1e-12)


def test_chunked_equals_unchunked(lasso_fit, diabetes):
    X, y = diabetes
    whole = psis_loo(lasso_fit.posterior_, X, y, pointwise=True)
    # 7 rows per chunk: 442 = 63 x 7 + 1, so the last row joins the chunk before it
    chunked = psis_loo(lasso_fit.posterior_, X, y, pointwise=True, chunk_cells=600 * 7)
    for key in ("elpd_loo", "se", "p_loo", "pareto_k_max"):
        assert chunked[key] == pytest.approx(whole[key], rel=1e-12)
    np.testing.assert_allclose(chunked["pareto_k"].values, whole["pareto_k"].values, rtol=1e-12)
    np.testing.assert_array_equal(chunked["loo_i"]["obs_id"].values, np.arange(442))


def exact_ridge_loo(X, y, sigma, alpha):
    """log p(y_i | y_-i) of ridge with a known sigma and a flat intercept: Gaussian in closed
    form. The prior stays the full model's, w ~ N(0, sigma^2 / (n alpha)) with the full n."""
    n = len(y)
    Z = np.column_stack([np.ones(n), X])
    prior_prec = np.diag([0.0] + [n * alpha / sigma**2] * X.shape[1])
    out = []
    for i in range(n):
        keep = np.arange(n) != i
        A = Z[keep].T @ Z[keep] / sigma**2 + prior_prec
        mean = np.linalg.solve(A, Z[keep].T @ y[keep] / sigma**2)
        var = sigma**2 + Z[i] @ np.linalg.solve(A, Z[i])
        out.append(stats.norm.logpdf(y[i], Z[i] @ mean, np.sqrt(var)))
    return np.array(out)


def test_elpd_loo_of_exact_ridge_matches_the_closed_form_leave_one_out(rng):
    n, sigma, alpha = 40, 1.0, 0.05
    X = rng.normal(size=(n, 3))
    y = 1.0 + X @ np.array([1.0, -0.5, 0.0]) + sigma * rng.normal(size=n)
    ref = exact_ridge_loo(X, y, sigma, alpha)
    est = BayesianRegression(prior="ridge", alpha=alpha, sigma=sigma, method="exact",
                             draws=1000, chains=4, seed=3, log_likelihood=True).fit(X, y)
    elpd = est.loo(pointwise=True)  # from the stored group
    # 4000 independent draws: the PSIS estimate's Monte Carlo error on the sum was 0.006 to
    # 0.06 over five seeds; 0.2 is far below what a wrong model would give (the in-sample
    # lppd differs from elpd_loo by p_loo, about 4, here)
    assert elpd["elpd_loo"] == pytest.approx(ref.sum(), abs=0.2)
    np.testing.assert_allclose(elpd["loo_i"].values, ref, atol=0.1)
    assert elpd["p_loo"] == pytest.approx(4.0, abs=0.5)  # intercept and 3 mildly shrunk slopes
    again = psis_loo(est.posterior_, X, y)  # from the data, not the group
    assert again["elpd_loo"] == pytest.approx(elpd["elpd_loo"], rel=1e-12)


def test_bad_pareto_k_are_counted_and_warned_once_in_our_words():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 2))
    y = X @ np.array([1.0, 1.0]) + 0.1 * rng.normal(size=20)
    X[0], y[0] = [8.0, -8.0], 10.0  # a gross outlier at a high-leverage point
    est = BayesianRegression(prior="ridge", alpha=1e-4, sigma=0.1, method="exact", draws=500,
                             chains=2, seed=0).fit(X, y)
    with pytest.warns(UserWarning, match=r"observation\(s\) have Pareto k > 0.7") as record:
        elpd = est.loo(X, y, pointwise=True)
    assert len(record) == 1  # ArviZ's own warning does not leak
    k = elpd["pareto_k"].values
    result = LooResult.from_elpd(elpd)
    assert result.pareto_k_bad == int((k > 0.7).sum()) > 0
    assert result.pareto_k_very_bad == int((k > 1).sum()) > 0
    assert result.pareto_k_max == k.max()
    assert f"{result.pareto_k_bad} of 20 observation(s)" in result.warning
    assert str(record[0].message) == result.warning


def test_loo_result_to_dict_has_exactly_the_contract_keys(lasso_fit, diabetes):
    result = LooResult.from_elpd(lasso_fit.loo(*diabetes))
    d = result.to_dict()
    assert set(d) == LOO_KEYS
    assert (d["n_obs"], d["n_draws"], d["pareto_k_bad"], d["warning"]) == (442, 600, 0, None)
    assert d["elpd_loo"] < 0 and d["se"] > 0 and 0 < d["p_loo"] < 20


def test_log_likelihood_group_survives_save_and_load(tmp_path, diabetes):
    X, y = diabetes
    est = BayesianRegression(prior="ridge", alpha=0.01, method="exact", draws=100, chains=2,
                             seed=1, log_likelihood=True).fit(X, y)
    assert est.posterior_.log_likelihood["y"].dims == ("chain", "draw", "obs_id")
    est.save(tmp_path / "fit.nc")
    again = BayesianRegression.load(tmp_path / "fit.nc")
    assert "log_likelihood" in again.posterior_.groups()
    assert again.loo()["elpd_loo"] == est.loo()["elpd_loo"]
    assert est.loo()["elpd_loo"] == pytest.approx(psis_loo(est.posterior_, X, y)["elpd_loo"],
                                                  rel=1e-12)
    direct = loo_from_log_likelihood(again.posterior_, chunk_cells=200 * 50)
    assert direct["elpd_loo"] == pytest.approx(est.loo()["elpd_loo"], rel=1e-12)


def test_log_likelihood_above_the_cap_is_refused_before_sampling():
    n = LOG_LIKELIHOOD_CAP // 2000 + 1
    X = np.zeros((n, 1))
    X[:, 0] = np.arange(n) % 7
    y = X[:, 0] + (np.arange(n) % 3)
    est = BayesianRegression(draws=1000, chains=2, log_likelihood=True)
    with pytest.raises(InputError, match="exceeds the cap of 25,000,000") as err:
        est.fit(X, y)
    assert err.value.field == "log_likelihood"
    assert not hasattr(est, "coef_")


def test_loo_errors(lasso_fit, diabetes):
    X, y = diabetes
    with pytest.raises(InputError) as err:
        BayesianRegression(method="map").fit(X, y).loo(X, y)
    assert err.value.field == "method"
    with pytest.raises(InputError) as err:
        lasso_fit.loo()
    assert err.value.field == "X" and "log_likelihood=True" in str(err.value)
    with pytest.raises(InputError) as err:
        lasso_fit.loo(X)
    assert err.value.field == "y"
    with pytest.raises(InputError) as err:
        lasso_fit.loo(X.iloc[:, :3], y)
    assert err.value.field == "X"
    with pytest.raises(InputError) as err:
        psis_loo(lasso_fit.posterior_, X.iloc[:, :3], y)
    assert err.value.field == "X"
    with pytest.raises(InputError) as err:
        BayesianRegression(method="map", log_likelihood=True).fit(X, y)
    assert err.value.field == "log_likelihood"
    with pytest.raises(InputError) as err:
        BayesianRegression(log_likelihood="yes").fit(X, y)
    assert err.value.field == "log_likelihood"


def test_given_data_win_over_the_stored_group_and_must_match_its_rows(diabetes):
    X, y = diabetes
    est = BayesianRegression(prior="ridge", alpha=0.01, method="exact", draws=100, chains=2,
                             seed=1, log_likelihood=True).fit(X, y)
    half = slice(0, 200)   # other data than the group's: refused, not silently ignored
    with pytest.raises(InputError, match="stored log_likelihood has 442") as err:
        est.loo(X.iloc[half], y.iloc[half])
    assert err.value.field == "y"
    # the same data: computed from them, equal to the stored group's estimate
    assert est.loo(X, y)["elpd_loo"] == pytest.approx(est.loo()["elpd_loo"], rel=1e-12)
