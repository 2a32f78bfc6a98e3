"""bayesreg.priors against closed forms, scipy's densities and quadrature, and scikit-learn.

Each ``alpha_from_*`` helper is checked twice: against the formula in the README's table, and
by what it is for: the prior it produces is the distribution it names (scipy.stats), and a fit
with it is the estimate the other convention gives (scikit-learn, a hand-written solve, a
scipy.optimize minimization of the per-row negative log posterior).
"""

import math

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats
from sklearn.linear_model import ElasticNet, Lasso, Ridge

from bayesreg import BayesianRegression
from bayesreg._validation import InputError
from bayesreg.priors import (PRIORS, Prior, alpha_from_gaussian_sd, alpha_from_laplace_scale,
                             alpha_from_park_casella, alpha_from_sklearn_ridge, log_normalizer)


def _data(seed, n=60, p=3, noise=0.8):
    rng = np.random.default_rng(seed)
    X = rng.normal(1.0, 1.5, (n, p))
    y = X @ np.array([1.2, -0.7, 0.05][:p]) + 2.5 + rng.normal(0, noise, n)
    return X, y


def _log_prior(prior, w, sigma, n):
    """The coefficients' log prior up to a constant, as the README states it:
    log p(w | sigma^2) = -(n / sigma^2) * penalty(w) + const."""
    return -(n / sigma**2) * prior.penalty(w)


# ---------------------------------------------------------------------------- the helpers
@pytest.mark.parametrize("tau,sigma,n", [(0.5, 1.0, 100), (2.0, 0.3, 7), (1e-3, 5.0, 1)])
def test_alpha_from_gaussian_sd_is_the_table_formula(tau, sigma, n):
    assert alpha_from_gaussian_sd(tau, sigma, n) == pytest.approx(sigma**2 / (n * tau**2), rel=1e-15)


@pytest.mark.parametrize("b,sigma,n", [(0.5, 1.0, 100), (2.0, 0.3, 7), (1e-3, 5.0, 1)])
def test_alpha_from_laplace_scale_is_the_table_formula(b, sigma, n):
    assert alpha_from_laplace_scale(b, sigma, n) == pytest.approx(sigma**2 / (n * b), rel=1e-15)


@pytest.mark.parametrize("lam,sigma,n", [(0.5, 1.0, 100), (2.0, 0.3, 7), (1e-3, 5.0, 1)])
def test_alpha_from_park_casella_is_the_table_formula(lam, sigma, n):
    assert alpha_from_park_casella(lam, sigma, n) == pytest.approx(lam * sigma / n, rel=1e-15)


@pytest.mark.parametrize("a,n", [(0.0, 10), (1.0, 10), (37.5, 442)])
def test_alpha_from_sklearn_ridge_is_the_table_formula(a, n):
    assert alpha_from_sklearn_ridge(a, n) == pytest.approx(a / n, rel=1e-15)


