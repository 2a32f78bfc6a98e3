"""The sufficient-statistics model against an independent per-row log density (scipy)."""

import numpy as np
import pytest
from scipy import integrate, stats

from bayesreg.model import Frame, ModelKey, SuffStats, build_model
from bayesreg.priors import Prior, log_normalizer


@pytest.mark.parametrize("a,b", [(2.0, 0.0), (0.0, 3.0), (1.5, 0.7), (40.0, 0.01), (0.01, 50.0)])
def test_log_normalizer_against_quadrature(a, b):
    value, _ = integrate.quad(lambda w: np.exp(-a * abs(w) - 0.5 * b * w * w), -np.inf, np.inf,
                              epsabs=0, epsrel=1e-12, limit=200)
    assert log_normalizer(a, b) == pytest.approx(np.log(value), rel=1e-9, abs=1e-10)


def _reference_logp(X, y, w, b0, sigma, alpha, rho, learn_alpha, alpha0):
    """Per-row Normal likelihood, numerically normalized prior, Jeffreys sigma, Half-Cauchy alpha.

    A density over (w, b, sigma, alpha); the model's is over (w, c, log sigma, log alpha).
    """
    n = len(y)
    lp = stats.norm.logpdf(y, X @ w + b0, sigma).sum()
    a = n * alpha * rho / sigma**2
    bq = n * alpha * (1 - rho) / sigma**2
    log_z = np.log(integrate.quad(lambda t: np.exp(-a * abs(t) - 0.5 * bq * t * t), -np.inf,
                                  np.inf, epsabs=0, epsrel=1e-13, limit=200)[0])
    lp += np.sum(-a * np.abs(w) - 0.5 * bq * w**2 - log_z)
    lp += -np.log(sigma)
    if learn_alpha:
        lp += stats.halfcauchy.logpdf(alpha, scale=alpha0)
    return lp


@pytest.mark.parametrize("prior,l1_ratio,learn_alpha", [("lasso", 1.0, False), ("ridge", 0.0, False),
                                                        ("elastic_net", 0.3, True)])
def test_sufficient_statistics_logp_equals_per_row_model(rng, prior, l1_ratio, learn_alpha):
    n, p = 300, 4
    X = rng.normal(2.0, 1.5, (n, p))
    y = X @ rng.normal(0, 1, p) + 3 + rng.standard_normal(n)
    x_mean, y_mean = X.mean(0), y.mean()
    s = SuffStats.from_data(X - x_mean, y - y_mean)
    alpha0 = 0.2
    kind = Prior.create(prior, alpha0, l1_ratio).kind
    key = ModelKey(kind, p, True, False, learn_alpha)
    # the identity frame around w = 0 with sigma_hat = 1: w = sigma z, c = sigma v, u = log sigma
    frame = Frame(key, float(n), alpha0, l1_ratio, None, 0.0, 1.0, 1.0, s.yty, np.zeros(p),
                  -s.xty, np.ones(p), np.ones(p), s.xtx, np.eye(p),
                  [f"z{j}" for j in range(p)] + ["u", "v"] + (["log_alpha"] if learn_alpha else []))
    model = build_model(frame)
    logp = model.compile_logp(jacobian=False)
    for _ in range(5):
        w, c, sigma = rng.normal(0, 1, p), rng.normal(0, 0.2), rng.uniform(0.5, 2.0)
        point = {"z": w / sigma, "v": np.array(c / sigma), "u": np.array(np.log(sigma))}
        alpha = alpha0
        if learn_alpha:
            alpha = rng.uniform(0.05, 1.0)
            point["alpha_log__"] = np.array(np.log(alpha))
        b0 = y_mean + c - x_mean @ w            # the intercept of the centred parametrization
        expected = _reference_logp(X, y, w, b0, sigma, alpha, l1_ratio, learn_alpha, alpha0)
        # the density of log sigma is p(sigma) * sigma, and p(sigma) ∝ 1/sigma (Jeffreys); the
        # map (z, v) -> (w, c) = sigma (z, v) has Jacobian sigma^(p + 1)
        expected += np.log(sigma) + (p + 1) * np.log(sigma)
        assert float(logp(point)) == pytest.approx(expected, rel=1e-8, abs=1e-8)


