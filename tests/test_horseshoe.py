"""The horseshoe priors (:mod:`bayesreg.horseshoe`, :mod:`bayesreg.hs_kernel`).

The kernel must evaluate exactly the PyMC model's log density and gradient; the sampled
posterior must agree with an independent, naive PyMC model of the same spec (per-row
likelihood, centred) sampled long by ``pm.sample``, and pass simulation-based calibration;
the estimator keeps its contract (errors, coef_ as the posterior median, predict,
save / load, NaN MAP column).
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from bayesreg import BayesianRegression, InputError
from bayesreg.horseshoe import (DEFAULT_GLOBAL_SCALE, Horseshoe, build_horseshoe_model,
                                horseshoe_frame, reference_point)
from bayesreg.model import SuffStats, load_kernel

load_kernel("hs_kernel")
from bayesreg import hs_kernel  # noqa: E402  (loaded through load_kernel, as the sampler does)


def _data(rng, n, p, nonzero=2, noise=1.0):
    X = rng.normal(0.3, 1.0, (n, p)) * rng.uniform(0.5, 2.0, p)
    w = np.zeros(p)
    w[:nonzero] = rng.choice([-1, 1], nonzero) * rng.uniform(1.0, 3.0, nonzero)
    return X, X @ w + 0.7 + noise * rng.standard_normal(n)


def _frame(rng, prior, n, p, fit_intercept=True, sigma=None, standardize=False):
    X, y = _data(rng, n, p)
    stats = SuffStats.of(X, y, fit_intercept)
    spec = Horseshoe.create(prior, global_scale=0.3)
    return horseshoe_frame(stats, spec, reference_point(stats, sigma), standardize=standardize)


def _pymc_logp_and_grad(model):
    """PyMC's log density (Jacobians of its log transforms included) and its gradient."""
    order = ["z", "lambda_log__", "tau_log__", "c2_log__", "u", "v"]
    values = sorted(model.value_vars, key=lambda v: order.index(v.name))
    logp = model.logp()
    grad = pt.concatenate([pt.atleast_1d(g) for g in pt.grad(logp, values)])
    fn = pytensor.function(values, [logp, grad], mode="FAST_COMPILE")
    p = model.coords["coef"].__len__()

    def at(x):
        parts, i = [], 0
        for v in values:
            size = p if v.name in ("z", "lambda_log__") else 1
            parts.append(x[i:i + size] if size > 1 or v.name in ("z", "lambda_log__")
                         else np.array(x[i]))
            i += size
        return fn(*parts)
    return at


CASES = [("horseshoe", 60, 3, True, None), ("regularized_horseshoe", 60, 3, True, None),
         ("horseshoe", 40, 7, False, 1.3), ("regularized_horseshoe", 40, 7, True, 0.8),
         ("regularized_horseshoe", 12, 20, True, None), ("horseshoe", 12, 20, False, None)]


@pytest.mark.parametrize("prior,n,p,fit_intercept,sigma", CASES)
def test_kernel_equals_pymc_model(prior, n, p, fit_intercept, sigma):
    rng = np.random.default_rng(n + p)
    frame = _frame(rng, prior, n, p, fit_intercept, sigma, standardize=p == 7)
    assert (frame.X is not None) == (n < p)          # the data form when wide
    reference = _pymc_logp_and_grad(build_horseshoe_model(frame))
    buf = frame.to_buffer()
    for _ in range(5):
        x = rng.normal(0, 1.0, frame.dim)
        grad = np.zeros(frame.dim)
        value = hs_kernel.logp_and_grad(x, buf, grad)
        want, want_grad = reference(x)
        assert value == pytest.approx(float(want), rel=1e-9)
        np.testing.assert_allclose(grad, want_grad, rtol=1e-7, atol=1e-7 * np.abs(want_grad).max())


# ---------------------------------------------------------------- against a naive PyMC model
TAU0_REF = 0.5


def _naive_model(X, y, prior, tau0, slab_df=4.0, slab_scale=2.0):
    """The spec written plainly: per-row Normal likelihood, Half-Cauchy scales, Inv-Gamma slab,
    Jeffreys sigma (flat in log sigma), flat intercept; non-centred coefficients."""
    import pymc as pm

    with pm.Model() as model:
        log_sigma = pm.Flat("log_sigma")
        sigma = pm.Deterministic("sigma", pt.exp(log_sigma))
        tau = pm.HalfCauchy("tau", tau0)
        lam = pm.HalfCauchy("lam", 1.0, shape=X.shape[1])
        lam2 = lam**2
        if prior == "regularized_horseshoe":
            c2 = pm.InverseGamma("c2", slab_df / 2, slab_df * slab_scale**2 / 2)
            lam2 = c2 * lam2 / (c2 + tau**2 * lam2)
        z = pm.Normal("z", 0.0, 1.0, shape=X.shape[1])
        w = pm.Deterministic("w", sigma * tau * pt.sqrt(lam2) * z)
        b = pm.Flat("b")
        pm.Normal("y", b + pt.dot(X, w), sigma, observed=y)
    return model