def test_gaussian_sd_gives_the_normal_prior_with_that_sd():
    """With alpha from the helper, the ridge prior's variance sigma^2/(n alpha) is tau^2, and its
    log density differences are scipy's N(0, tau^2)'s."""
    tau, sigma, n = 0.37, 1.9, 250
    alpha = alpha_from_gaussian_sd(tau, sigma, n)
    assert sigma**2 / (n * alpha) == pytest.approx(tau**2, rel=1e-14)
    prior = Prior.create("ridge", alpha)
    rng = np.random.default_rng(1)
    w0 = rng.normal(0, 1, 4)
    for w in rng.normal(0, 1, (5, 4)):
        ours = _log_prior(prior, w, sigma, n) - _log_prior(prior, w0, sigma, n)
        ref = stats.norm.logpdf(w, 0, tau).sum() - stats.norm.logpdf(w0, 0, tau).sum()
        assert ours == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("helper,scale", [
    (lambda b, sigma, n: alpha_from_laplace_scale(b, sigma, n), lambda b, sigma: b),
    (lambda lam, sigma, n: alpha_from_park_casella(lam, sigma, n), lambda lam, sigma: sigma / lam),
], ids=["laplace_scale", "park_casella"])
def test_laplace_helpers_give_the_laplace_prior_with_that_scale(helper, scale):
    """The lasso prior's scale sigma^2/(n alpha) is b (Laplace scale) or sigma/lambda (Park &
    Casella), and its log density differences are scipy's Laplace(0, scale)'s."""
    arg, sigma, n = 0.6, 1.7, 90
    alpha = helper(arg, sigma, n)
    expected_scale = scale(arg, sigma)
    assert sigma**2 / (n * alpha) == pytest.approx(expected_scale, rel=1e-14)
    prior = Prior.create("lasso", alpha)
    rng = np.random.default_rng(2)
    w0 = rng.normal(0, 1, 3)
    for w in rng.normal(0, 2, (5, 3)):
        ours = _log_prior(prior, w, sigma, n) - _log_prior(prior, w0, sigma, n)
        ref = (stats.laplace.logpdf(w, 0, expected_scale).sum()
               - stats.laplace.logpdf(w0, 0, expected_scale).sum())
        assert ours == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_sklearn_ridge_helper_gives_sklearns_ridge(fit_intercept):
    X, y = _data(3)
    n = len(y)
    for a in (0.5, 12.0, 300.0):
        ours = BayesianRegression(prior="ridge", alpha=alpha_from_sklearn_ridge(a, n),
                                  fit_intercept=fit_intercept, method="map").fit(X, y)
        ref = Ridge(alpha=a, fit_intercept=fit_intercept, solver="cholesky").fit(X, y)
        np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-10, atol=1e-12)
        assert ours.intercept_ == pytest.approx(ref.intercept_, rel=1e-10, abs=1e-12)
    # and the helper is needed: alpha = a itself is a different (much stronger) penalty
    wrong = BayesianRegression(prior="ridge", alpha=12.0, fit_intercept=fit_intercept, method="map").fit(
        X, y)
    assert np.abs(wrong.coef_ - Ridge(alpha=12.0, fit_intercept=fit_intercept).fit(X, y).coef_).max() > 0.1


def test_gaussian_sd_helper_gives_the_textbook_conjugate_posterior():
    """Known sigma, w ~ N(0, tau^2 I), flat intercept: the posterior of w is
    N(A^{-1} Xc'yc / sigma^2, A^{-1}) with A = Xc'Xc / sigma^2 + I / tau^2 (centring integrates
    out the flat intercept). bayesreg's exact posterior with alpha_from_gaussian_sd is that."""
    X, y = _data(4, n=40, p=3, noise=0.7)
    n, p = X.shape
    tau, sigma = 0.3, 0.7
    est = BayesianRegression(prior="ridge", alpha=alpha_from_gaussian_sd(tau, sigma, n),
                             sigma=sigma, hdi_prob=0.9, method="exact").fit(X, y)
    Xc, yc = X - X.mean(0), y - y.mean()
    cov = np.linalg.inv(Xc.T @ Xc / sigma**2 + np.eye(p) / tau**2)
    mean = cov @ Xc.T @ yc / sigma**2
    s = est.summary()
    rows = list(est.feature_names_)
    np.testing.assert_allclose(est.coef_, mean, rtol=1e-10)
    np.testing.assert_allclose(s.loc[rows, "mean"], mean, rtol=1e-10)
    np.testing.assert_allclose(s.loc[rows, "sd"], np.sqrt(np.diag(cov)), rtol=1e-8)
    half = stats.norm.ppf(0.95) * np.sqrt(np.diag(cov))
    np.testing.assert_allclose(s.loc[rows, "hdi_low"], mean - half, rtol=1e-8)
    np.testing.assert_allclose(s.loc[rows, "hdi_high"], mean + half, rtol=1e-8)
    # the intercept b = ybar - xbar'w + e, e ~ N(0, sigma^2/n) independent of w
    xbar = X.mean(0)
    assert s.loc["intercept", "mean"] == pytest.approx(y.mean() - xbar @ mean, rel=1e-10)
    assert s.loc["intercept", "sd"] == pytest.approx(
        math.sqrt(sigma**2 / n + xbar @ cov @ xbar), rel=1e-8)


