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
    est = BayesianRegression(prior=prior, global_scale=0.5, draws=5000, tune=1000, chains=4,
                             seed=3).fit(X, y)
    with _naive_model(X, y, prior, TAU0_REF), warnings.catch_warnings():
        # the reference reports its own divergences (a few, at 0.99) as warnings; its draws
        # are checked against ours, quantile by quantile
        warnings.simplefilter("ignore")
        ref = pm.sample(draws=2500, tune=1000, chains=2, cores=1, random_seed=5,
                        target_accept=0.99, progressbar=False, compute_convergence_checks=False)
    ours, theirs = est.posterior_.posterior, ref.posterior
    for j in range(4):
        _agree(ours["coef"].values[..., j], theirs["w"].values[..., j], f"w{j}")
    _agree(ours["tau"].values, theirs["tau"].values, "tau")
    _agree(ours["sigma"].values, theirs["sigma"].values, "sigma")
    _agree(ours["intercept"].values, theirs["b"].values, "intercept")
