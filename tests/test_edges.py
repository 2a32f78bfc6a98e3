"""Near-noiseless data: sigma is still resolved (or a clear error says it cannot be)."""

import numpy as np
import pytest
from scipy import stats

from bayesreg import BayesianRegression, InputError


def _noisy_by(scale, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((30, 2))
    return X, 1 + X @ [0.8, -0.3] + scale * rng.standard_normal(30)


def _reference_sigma_median(X, y, alpha=0.0):
    """Ridge, Jeffreys sigma: sigma^2 ~ IG(nu/2, SSR/2) with SSR = |r|^2 + n alpha |w|^2.

    ``nu = n - 1`` under a proper prior and ``n - 1 - p`` under the flat one (alpha = 0); the
    residuals come from a least-squares solve on the stacked system [X; sqrt(n alpha) I].
    """
    n, p = X.shape
    Xc, yc = X - X.mean(0), y - y.mean()
    stacked = np.vstack([Xc, np.sqrt(n * alpha) * np.eye(p)])
    w = np.linalg.lstsq(stacked, np.concatenate([yc, np.zeros(p)]), rcond=None)[0]
    resid = yc - Xc @ w
    ssr = float(resid @ resid) + n * alpha * float(w @ w)
    nu = n - 1 - (p if alpha == 0 else 0)
    return np.sqrt(stats.invgamma(nu / 2, scale=ssr / 2).median())


@pytest.mark.parametrize("alpha", [0.0, 1e-12])
def test_exact_sigma_at_residual_sd_1e_minus_8(alpha):
    X, y = _noisy_by(1e-8)
    reference = _reference_sigma_median(X, y, alpha)
    if alpha == 0:
        assert 5e-9 < reference < 2e-8      # the noise itself
    s = BayesianRegression(prior="ridge", alpha=alpha, method="exact").fit(X, y).summary()
    assert s.loc["sigma", "median"] == pytest.approx(reference, rel=1e-6)


@pytest.mark.parametrize("prior,alpha", [("ridge", 0.0), ("ridge", 1e-12), ("lasso", 0.0)])
def test_nuts_sigma_at_residual_sd_1e_minus_8(prior, alpha):
    X, y = _noisy_by(1e-8)
    reference = _reference_sigma_median(X, y, alpha)
    est = BayesianRegression(prior=prior, alpha=alpha, draws=500, tune=500, chains=2,
                             seed=3).fit(X, y)
    assert est.summary().loc["sigma", "median"] == pytest.approx(reference, rel=0.3)
    assert est.diagnostics_["divergences"] == 0


@pytest.mark.parametrize("method", ["exact", "nuts"])
def test_noise_at_rounding_level_is_a_clear_error(method):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 2))
    y = 1 + X @ [0.5, 0.25]                  # exact in binary: residuals are rounding only
    with pytest.raises(InputError, match="rounding level.*pass a known sigma"):
        BayesianRegression(prior="ridge", alpha=0.0, draws=100, tune=100, method=method).fit(X, y)
    # with a known sigma the posterior is well defined
    est = BayesianRegression(prior="ridge", alpha=0.0, sigma=1e-6, method="exact").fit(X, y)
    np.testing.assert_allclose(est.coef_, [0.5, 0.25], atol=1e-12)


def test_noise_far_above_rounding_with_columns_of_very_different_scale():
    """The rounding bound is per row: a 1e6-scale column does not make 1e-4 noise 'rounding'."""
    rng = np.random.default_rng(2)
    X = np.column_stack([1e6 * rng.standard_normal(50), rng.standard_normal(50)])
    y = 1e-6 * X[:, 0] + 1e3 * X[:, 1] + 1e-4 * rng.standard_normal(50)
    s = BayesianRegression(prior="ridge", alpha=0.0, method="exact").fit(X, y).summary()
    assert s.loc["sigma", "median"] == pytest.approx(_reference_sigma_median(X, y), rel=1e-6)


def test_nuts_lasso_converges_when_the_data_fix_the_coefficients():
    """High signal to noise: the coefficients' centres stay put as sigma moves (no ridge
    between sigma and the coefficients), so the chains mix."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 5))
    y = 1 + X @ [5.0, -3.0, 2.0, 0.0, 0.0] + 1e-3 * rng.standard_normal(100)
    est = BayesianRegression(prior="lasso", alpha=1e-8, draws=500, tune=500, chains=4,
                             seed=1).fit(X, y)
    assert est.diagnostics_["max_r_hat"] <= 1.01 and est.diagnostics_["min_ess_bulk"] >= 400
    assert est.posterior_.sample_stats["n_steps"].values.mean() < 20


def test_a_failed_fit_keeps_no_reference_to_the_data():
    est = BayesianRegression(prior="ridge", alpha=0.0, method="exact")
    with pytest.raises(InputError):
        est.fit(np.ones((5, 2)), np.arange(5.0))     # improper: rank 1
    assert not any(hasattr(est, name) for name in ("_data", "_stats", "_frame", "_resid_cache"))


def test_known_sigma_summary_raises_no_numpy_warning(recwarn):
    """r_hat of the constant sigma row is undefined (None), without a RuntimeWarning."""
    import warnings

    X, y = _noisy_by(0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        est = BayesianRegression(prior="lasso", alpha=0.01, sigma=0.5, draws=200, tune=200,
                                 chains=2, seed=1).fit(X, y)
    assert est.to_dict()["posterior"]["sigma"]["r_hat"] is None