def _laplace_map(X, y, sigma, scale):
    """argmax over (w, b) of sum log N(y | Xw + b, sigma^2) + sum log Laplace(w | 0, scale),
    by L-BFGS-B on the smooth split w = u - v, u, v >= 0 (where |w| = u + v at the optimum)."""
    n, p = X.shape

    def neg(theta):
        u, v, b = theta[:p], theta[p:2 * p], theta[-1]
        w = u - v
        r = y - X @ w - b
        f = 0.5 * (r @ r) / sigma**2 + (u + v).sum() / scale
        g_w = -(X.T @ r) / sigma**2
        return f, np.concatenate([g_w + 1 / scale, -g_w + 1 / scale, [-r.sum() / sigma**2]])

    bounds = [(0, None)] * (2 * p) + [(None, None)]
    res = optimize.minimize(neg, np.zeros(2 * p + 1), jac=True, method="L-BFGS-B", bounds=bounds,
                            options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10_000})
    return res.x[:p] - res.x[p:2 * p], res.x[-1]


@pytest.mark.parametrize("which", ["laplace_scale", "park_casella"])
def test_laplace_helpers_give_the_bayesian_lasso_mode(which):
    """The lasso MAP with alpha from the helper is the mode of the per-row model with a
    Laplace(0, scale) prior on each coefficient, found independently by scipy.optimize
    (and one coefficient is exactly 0 there)."""
    X, y = _data(5, n=60, p=3, noise=0.8)
    n = len(y)
    sigma = 0.8
    if which == "laplace_scale":
        scale = 0.02
        alpha = alpha_from_laplace_scale(scale, sigma, n)
    else:
        lam = 40.0
        scale = sigma / lam
        alpha = alpha_from_park_casella(lam, sigma, n)
    w_ref, b_ref = _laplace_map(X, y, sigma, scale)
    est = BayesianRegression(prior="lasso", alpha=alpha, sigma=sigma, method="map").fit(X, y)
    np.testing.assert_allclose(est.coef_, w_ref, atol=2e-6)
    assert est.intercept_ == pytest.approx(b_ref, abs=2e-5)
    assert est.coef_[2] == 0.0 and abs(w_ref[2]) < 1e-6   # the weak feature is dropped
    assert np.all(est.coef_[:2] != 0)


@pytest.mark.parametrize("call,field", [
    (lambda: alpha_from_gaussian_sd(0.0, 1.0, 10), "tau"),
    (lambda: alpha_from_gaussian_sd(-1.0, 1.0, 10), "tau"),
    (lambda: alpha_from_gaussian_sd(1.0, 0.0, 10), "sigma"),
    (lambda: alpha_from_gaussian_sd(1.0, 1.0, 0), "n"),
    (lambda: alpha_from_gaussian_sd(float("nan"), 1.0, 10), "tau"),
    (lambda: alpha_from_laplace_scale(0.0, 1.0, 10), "b"),
    (lambda: alpha_from_laplace_scale(1.0, -2.0, 10), "sigma"),
    (lambda: alpha_from_laplace_scale(1.0, 1.0, -5), "n"),
    (lambda: alpha_from_park_casella(0.0, 1.0, 10), "lam"),
    (lambda: alpha_from_park_casella(1.0, 0.0, 10), "sigma"),
    (lambda: alpha_from_park_casella(1.0, 1.0, 0), "n"),
    (lambda: alpha_from_park_casella(1.0, float("nan"), 3), "sigma"),
    (lambda: alpha_from_sklearn_ridge(-0.1, 10), "ridge_alpha"),
    (lambda: alpha_from_sklearn_ridge(1.0, 0), "n"),
])
def test_helpers_reject_non_positive_values_naming_the_argument(call, field):
    with pytest.raises(InputError) as info:
        call()
    assert isinstance(info.value, ValueError) and info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_sklearn_ridge_helper_rejects_nan():
    with pytest.raises(InputError) as info:
        alpha_from_sklearn_ridge(float("nan"), 10)
    assert info.value.field == "ridge_alpha"