def test_suffstats_across_chunks_equal_one_pass(rng):
    """Blocks of rows (the chunk boundary inside the data) give the same statistics."""
    X = rng.normal(3.0, 2.0, (1000, 6))
    y = X @ rng.normal(0, 1, 6) + rng.standard_normal(1000)
    whole = SuffStats.from_data(X, y)
    chunked = SuffStats.from_data(X, y, chunk=97)
    Xc, yc = X - X.mean(0), y - y.mean()
    for st in (whole, chunked):
        np.testing.assert_allclose(st.xtx, Xc.T @ Xc, rtol=1e-11)
        np.testing.assert_allclose(st.xty, Xc.T @ yc, rtol=1e-11)
        assert st.yty == pytest.approx(yc @ yc, rel=1e-12)


@pytest.mark.parametrize("prior,l1_ratio,learn_alpha", [("lasso", 1.0, False), ("lasso", 1.0, True),
                                                        ("elastic_net", 0.3, False),
                                                        ("ridge", 0.0, True)])
def test_general_parametrization_is_the_per_row_model(rng, prior, l1_ratio, learn_alpha):
    """The kink-cancelling, partially non-centred coordinates carry exactly the model's density.

    The PyMC density at x, minus the log-determinant of d(w, c, log sigma, log alpha)/dx taken
    by finite differences through natural_draws, equals the per-row reference density.
    """
    from bayesreg.model import natural_draws, residual_stats, sampler_frame

    n, p = 80, 3
    X = rng.normal(1.0, 1.2, (n, p))
    y = X @ np.array([1.5, 0.0, -0.4]) + 2 + rng.standard_normal(n)
    x_mean, y_mean = X.mean(0), y.mean()
    Xc = X - x_mean
    alpha0 = 0.08
    kind = Prior.create(prior, alpha0, l1_ratio).kind
    key = ModelKey(kind, p, True, False, learn_alpha)
    w_map = np.array([1.2, 0.0, -0.2])
    rss, xtr = residual_stats(X, y, x_mean, y_mean, w_map)
    frame = sampler_frame(key, n, Xc.T @ Xc, w_map, rss, xtr, 1.1, alpha0, l1_ratio,
                          np.ones(p), np.ones(p))
    assert frame.general
    logp = build_model(frame).compile_logp(jacobian=True)   # a density over x itself

    def natural(x):
        d = natural_draws(x[None, None, :], frame)
        out = [d["w"][0, 0], [d["c"][0, 0]], [np.log(d["sigma"][0, 0])]]
        if learn_alpha:
            out.append([np.log(d["alpha"][0, 0])])
        return np.concatenate(out)

    gaps = []
    for _ in range(5):
        x = rng.normal(0, 0.6, frame.dim)
        h = 1e-6
        jac = np.column_stack([(natural(x + h * e) - natural(x - h * e)) / (2 * h)
                               for e in np.eye(frame.dim)])
        nat = natural(x)
        w, c, sigma = nat[:p], nat[p], np.exp(nat[p + 1])
        alpha = np.exp(nat[p + 2]) if learn_alpha else alpha0
        point = {"z": x[:p], "u": np.array(x[p]), "v": np.array(x[p + 1])}
        if learn_alpha:
            point["alpha_log__"] = np.array(np.log(alpha))
        b0 = y_mean + c - x_mean @ w
        expected = _reference_logp(X, y, w, b0, sigma, alpha, l1_ratio, learn_alpha, alpha0)
        # densities over (w, b, sigma[, alpha]) -> (w, c, log sigma[, log alpha]) -> x
        expected += np.log(sigma) + (np.log(alpha) if learn_alpha else 0.0)
        expected += np.log(abs(np.linalg.det(jac)))
        # the model leaves out constant log-Jacobians (det W, the scales of u and v): the gap
        # between the two must be the same at every point
        gaps.append(float(logp(point)) - expected)
    assert np.ptp(gaps) < 1e-5, gaps
