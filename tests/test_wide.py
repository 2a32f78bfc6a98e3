r"""The lasso posterior on a wide design (p > n) against an independent Gibbs sampler.

The reference is written here from the model alone, with nothing taken from bayesreg but the
estimator under test. In bayesreg's convention (see :mod:`bayesreg.priors`)

.. math::

    y \mid w, b, \sigma \sim N(Xw + b, \sigma^2),\quad
    w_j \mid \sigma^2 \sim \text{Laplace}(0, 1/a),\ a = n\alpha/\sigma^2,\quad
    p(b) \propto 1,\quad p(\sigma^2) \propto 1/\sigma^2 .

Gibbs sampler (two blocks, on the posterior with the intercept integrated out, which with
centred data just drops it):

* ``w | tau, sigma``: with the scale mixture Laplace(0, 1/a) = N(0, tau_j), tau_j ~ Exp(a^2/2),
  w is Gaussian, N(A^-1 Xc'yc, sigma^2 A^-1) with A = Xc'Xc + sigma^2 diag(1/tau); drawn in
  O(n^2 p) by Bhattacharya, Chakraborty & Mallick (2016), never forming a p x p matrix.
* ``(sigma^2, tau) | w``: sigma^2 from p(sigma^2 | w), tau integrated out, then tau from
  p(tau | w, sigma^2). Because the Laplace scale is proportional to sigma^2, the prior's
  normalizer contributes (n alpha / (2 sigma^2))^p and its exponent n alpha |w|_1 / sigma^2, so
  p(sigma^2 | w) ∝ (sigma^2)^-((n-1)/2 + p + 1) exp(-(rss/2 + n alpha |w|_1) / sigma^2): an
  inverse gamma with shape (n-1)/2 + p and scale rss/2 + n alpha |w|_1 (n - 1: the flat
  intercept integrated out). Then 1/tau_j | w, sigma ~ InverseGaussian(a/|w_j|, a^2).
  (Given tau instead, the sigma^2 conditional has a 1/sigma^4 term and no standard form.)
* the intercept afterwards, b | w, sigma ~ N(mean(y) - mean(X) w, sigma^2 / n).

The reference itself is checked on p = 2 against quadrature of the raw joint density over
(w, b[, log sigma]) (no integrating-out, no mixture): the derivations above are tested, not
assumed.

Tolerances come from the Monte Carlo error of both samplers: arviz's ESS-based standard
errors, for the Gibbs chains from their own ESS, not their length. Each compared quantity (the
mean, the sd, and the tail probabilities beyond the reference's 5% and 95% quantiles, of every
coefficient, the intercept and a learned sigma) gives z = difference / combined standard
error. Its denominator is itself estimated, so z has somewhat heavier tails than N(0, 1): over
180 seeded bayesreg fits of the wide design (three engine versions, both sigma cases, 87,480
z's) the frequencies of |z| > 3, 3.5 and 4 lay between the normal's and a Student t's with 30
degrees of freedom. The bound on max |z| is Bonferroni with t_30 tails,
P(max |z| > bound) <= K * 2 * T_30(-bound) = 1e-3 for K quantities (``_z_bound``; 5.86 for
K = 484); the largest max |z| in those fits was 4.53. A bias spread thinly over many
coefficients (alpha off by 3% with a known sigma moves no single z past 4.5) shows in the root
mean square of all z's instead: 1.00 +- 0.05 over the same fits (largest 1.12), but 1.37 with
alpha off by 3% and 2.44 by 10%; its bound ``RMS_BOUND`` is 1.25.
"""

import time

import arviz as az
import numpy as np
import pytest
import xarray as xr
from scipy import integrate, stats

from bayesreg import BayesianRegression

QUANTILES = (0.05, 0.95)
FALSE_ALARM = 1e-3      # family-wise bound on a spurious failure, per comparison
T_DOF = 30              # tails of z (module docstring)
RMS_BOUND = 1.25        # ~5 sd above the null fits' mean root mean square z