# ---------------------------------------------------------------------------- log_normalizer
def _quad_log_normalizer(a, b):
    """log int exp(-a|w| - b w^2 / 2) dw by quadrature: twice the integral over w > 0, with w
    measured in the density's own width s (1/a or 1/sqrt(b), whichever is smaller) so that
    quad sees a function of unit width whatever a and b are."""
    widths = [1 / a] if a > 0 else []
    widths += [1 / math.sqrt(b)] if b > 0 else []
    s = min(widths)
    f = lambda t: math.exp(-a * s * t - 0.5 * b * (s * t) ** 2)  # noqa: E731
    head, _ = integrate.quad(f, 0, 50, epsabs=0, epsrel=1e-13, limit=200)
    tail, _ = integrate.quad(f, 50, np.inf, epsabs=0, epsrel=1e-13, limit=200)
    return math.log(2 * s) + math.log(head + tail)


GRID = [0.0, 1e-8, 1e-3, 0.3, 1.0, 4.0, 50.0, 1e4, 1e8]


@pytest.mark.parametrize("a,b", [(a, b) for a in GRID for b in GRID if a or b])
def test_log_normalizer_equals_quadrature(a, b):
    assert log_normalizer(a, b) == pytest.approx(_quad_log_normalizer(a, b), rel=1e-10, abs=1e-10)


def test_log_normalizer_pure_forms_and_limits():
    """b = 0 is the Laplace normalizer log(2/a), a = 0 the Normal one log sqrt(2 pi / b); the
    mixed formula tends to each as the other coefficient vanishes, and stays finite where
    exp(a^2 / 2b) erfc(a / sqrt(2b)) overflows or underflows in the naive form."""
    for a in (1e-6, 0.5, 3.0, 1e6):
        assert log_normalizer(a, 0.0) == pytest.approx(math.log(2 / a), rel=1e-14)
        assert log_normalizer(a, 1e-300) == pytest.approx(math.log(2 / a), rel=1e-12, abs=1e-12)
    for b in (1e-6, 0.5, 3.0, 1e6):
        assert log_normalizer(0.0, b) == pytest.approx(0.5 * math.log(2 * math.pi / b), rel=1e-14)
        assert log_normalizer(1e-300, b) == pytest.approx(0.5 * math.log(2 * math.pi / b), rel=1e-12)
    # a / sqrt(2b) = 1e5: the naive form is exp(1e10) * erfc(1e5) = inf * 0
    with np.errstate(all="ignore"):
        naive = math.log(2) + 0.5 * math.log(math.pi / 2) + np.log(np.exp(1e10) * special.erfc(1e5))
    assert not np.isfinite(naive)
    value = log_normalizer(1e5 * math.sqrt(2), 1.0)
    assert np.isfinite(value)
    # asymptotically erfcx(x) ~ 1 / (x sqrt(pi)) (1 - 1/(2x^2)): the Laplace limit log(2/a)
    assert value == pytest.approx(math.log(2 / (1e5 * math.sqrt(2))) + math.log1p(-0.5e-10), rel=1e-12)


def test_log_normalizer_normalizes_the_elastic_net_prior():
    """exp(-a|w| - b w^2/2 - log_normalizer(a, b)) integrates to 1 and has scipy's moments in
    the pure cases (a Laplace of scale 1/a, a Normal of sd 1/sqrt(b))."""
    for a, b in [(0.7, 2.0), (3.0, 0.05), (0.05, 9.0)]:
        c = log_normalizer(a, b)
        density = lambda w: math.exp(-a * abs(w) - 0.5 * b * w * w - c)  # noqa: E731,B023
        total = 2 * integrate.quad(density, 0, np.inf, epsabs=0, epsrel=1e-12)[0]
        assert total == pytest.approx(1.0, rel=1e-10)
    assert math.exp(-log_normalizer(2.5, 0.0)) == pytest.approx(stats.laplace.pdf(0, scale=1 / 2.5))
    assert math.exp(-log_normalizer(0.0, 4.0)) == pytest.approx(stats.norm.pdf(0, scale=0.5))