def _agree(ours, ref, name, quantiles=(0.05, 0.25, 0.5, 0.75, 0.95), z=4.5):
    """Each quantile of the reference draws ``ref`` (chain, draw) must hold the same share of
    our draws, within ``z`` Monte Carlo standard errors from both chains' tail ESS."""
    import arviz as az

    ess = float(az.ess(ours, method="tail")) , float(az.ess(ref, method="tail"))
    for q in quantiles:
        share = float(np.mean(ours < np.quantile(ref, q)))
        se = np.sqrt(q * (1 - q) * (1 / ess[0] + 1 / ess[1]))
        assert abs(share - q) <= z * se, (name, q, share, se)


@pytest.mark.slow
@pytest.mark.parametrize("prior", ["horseshoe", "regularized_horseshoe"])
def test_posterior_matches_naive_pymc(prior):
    import warnings

    import pymc as pm

    rng = np.random.default_rng(7)
    X, y = _data(rng, 30, 4, nonzero=1)
    est = BayesianRegression(prior=prior, global_scale=0.5, draws=2500, tune=1000, chains=4,
                             seed=3).fit(X, y)
    with _naive_model(X, y, prior, TAU0_REF), warnings.catch_warnings():
        # the reference reports its own divergences (a few, at 0.99) as warnings; its draws
        # are checked against ours, quantile by quantile
        warnings.simplefilter("ignore")
        ref = pm.sample(draws=1500, tune=700, chains=2, cores=1, random_seed=5,
                        target_accept=0.99, progressbar=False, compute_convergence_checks=False)
    ours, theirs = est.posterior_.posterior, ref.posterior
    for j in range(4):
        _agree(ours["coef"].values[..., j], theirs["w"].values[..., j], f"w{j}")
    _agree(ours["tau"].values, theirs["tau"].values, "tau")
    _agree(ours["sigma"].values, theirs["sigma"].values, "sigma")
    _agree(ours["intercept"].values, theirs["b"].values, "intercept")


# ---------------------------------------------------------------- simulation-based calibration
def _sbc_ranks(prior, replicates, rng, n=20, p=2, tau0=0.5, draws=400, thin=4):
    """Ranks of the true w_j and log tau among thinned posterior draws, data drawn from the
    prior (known sigma = 1 and no intercept: the Jeffreys and flat priors cannot be drawn)."""
    from bayesreg.horseshoe import horseshoe_draws
    from bayesreg.model import sample_nutpie

    spec = Horseshoe.create(prior, global_scale=tau0)
    ranks = []
    for r in range(replicates):
        tau = tau0 * abs(rng.standard_cauchy())
        lam = np.abs(rng.standard_cauchy(p))
        lam2 = lam**2
        if spec.regularized:
            c2 = 1.0 / rng.gamma(spec.slab_df / 2, 1.0 / (spec.slab_df * spec.slab_scale**2 / 2))
            lam2 = c2 * lam2 / (c2 + tau**2 * lam2)
        w = tau * np.sqrt(lam2) * rng.standard_normal(p)
        X = rng.standard_normal((n, p))
        y = X @ w + rng.standard_normal(n)
        stats = SuffStats.of(X, y, fit_intercept=False)
        frame = horseshoe_frame(stats, spec, reference_point(stats, 1.0))
        x, _ = sample_nutpie(frame, draws=draws, tune=300, chains=1, seed=r, target_accept=0.99)
        post = horseshoe_draws(x, frame, stats)
        kept = slice(None, None, thin)
        truth = np.append(w, np.log(tau))
        sampled = np.column_stack([post["coef"][0, kept], np.log(post["tau"][0, kept])])
        ranks.append((sampled < truth).sum(axis=0))
    return np.array(ranks), draws // thin