# ---------------------------------------------------------------------- the reference sampler
def gibbs_lasso(X, y, alpha, sigma=None, draws=2000, burn=300, chains=16, seed=0):
    """Bayesian lasso in bayesreg's convention, ``chains`` independent chains in lockstep.

    ``sigma=None`` learns it (Jeffreys prior). Returns (chain, draw[, coefficient]) arrays
    ``coef``, ``intercept`` and ``sigma``.
    """
    rng = np.random.default_rng(seed)
    n, p = X.shape
    x_mean, y_mean = X.mean(axis=0), y.mean()
    Xc, yc = X - x_mean, y - y_mean
    C = chains
    s2 = np.full(C, float(sigma) ** 2 if sigma is not None else float(yc @ yc) / n)
    a = n * alpha / s2
    tau = np.broadcast_to(2.0 / a[:, None] ** 2, (C, p)).copy()     # the prior mean of tau
    eye = np.eye(n)
    shape = (n - 1) / 2 + p
    out = {"coef": np.empty((C, draws, p)), "intercept": np.empty((C, draws)),
           "sigma": np.empty((C, draws))}
    for it in range(burn + draws):
        sd = np.sqrt(s2)
        # w | tau, sigma ~ N(A^-1 Xc'yc, sigma^2 A^-1): Bhattacharya et al. (2016), algorithm 2,
        # for the prior N(0, diag(tau)) and the likelihood N(yc/sigma; (Xc/sigma) w, I)
        u = np.sqrt(tau) * rng.standard_normal((C, p))
        v = (u @ Xc.T) / sd[:, None] + rng.standard_normal((C, n))
        M = (Xc[None] * tau[:, None, :]) @ Xc.T / s2[:, None, None] + eye
        z = np.linalg.solve(M, (yc[None] / sd[:, None] - v)[..., None])[..., 0]
        w = u + tau * (z @ Xc) / sd[:, None]
        # sigma^2 | w, tau integrated out: inverse gamma (module docstring)
        if sigma is None:
            r = yc[None] - w @ Xc.T
            scale = 0.5 * np.einsum("cn,cn->c", r, r) + n * alpha * np.abs(w).sum(axis=1)
            s2 = scale / rng.gamma(shape, size=C)
        a = n * alpha / s2
        # tau | w, sigma: 1/tau_j ~ InverseGaussian(mean a/|w_j|, shape a^2)
        absw = np.maximum(np.abs(w), 1e-200)
        tau = 1.0 / rng.wald(a[:, None] / absw, np.broadcast_to((a**2)[:, None], (C, p)))
        if it >= burn:
            k = it - burn
            out["coef"][:, k] = w
            out["sigma"][:, k] = np.sqrt(s2)
            out["intercept"][:, k] = y_mean - w @ x_mean + np.sqrt(s2 / n) * rng.standard_normal(C)
    return out


# ---------------------------------------------------------------------- Monte Carlo errors
def _dataset(draws):
    """(chain, draw[, k]) arrays -> an xarray Dataset arviz reads."""
    return xr.Dataset({k: (("chain", "draw") + (f"{k}_dim",) * (np.ndim(v) - 2), np.asarray(v))
                       for k, v in draws.items()})


def mc_summary(draws, quantiles=True):
    """Estimates and their Monte Carlo standard errors: {variable: {stat: (estimate, mcse)}}.

    mean: arviz's mcse (ESS of the draws); sd: the delta method on the squared deviations,
    with their ESS (``az.mcse(method="sd")`` fails on vectors in arviz 0.23 with numba
    present); the 5% and 95% quantiles, if asked: arviz's quantile mcse.
    """
    ds = _dataset(draws)
    dev2 = (ds - ds.mean(("chain", "draw"))) ** 2
    sd = np.sqrt(dev2.mean(("chain", "draw")))
    dev2_ess = az.ess(dev2, method="mean")
    mcse_mean = az.mcse(ds, method="mean")
    out = {}
    for name in ds.data_vars:
        res = {"mean": (ds[name].mean(("chain", "draw")).values, mcse_mean[name].values),
               "sd": (sd[name].values, (dev2[name].std(("chain", "draw"))
                                        / np.sqrt(dev2_ess[name]) / (2 * sd[name])).values)}
        if quantiles:
            for q in QUANTILES:
                res[f"q{q:g}"] = (ds[name].quantile(q, dim=("chain", "draw")).values,
                                  az.mcse(ds[[name]], method="quantile", prob=q)[name].values)
        out[name] = res
    return out