def test_log_normalizer_broadcasts_elementwise():
    a = np.array([[0.0], [0.5], [30.0]])
    b = np.array([0.0, 2.0, 1e-9, 7.0])
    a_b, b_b = np.broadcast_arrays(a, b)
    out = log_normalizer(a, b)
    assert out.shape == (3, 4)
    for i in range(3):
        for j in range(4):
            if a_b[i, j] == 0 and b_b[i, j] == 0:
                assert out[i, j] == np.inf
            else:
                assert out[i, j] == log_normalizer(float(a_b[i, j]), float(b_b[i, j]))
    assert isinstance(log_normalizer(1.0, 1.0), float)   # a scalar in, a scalar out


# ---------------------------------------------------------------------------- Prior
@pytest.mark.parametrize("name,l1_ratio,expected_ratio", [
    ("ridge", 0.7, 0.0), ("lasso", 0.2, 1.0), ("elastic_net", 0.35, 0.35),
    ("elastic_net", 0.0, 0.0), ("elastic_net", 1.0, 1.0)])
def test_create_fixes_the_l1_ratio_of_ridge_and_lasso(name, l1_ratio, expected_ratio):
    prior = Prior.create(name, 0.4, l1_ratio)
    assert (prior.name, prior.alpha, prior.l1_ratio) == (name, 0.4, expected_ratio)
    assert PRIORS[name] in (None, expected_ratio)


@pytest.mark.parametrize("name,alpha,l1_ratio,kind", [
    ("ridge", 0.1, 0.5, "normal"), ("lasso", 0.1, 0.5, "laplace"),
    ("elastic_net", 0.1, 0.5, "mixed"), ("elastic_net", 0.1, 0.0, "normal"),
    ("elastic_net", 0.1, 1.0, "laplace"), ("ridge", 0.0, 0.5, "flat"),
    ("lasso", 0, 0.5, "flat"), ("elastic_net", 0.0, 0.3, "flat")])
def test_kind_is_the_shape_of_the_density(name, alpha, l1_ratio, kind):
    assert Prior.create(name, alpha, l1_ratio).kind == kind


@pytest.mark.parametrize("name,alpha,l1_ratio,field", [
    ("horseshoe", 0.1, 0.5, "prior"), ("Ridge", 0.1, 0.5, "prior"), (None, 0.1, 0.5, "prior"),
    ("ridge", -1e-9, 0.5, "alpha"), ("lasso", float("nan"), 0.5, "alpha"),
    ("lasso", float("inf"), 0.5, "alpha"), ("lasso", "0.1", 0.5, "alpha"),
    ("elastic_net", 0.1, -0.01, "l1_ratio"), ("elastic_net", 0.1, 1.01, "l1_ratio"),
    ("ridge", 0.1, 2.0, "l1_ratio"),  # checked even where the prior ignores it
])
def test_create_rejects_bad_values_naming_the_argument(name, alpha, l1_ratio, field):
    with pytest.raises(InputError) as info:
        Prior.create(name, alpha, l1_ratio)
    assert info.value.field == field


@pytest.mark.parametrize("name,l1_ratio", [("ridge", 0.5), ("lasso", 0.5), ("elastic_net", 0.3)])
def test_penalty_is_the_elastic_net_objectives_penalty(name, l1_ratio):
    """By hand: alpha (rho sum|w| + (1 - rho)/2 sum w^2), for a vector and for one scalar."""
    alpha = 0.27
    prior = Prior.create(name, alpha, l1_ratio)
    rho = prior.l1_ratio
    w = [0.5, -1.25, 0.0, 3.0]
    by_hand = alpha * (rho * (0.5 + 1.25 + 0.0 + 3.0) + 0.5 * (1 - rho) * (0.25 + 1.5625 + 9.0))
    assert prior.penalty(w) == pytest.approx(by_hand, rel=1e-15)
    assert prior.penalty(np.zeros(4)) == 0.0
    assert Prior.create(name, 0.0, l1_ratio).penalty(w) == 0.0