@pytest.mark.slow
@pytest.mark.parametrize("prior", ["horseshoe", "regularized_horseshoe"])
def test_sbc_ranks_are_uniform(prior):
    from scipy import stats

    ranks, kept = _sbc_ranks(prior, 200, np.random.default_rng(11))
    bins = 10
    for k in range(ranks.shape[1]):
        counts = np.bincount(ranks[:, k] * bins // (kept + 1), minlength=bins)
        assert stats.chisquare(counts).pvalue > 1e-3, (prior, k, counts)


# ---------------------------------------------------------------- the estimator's contract
def test_expected_nonzero_sets_tau0_by_piironen_vehtari():
    spec = Horseshoe.create("horseshoe", expected_nonzero=3)
    assert spec.tau0(100, 20) == pytest.approx(3 / 17 / 10)
    assert Horseshoe.create("horseshoe", global_scale=0.02).tau0(100, 20) == 0.02
    assert Horseshoe.create("horseshoe").tau0(100, 20) == DEFAULT_GLOBAL_SCALE == 1.0
    for p0 in (20, 25):
        with pytest.raises(InputError, match=r"must be in the range \[1, p - 1\] = \[1, 19\]"):
            Horseshoe.create("horseshoe", expected_nonzero=p0).tau0(100, 20)


@pytest.mark.parametrize("params,field", [
    (dict(method="map"), "method"), (dict(method="exact"), "method"),
    (dict(learn_alpha=True), "learn_alpha"),
    (dict(global_scale=0.1, expected_nonzero=2), "global_scale"),
    (dict(global_scale=0.0), "global_scale"), (dict(expected_nonzero=0), "expected_nonzero"),
    (dict(expected_nonzero=1.5), "expected_nonzero"), (dict(slab_df=-1), "slab_df"),
    (dict(slab_scale=float("nan")), "slab_scale"), (dict(expected_nonzero=9), "expected_nonzero"),
])
def test_refusals_name_the_parameter(params, field):
    X, y = _data(np.random.default_rng(0), 30, 4)
    est = BayesianRegression(prior="regularized_horseshoe", **params)
    with pytest.raises(InputError) as err:
        est.fit(X, y)
    assert err.value.field == field
    if field == "method":
        assert "no finite mode" in str(err.value)


def test_horseshoe_parameters_are_validated_but_ignored_by_other_priors():
    X, y = _data(np.random.default_rng(0), 30, 4)
    with pytest.raises(InputError, match="slab_df"):
        BayesianRegression(prior="lasso", method="map", slab_df=0).fit(X, y)
    plain = BayesianRegression(prior="lasso", method="map").fit(X, y)
    other = BayesianRegression(prior="lasso", method="map", global_scale=3.0).fit(X, y)
    np.testing.assert_array_equal(plain.coef_, other.coef_)


@pytest.fixture(scope="module")
def sparse_fit():
    X, y = _data(np.random.default_rng(3), 80, 6, nonzero=2)
    est = BayesianRegression(prior="regularized_horseshoe", expected_nonzero=2, draws=500,
                             tune=500, chains=2, seed=4).fit(X, y)
    return est, X, y


def test_coef_is_the_posterior_median_and_predict_keeps_the_contract(sparse_fit):
    est, X, y = sparse_fit
    post = est.posterior_.posterior
    np.testing.assert_allclose(est.coef_, np.median(post["coef"].values.reshape(-1, 6), axis=0))
    assert est.intercept_ == pytest.approx(float(np.median(post["intercept"].values)))
    np.testing.assert_allclose(est.predict(X), X @ est.coef_ + est.intercept_)
    # the two true signals are kept, the four zeros shrunk far below them
    assert np.all(np.abs(est.coef_[:2]) > 0.8) and np.all(np.abs(est.coef_[2:]) < 0.2)
    pi = est.predict_interval(X[:3])
    assert np.all(pi.obs_low < pi.mean_low) and np.all(pi.mean_high < pi.obs_high)


def test_summary_has_no_map_and_to_dict_is_json_safe(sparse_fit):
    import json

    est = sparse_fit[0]
    table = est.summary()
    assert list(table.index) == [f"x{j}" for j in range(6)] + ["intercept", "sigma", "tau", "c"]
    assert table["map"].isna().all() and table["map_in_hdi"].isna().all()
    out = est.to_dict()
    json.dumps(out, allow_nan=False)
    assert out["map"]["coef"] == [None] * 6 and out["posterior"]["tau"]["map"] is None
    assert est.summary(hdi_prob=0.5).loc["tau", "hdi_low"] > table.loc["tau", "hdi_low"]


def test_save_load_round_trip(sparse_fit, tmp_path):
    est, X, _ = sparse_fit
    est.save(tmp_path / "hs.nc")
    again = BayesianRegression.load(tmp_path / "hs.nc")
    assert again.to_dict() == est.to_dict()
    np.testing.assert_array_equal(again.coef_, est.coef_)
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    assert again.summary().equals(est.summary())


def test_command_line_fits_a_horseshoe_like_python(capsys):
    from bayesreg import load_diabetes
    from service.cli import main

    args = ["fit", "--prior", "horseshoe", "--global-scale", "0.5", "--draws", "200", "--tune",
            "200", "--chains", "2", "--seed", "2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "no mode: coef_ is the posterior median" in out and "tau" in out
    X, y = load_diabetes()
    est = BayesianRegression(prior="horseshoe", global_scale=0.5, draws=200, tune=200,
                             chains=2, seed=2).fit(X, y)
    row = next(line.split() for line in out.splitlines() if line.startswith("bmi "))
    median = est.summary().loc["bmi", "median"]
    assert row[1] == "NaN" and float(row[4]) == pytest.approx(median, abs=1e-4)
    assert main(["fit", "--prior", "horseshoe", "--method", "map"]) == 2
    assert "no finite mode" in capsys.readouterr().err


def test_loo_of_a_horseshoe_is_arviz_on_the_draws(sparse_fit):
    import arviz as az
    from scipy import stats

    est, X, y = sparse_fit
    post = est.posterior_.posterior
    mu = post["intercept"].values[..., None] + post["coef"].values @ X.T
    loglik = stats.norm.logpdf(y, mu, post["sigma"].values[..., None])
    loglik = az.from_dict(log_likelihood={"y": loglik}).log_likelihood
    want = az.loo(az.InferenceData(posterior=post, log_likelihood=loglik))
    got = est.loo(X, y)
    assert got.elpd_loo == pytest.approx(want.elpd_loo, rel=1e-9)