def tail_summary(draws, thresholds):
    """Tail probabilities P(x <= lo) and P(x >= hi) with their Monte Carlo standard errors.

    ``thresholds``: {variable: (lo, hi)}, arrays shaped like one draw. The standard error of a
    probability is that of the mean of an indicator, from the indicator's own ESS: steadier
    than arviz's quantile mcse, which goes through a density estimate and, from 4 chains of
    1000 draws, varies by ~17% between seeds and is at times half its typical value.
    """
    ind = {}
    for name, (lo, hi) in thresholds.items():
        x = np.asarray(draws[name])
        ind[f"{name}@lo"] = (x <= lo).astype(float)
        ind[f"{name}@hi"] = (x >= hi).astype(float)
    ds = _dataset(ind)
    est, mcse = ds.mean(("chain", "draw")), az.mcse(ds, method="mean")
    return {name: {f"P(<=q{QUANTILES[0]:g})": (est[f"{name}@lo"].values, mcse[f"{name}@lo"].values),
                   f"P(>=q{QUANTILES[1]:g})": (est[f"{name}@hi"].values, mcse[f"{name}@hi"].values)}
            for name in thresholds}


def _z_bound(n_compared, false_alarm=FALSE_ALARM):
    """Bonferroni over ``n_compared`` two-sided tests with Student t_30 tails (module docstring)."""
    return float(stats.t(T_DOF).isf(false_alarm / (2 * n_compared)))


def standardized_differences(a, b, names=("coef", "intercept", "sigma")):
    """{(variable, stat): z array} for two :func:`mc_summary` results; b's mcse may be 0."""
    z = {}
    for name in names:
        for stat, (est_a, se_a) in a[name].items():
            est_b, se_b = b[name][stat]
            z[name, stat] = (np.atleast_1d(est_a - est_b)
                             / np.atleast_1d(np.hypot(se_a, se_b)))
    return z


def compare_to_reference(draws, ref):
    """z for the mean, the sd and the two tail probabilities beyond the reference's 5% and 95%
    quantiles, of every variable in ``draws`` (both samplers' Monte Carlo errors)."""
    names = tuple(draws)
    mc_ref = mc_summary(ref)
    cut = {name: (mc_ref[name][f"q{QUANTILES[0]:g}"][0], mc_ref[name][f"q{QUANTILES[1]:g}"][0])
           for name in names}
    z = standardized_differences(mc_summary(draws, quantiles=False), mc_ref, names)
    z.update(standardized_differences(tail_summary(draws, cut), tail_summary(ref, cut), names))
    return z


def _report(z):
    """The largest |z| of each (variable, statistic), and all z's in one array."""
    worst = {k: float(np.max(np.abs(v))) for k, v in z.items()}
    flat = np.concatenate([np.ravel(v) for v in z.values()])
    return worst, flat


# ---------------------------------------------------------------------- quadrature (p = 2)
def _tabulate(X, y, alpha, sigma, w_axes, log_sig, t):
    """The raw joint density on a grid, integrated over the intercept: arrays (sigma, w1, w2).

    For each (w, sigma) the intercept runs over b = c(w) + sigma t / sqrt(n), c(w) = mean(y) -
    mean(X) w (only a placement of the grid; the Jacobian sigma / sqrt(n) is included), and the
    density p(y | w, b, sigma) prod_j (a/2) exp(-a |w_j|), a = n alpha / sigma^2, with
    rss = sum_i (y_i - x_i w - b)^2 = sum_i r_i^2 - 2 b sum_i r_i + n b^2, r_i = y_i - x_i w, is
    integrated over t by the trapezoid rule. The Jeffreys prior is flat in log sigma. Returns
    the integrals of f, b f and b^2 f (each slice scaled by a common factor) and the largest
    value at the ends of the t grid relative to the peak.
    """
    n, p = X.shape
    w1, w2 = np.meshgrid(*w_axes, indexing="ij")
    r = y[:, None, None] - X[:, 0, None, None] * w1 - X[:, 1, None, None] * w2
    r2, r1 = (r * r).sum(axis=0)[..., None], r.sum(axis=0)[..., None]
    l1 = (np.abs(w1) + np.abs(w2))[..., None]
    c = (y.mean() - X[:, 0].mean() * w1 - X[:, 1].mean() * w2)[..., None]
    logs, F, Fb, Fbb, edge = [], [], [], [], 0.0
    for ls in log_sig:
        s2 = np.exp(2 * ls)
        a = n * alpha / s2
        b = c + np.exp(ls) / np.sqrt(n) * t
        rss = r2 - 2 * b * r1 + n * b * b
        logf = (-n * ls - rss / (2 * s2) + p * np.log(a / 2) - a * l1
                + ls - 0.5 * np.log(n))                                 # + log |db/dt|
        top = logf.max()
        f = np.exp(logf - top)
        edge = max(edge, f[..., 0].max(), f[..., -1].max())
        logs.append(top)
        F.append(integrate.trapezoid(f, t, axis=-1))
        Fb.append(integrate.trapezoid(f * b, t, axis=-1))
        Fbb.append(integrate.trapezoid(f * b * b, t, axis=-1))
    scale = np.exp(np.array(logs) - max(logs))[:, None, None]
    return tuple(np.array(v) * scale for v in (F, Fb, Fbb)) + (edge,)