@pytest.mark.parametrize("name,l1_ratio", [("lasso", 1.0), ("elastic_net", 0.4), ("ridge", 0.0)])
def test_penalty_is_what_sklearn_minimizes(name, l1_ratio):
    """scikit-learn's Lasso / ElasticNet minimize 1/(2n)||yc - Xc w||^2 + penalty(w): its solution
    makes that objective stationary (zero gradient on the nonzero coefficients; on zero ones
    the data gradient within the L1 subgradient band)."""
    X, y = _data(6, n=80, p=3)
    n = len(y)
    alpha = 0.15
    prior = Prior.create(name, alpha, l1_ratio)
    if name == "ridge":  # Ridge(alpha=a) minimizes ||yc - Xc w||^2 + a ||w||^2: a = n alpha
        ref = Ridge(alpha=n * alpha, solver="cholesky").fit(X, y)
    elif name == "lasso":
        ref = Lasso(alpha=alpha, tol=1e-14, max_iter=100_000).fit(X, y)
    else:
        ref = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-14, max_iter=100_000).fit(X, y)
    w = ref.coef_
    Xc, yc = X - X.mean(0), y - y.mean()

    def objective(w):
        r = yc - Xc @ w
        return (r @ r) / (2 * n) + prior.penalty(w)

    # the smooth part's gradient by central differences of the objective, coordinate by coordinate
    h = 1e-6
    for j in range(len(w)):
        e = np.zeros_like(w)
        e[j] = h
        if w[j] != 0:
            grad = (objective(w + e) - objective(w - e)) / (2 * h)
            assert abs(grad) < 1e-6, (j, grad)
        else:  # a kink: both one-sided slopes point uphill
            assert objective(w + e) >= objective(w) and objective(w - e) >= objective(w)
    # and the optimum is a minimum of exactly this objective: nearby points are not lower
    rng = np.random.default_rng(0)
    for d in rng.normal(0, 1e-3, (50, len(w))):
        assert objective(w + d) >= objective(w) - 1e-14
    # a penalty without the 1/2 on the L2 term would have its optimum elsewhere: shrinking w
    # lowers it to first order
    if prior.l1_ratio < 1:
        wrong = lambda w: objective(w) + 0.5 * alpha * (1 - prior.l1_ratio) * (w @ w)  # noqa: E731
        assert wrong(w * (1 - 1e-3)) < wrong(w)


@pytest.mark.parametrize("name,alpha,l1_ratio", [("ridge", 0.2, 0.5), ("lasso", 1.5, 0.5),
                                                 ("elastic_net", 0.05, 0.25)])
def test_to_dict_round_trips_and_str_names_the_prior(name, alpha, l1_ratio):
    prior = Prior.create(name, alpha, l1_ratio)
    d = prior.to_dict()
    assert d == {"name": name, "alpha": alpha, "l1_ratio": prior.l1_ratio}
    assert all(type(v) in (str, float) for v in d.values())   # plain JSON-able values
    assert Prior(**d) == prior
    text = str(prior)
    assert f"alpha: {alpha:g}" in text
    if name == "elastic_net":
        assert text == f"ElasticNet(alpha: {alpha:g}, l1_ratio: {l1_ratio:g})"
    else:
        assert text == f"{name.capitalize()}(alpha: {alpha:g})"


def test_create_converts_integers_to_floats():
    prior = Prior.create("elastic_net", 1, 1)
    assert type(prior.alpha) is float and type(prior.l1_ratio) is float
    assert prior.kind == "laplace"
