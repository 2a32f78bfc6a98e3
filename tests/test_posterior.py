"""Posterior against the conjugate closed form and against Park & Casella (2008).

Sampling tests are small and seeded; one compiled sampler kernel serves them all.
"""

import arviz as az
import numpy as np
import pytest
from scipy import stats

from bayesreg import BayesianRegression, alpha_from_park_casella


def _ridge_closed_form(X, y, alpha, sigma):
    n, p = X.shape
    Xc, yc = X - X.mean(0), y - y.mean()
    cov = np.linalg.inv(Xc.T @ Xc + n * alpha * np.eye(p))
    return cov @ Xc.T @ yc, sigma**2 * cov


@pytest.fixture(scope="module")
def ridge_data():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((120, 5)) * [1, 2, 0.5, 1, 3]
    y = X @ np.array([1.0, -0.5, 2.0, 0.0, 0.3]) + 4 + 1.3 * rng.standard_normal(120)
    return X, y


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


def test_save_and_load_roundtrip(tmp_path, ridge_data):
    X, y = ridge_data
    est = BayesianRegression(prior="ridge", alpha=0.2, seed=4, method="exact").fit(X, y)
    path = tmp_path / "fit.nc"
    est.save(path)
    back = BayesianRegression.load(path)
    np.testing.assert_array_equal(back.coef_, est.coef_)
    assert back.to_dict() == est.to_dict()
    np.testing.assert_allclose(back.predict_interval(X[:4]).obs_high, est.predict_interval(X[:4]).obs_high)
    assert az.from_netcdf(path).posterior["coef"].shape == (4, 1000, 5)
    est_map = BayesianRegression(prior="lasso", alpha=0.1, method="map").fit(X, y)
    est_map.save(tmp_path / "map.nc")
    assert BayesianRegression.load(tmp_path / "map.nc").to_dict() == est_map.to_dict()


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


def test_to_dict_is_json_safe(diabetes):
    import json

    X, y = diabetes
    est = BayesianRegression(prior="elastic_net", alpha=0.01, draws=200, tune=200, chains=2,
                             seed=1).fit(X, y)
    d = json.loads(json.dumps(est.to_dict(), allow_nan=False))
    assert [c["name"] for c in d["posterior"]["coef"]] == list(X.columns)
    assert d["map"]["coef"] == pytest.approx(list(est.coef_))
    assert d["diagnostics"] == est.diagnostics_      # finite numbers: JSON keeps them as they are
    assert d["diagnostics"]["divergences"] == int(est.posterior_.sample_stats["diverging"].sum())
    assert d["diagnostics"]["max_r_hat"] == est.summary()["r_hat"].max()


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


def test_load_keeps_feature_names_numpy_params_and_closed_form(tmp_path, ridge_data):
    import pandas as pd

    X, y = ridge_data
    frame = pd.DataFrame(X, columns=list("abcde"))
    est = BayesianRegression(prior="ridge", alpha=np.float32(0.2), seed=np.int64(4),
                             standardize=np.bool_(False), method="exact").fit(frame, y)
    est.save(tmp_path / "fit.nc")
    back = BayesianRegression.load(tmp_path / "fit.nc")
    with pytest.raises(ValueError, match="feature names"):
        back.predict(frame[list("edcba")])
    with pytest.raises(ValueError, match="feature names"):
        back.predict_interval(frame[list("edcba")])
    np.testing.assert_array_equal(back.predict(frame), est.predict(frame))
    # the loaded exact fit still answers other hdi_probs in closed form
    pd.testing.assert_frame_equal(back.summary(hdi_prob=0.5), est.summary(hdi_prob=0.5))


def test_load_reads_the_file_and_closes_it(tmp_path, ridge_data):
    # a loaded estimator must not pin its file: the service deletes fits (freeing their space)
    # while loaded models stay cached
    import glob
    import os

    X, y = ridge_data
    path = tmp_path / "m.nc"
    BayesianRegression(prior="ridge", alpha=0.1, seed=1, method="exact").fit(X, y).save(path)
    est = BayesianRegression.load(path)
    held = {os.path.realpath(fd) for fd in glob.glob("/proc/self/fd/*")}
    assert str(path.resolve()) not in held
    before = est.predict_interval(X[:3]).mean
    os.remove(path)
    np.testing.assert_array_equal(est.predict_interval(X[:3]).mean, before)