def _marginals(F, w_axes, log_sig):
    """Unnormalized marginal densities of w1, w2 (on their axes) and log sigma (per slice)."""
    def over_sigma(v):
        return integrate.trapezoid(v, log_sig, axis=0) if len(log_sig) > 1 else v[0]
    return (over_sigma(integrate.trapezoid(F, w_axes[1], axis=2)),
            over_sigma(integrate.trapezoid(F, w_axes[0], axis=1)),
            integrate.trapezoid(integrate.trapezoid(F, w_axes[1], axis=2), w_axes[0], axis=1))


def _support(grid, dens, rel):
    """The interval of ``grid`` where ``dens`` exceeds ``rel`` of its peak, one step wider."""
    keep = np.flatnonzero(dens > rel * dens.max())
    return grid[max(keep[0] - 1, 0)], grid[min(keep[-1] + 1, len(grid) - 1)]


def _axis(grid, dens, size, through_zero):
    """A fine uniform core (density > 1e-4 of its peak, ``size`` steps, a node at 0 if asked)
    and tails out to 1e-11 of the peak with steps growing by 10%: polynomial tails (a learned
    sigma) then cost a few dozen nodes, not a coarser core."""
    lo_c, hi_c = _support(grid, dens, 1e-4)
    lo_t, hi_t = _support(grid, dens, 1e-11)
    h = (hi_c - lo_c) / (size - 1)
    core = (h * np.arange(np.floor(lo_c / h), np.ceil(hi_c / h) + 1) if through_zero
            else np.linspace(lo_c, hi_c, size))
    steps = h * 1.1 ** np.arange(1, 200)
    right = core[-1] + np.cumsum(steps)
    left = core[0] - np.cumsum(steps)
    right = right[:np.searchsorted(right, hi_t) + 1]
    left = left[:np.searchsorted(-left, -lo_t) + 1]
    return np.concatenate([left[::-1], core, right])


def _grid_moments(grid, dens):
    """Mean, sd and quantiles of a density tabulated on a grid holding all its mass.

    The density is taken piecewise linear between nodes, as the trapezoid rule has it, so the
    quantiles solve the quadratic CDF within their cell instead of interpolating the CDF.
    """
    assert max(dens[0], dens[-1]) < 1e-8 * dens.max()
    z = integrate.trapezoid(dens, grid)
    m = integrate.trapezoid(grid * dens, grid) / z
    sd = np.sqrt(integrate.trapezoid((grid - m) ** 2 * dens, grid) / z)
    cdf = integrate.cumulative_trapezoid(dens, grid, initial=0) / z
    res = {"mean": m, "sd": sd}
    for q in QUANTILES:
        k = np.searchsorted(cdf, q) - 1
        h, f0, f1 = grid[k + 1] - grid[k], dens[k] / z, dens[k + 1] / z
        need, slope = q - cdf[k], (f1 - f0) / h       # f0 d + slope d^2 / 2 = need
        d = 2 * need / (f0 + np.sqrt(f0 * f0 + 2 * slope * need))
        res[f"q{q:g}"] = grid[k] + d
    return res


def _quadrature_posterior(X, y, alpha, sigma=None, size=121, n_t=17):
    """Posterior moments and quantiles by quadrature of the raw joint density, p = 2.

    Trapezoid rule over w1, w2, the intercept (see :func:`_tabulate`) and, for a learned
    sigma, log sigma. A coarse pass over a wide box (least squares +- 30 standard errors, log
    sigma +- 4) finds where the posterior lives; a pass with cores of ``size`` nodes covers it
    (:func:`_axis`), and one with half as many estimates the quadrature error (their
    difference: the trapezoid rule's error falls about fourfold when the steps halve).
    Returns ({variable: {stat: value}}, the same with error estimates): variables coef
    (2-vectors), intercept (mean and sd only) and sigma.
    """
    n, p = X.shape
    assert p == 2
    X1 = np.column_stack([X, np.ones(n)])
    beta, *_ = np.linalg.lstsq(X1, y, rcond=None)
    s_hat = np.sqrt(np.sum((y - X1 @ beta) ** 2) / (n - 3))
    se = (s_hat if sigma is None else sigma) * np.sqrt(np.diag(np.linalg.inv(X1.T @ X1)))[:2]
    t = np.linspace(-8.0, 8.0, n_t)
    w_box = [np.linspace(beta[j] - 30 * se[j], beta[j] + 30 * se[j], 161) for j in range(2)]
    s_box = (np.array([np.log(sigma)]) if sigma is not None
             else np.log(s_hat) + np.linspace(-4.0, 4.0, 41))
    F, *_ = _tabulate(X, y, alpha, sigma, w_box, s_box, t)
    coarse = _marginals(F, w_box, s_box)

    def one_pass(size):
        w_axes = [_axis(ax, d, size, True) for ax, d in zip(w_box, coarse[:2])]
        log_sig = s_box if sigma is not None else _axis(s_box, coarse[2], size // 2, False)
        F, Fb, Fbb, edge = _tabulate(X, y, alpha, sigma, w_axes, log_sig, t)
        assert edge < 1e-10     # the t grid holds all the mass in b
        d1, d2, ds = _marginals(F, w_axes, log_sig)
        m1, m2 = _grid_moments(w_axes[0], d1), _grid_moments(w_axes[1], d2)

        def total(v):
            v = integrate.trapezoid(integrate.trapezoid(v, w_axes[1], axis=2), w_axes[0], axis=1)
            return integrate.trapezoid(v, log_sig) if len(log_sig) > 1 else v[0]

        b_mean = total(Fb) / total(F)
        out = {"coef": {k: np.array([m1[k], m2[k]]) for k in m1},
               "intercept": {"mean": b_mean, "sd": np.sqrt(total(Fbb) / total(F) - b_mean**2)}}
        if sigma is None:   # density in sigma = density in log sigma / sigma
            out["sigma"] = _grid_moments(np.exp(log_sig), ds / np.exp(log_sig))
        return out

    fine, half = one_pass(size), one_pass(size // 2 + 1)
    err = {name: {k: np.abs(v - half[name][k]) for k, v in d.items()} for name, d in fine.items()}
    return fine, err


@pytest.fixture(scope="module")
def tiny():
    """n = 12, two correlated columns with nonzero means, one null: a skewed, kinked posterior."""
    rng = np.random.default_rng(2016)
    n = 12
    x1 = 1.0 + rng.standard_normal(n)
    x2 = 0.7 * x1 + 0.7 * rng.standard_normal(n) - 0.5
    X = np.column_stack([x1, x2])
    y = 2.0 + 0.8 * x1 + 0.8 * rng.standard_normal(n)
    return X, y


@pytest.mark.parametrize("sigma", [0.8, None], ids=["known_sigma", "learned_sigma"])
def test_gibbs_reference_matches_quadrature(tiny, sigma):
    """The reference sampler against quadrature of the exact posterior (p = 2): means, sds and
    5%/95% quantiles of w1, w2 and (learned) sigma, and the intercept's mean and sd, within
    the Bonferroni bound of the Gibbs chains' Monte Carlo error and the quadrature's error."""
    X, y = tiny
    alpha = 0.15      # Laplace rate n alpha / sigma^2 ~ 3: the prior is as wide as the likelihood
    exact, err = _quadrature_posterior(X, y, alpha, sigma)
    # a posterior no Gaussian approximation gets right: both coefficients clearly skewed
    skew = (exact["coef"]["q0.05"] + exact["coef"]["q0.95"] - 2 * exact["coef"]["mean"])
    assert np.all(np.abs(skew) > 0.1 * exact["coef"]["sd"]), skew

    draws = gibbs_lasso(X, y, alpha, sigma, draws=8000, burn=200, chains=16, seed=1)
    mc = mc_summary({name: draws[name] for name in exact})
    ref = {name: {stat: (val, err[name][stat]) for stat, val in d.items()}
           for name, d in exact.items()}
    mc["intercept"] = {k: mc["intercept"][k] for k in ("mean", "sd")}
    z = standardized_differences(mc, ref, tuple(exact))
    worst, flat = _report(z)
    assert np.max(np.abs(flat)) < _z_bound(flat.size), worst


# ---------------------------------------------------------------------- the wide design
N, P, NOISE = 50, 120, 1.5
ALPHA = 0.2           # Laplace rate n alpha / sigma^2 ~ 4.4, prior scale ~ 0.23


@pytest.fixture(scope="module")
def wide():
    rng = np.random.default_rng(20160905)
    X = rng.standard_normal((N, P)) + rng.normal(0, 0.5, P)     # columns with nonzero means
    w = np.zeros(P)
    w[[3, 17, 40, 77, 101]] = [3.0, -2.5, 2.0, 1.5, -1.0]
    y = 1.0 + X @ w + NOISE * rng.standard_normal(N)
    return X, y


@pytest.mark.parametrize("sigma", [NOISE, None], ids=["known_sigma", "learned_sigma"])
def test_wide_lasso_nuts_matches_gibbs(wide, sigma):
    """n = 50 < p = 120. bayesreg's NUTS against the Gibbs reference: the mean, the sd and both
    tail probabilities (beyond the reference's 5% and 95% quantiles) of all 120 coefficients,
    the intercept and (learned) sigma, each within the bound on max |z| and all together within
    the bound on their root mean square (module docstring). Also: bayesreg's diagnostics are
    clean (max R-hat <= 1.01, min bulk ESS >= 400, no divergences), and its summary table is
    that of its own draws."""
    X, y = wide
    t0 = time.perf_counter()
    est = BayesianRegression(prior="lasso", alpha=ALPHA, sigma=sigma, draws=1000, tune=1000,
                             chains=4, seed=1).fit(X, y)
    t_nuts = time.perf_counter() - t0
    diag = est.diagnostics_
    # max R-hat is a maximum over 121-122 parameters. With seeds 1-40 it stayed <= 1.01 in all
    # 80 fits of the engine of 29355da (largest 1.0082; bulk ESS >= 2600), but passed it in 5
    # of 80 with that of 2ee61d3 (largest 1.0121, each time on a different null coefficient;
    # bulk ESS >= 900): with a slower-mixing engine this check fails before the posterior does.
    assert diag["max_r_hat"] <= 1.01, diag
    assert diag["min_ess_bulk"] >= 400, diag
    assert diag["divergences"] == 0, diag

    post = est.posterior_.posterior
    assert post["coef"].shape == (4, 1000, P)
    nuts_draws = {"coef": post["coef"].values, "intercept": post["intercept"].values,
                  "sigma": post["sigma"].values}
    s = est.summary()
    assert list(s.index) == [f"x{j}" for j in range(P)] + ["intercept", "sigma"]
    coef = nuts_draws["coef"]
    np.testing.assert_allclose(s["mean"].values[:P], coef.mean(axis=(0, 1)), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(s["sd"].values[:P], coef.std(axis=(0, 1), ddof=1), rtol=1e-3)
    np.testing.assert_allclose(s["median"].values[:P], np.median(coef, axis=(0, 1)), atol=1e-12)
    np.testing.assert_allclose(s["prob_positive"].values[:P], (coef > 0).mean(axis=(0, 1)))
    if sigma is not None:
        np.testing.assert_allclose(nuts_draws["sigma"], sigma, rtol=1e-12)

    names = ("coef", "intercept") + (("sigma",) if sigma is None else ())
    t0 = time.perf_counter()
    ref = gibbs_lasso(X, y, ALPHA, sigma, draws=1500, burn=300, chains=16, seed=2)
    t_gibbs = time.perf_counter() - t0
    ref = {name: ref[name] for name in names}
    # the reference has converged, and its Monte Carlo error is below bayesreg's (measured:
    # bulk ESS >= 7000 for the coefficients, ~4500 for sigma)
    ess_ref, rhat_ref = az.ess(_dataset(ref)), az.rhat(_dataset(ref))
    assert min(float(ess_ref[name].min()) for name in names) > 2000, ess_ref
    assert max(float(rhat_ref[name].max()) for name in names) < 1.01, rhat_ref

    z = compare_to_reference({name: nuts_draws[name] for name in names}, ref)
    worst, flat = _report(z)
    bound = _z_bound(flat.size)
    rms = float(np.sqrt(np.mean(flat**2)))
    print(f"\nbayesreg {t_nuts:.1f}s, gibbs {t_gibbs:.1f}s; {flat.size} z's, max |z| "
          f"{np.abs(flat).max():.2f} (bound {bound:.2f}), rms {rms:.3f} (bound {RMS_BOUND}); "
          f"R-hat {diag['max_r_hat']:.4f}, ESS {diag['min_ess_bulk']:.0f}")
    assert np.max(np.abs(flat)) < bound, worst
    assert rms < RMS_BOUND, (rms, worst)