def test_exact_fit_stores_the_covariance_diagonal_not_a_p_by_p_matrix(tmp_path):
    # model.nc held the p x p covariance as JSON text (97 MB at p = 2000); only its diagonal
    # is read after load
    import json

    import xarray as xr

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 300))
    y = X[:, 0] + rng.normal(size=400)
    est = BayesianRegression(prior="ridge", alpha=0.5, draws=50, chains=2, seed=0,
                             method="exact")
    est.fit(X, y).save(tmp_path / "m.nc")
    meta = json.loads(xr.open_dataset(tmp_path / "m.nc", group="posterior",
                                      engine="h5netcdf").attrs["bayesreg"])
    assert np.asarray(meta["exact"]["a_inv"]).shape == (300,)
    back = BayesianRegression.load(tmp_path / "m.nc")
    np.testing.assert_allclose(back.summary()["sd"].to_numpy(), est.summary()["sd"].to_numpy(),
                               rtol=1e-12)


def test_deprecated_names_still_work_and_warn(diabetes):
    """``random_seed=`` (now ``seed=``) and ``fit(method=)`` (now the constructor's) keep working,
    with a FutureWarning naming the replacement, and give the same fit."""
    X, y = diabetes
    new = BayesianRegression(seed=3, method="exact", prior="ridge").fit(X, y)
    with pytest.warns(FutureWarning, match="use seed="):
        old = BayesianRegression(random_seed=3, method="exact", prior="ridge").fit(X, y)
    def result(est):
        return {k: v for k, v in est.to_dict().items() if k != "timing"}
    assert result(old) == result(new) and old.seed_ == new.seed_ == 3
    with pytest.warns(FutureWarning, match=r"BayesianRegression\(method=\.\.\.\)"):
        old = BayesianRegression(seed=3, prior="ridge").fit(X, y, method="exact")
    assert result(old) == result(new)
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="give only seed"):
        BayesianRegression(seed=1, random_seed=2).fit(X, y)


def _as_older_file(path, est, older):
    """``est`` saved as before the summary was dropped from model.nc: the table (in the JSON
    split form that save wrote) beside the params and state in the attrs."""
    import json

    import pandas as pd

    s = est.summary()
    with az.rc_context({"data.load": "eager"}):
        idata = az.from_netcdf(str(path))
    meta = json.loads(idata.posterior.attrs["bayesreg"])
    assert "summary" not in meta                                    # stored once: no table
    meta["summary"] = {"index": list(s.index), "columns": list(s.columns),
                       "data": [[v.item() if hasattr(v, "item") else v for v in row]
                                for row in s.itertuples(index=False)]}
    idata.posterior.attrs["bayesreg"] = json.dumps(meta)
    idata.to_netcdf(str(older))
    split = meta["summary"]
    return pd.DataFrame(split["data"], index=split["index"], columns=split["columns"])


@pytest.mark.parametrize("kw", [
    {"prior": "ridge", "alpha": 0.2, "method": "exact", "seed": 4},
    {"prior": "lasso", "alpha": 0.1, "learn_alpha": True, "draws": 150, "tune": 150,
     "chains": 2, "seed": 3},
    {"prior": "elastic_net", "alpha": 0.1, "sigma": 1.3, "draws": 150, "tune": 150,
     "chains": 2, "seed": 5},                                  # a constant sigma: NaN r_hat
])
def test_load_recomputes_the_summary_exactly_and_reads_older_files(tmp_path, ridge_data, kw,
                                                                   monkeypatch):
    """model.nc no longer stores the summary table (SQLite has the result): load recomputes
    it, on first use, from the draws (or the exact posterior) and the MAP, and that equals, to
    the bit, the table of the fit and the table an older file stores."""
    import pandas as pd

    from bayesreg import diagnostics

    X, y = ridge_data
    est = BayesianRegression(**kw).fit(X, y)
    est.save(tmp_path / "m.nc")
    calls = []
    summarize = diagnostics.summarize
    monkeypatch.setattr(diagnostics, "summarize", lambda *a: calls.append(1) or summarize(*a))
    back = BayesianRegression.load(tmp_path / "m.nc")
    back.predict_interval(X[:3])
    assert calls == []                                   # a prediction needs only the draws
    pd.testing.assert_frame_equal(back.summary(), est.summary(), check_exact=True)
    back.summary()
    assert calls == [1]                                  # computed once
    assert back.to_dict() == est.to_dict()
    stored = _as_older_file(tmp_path / "m.nc", est, tmp_path / "older.nc")
    old = BayesianRegression.load(tmp_path / "older.nc")
    pd.testing.assert_frame_equal(old.summary(), stored, check_exact=True, check_dtype=False)
    assert old.to_dict() == est.to_dict()
