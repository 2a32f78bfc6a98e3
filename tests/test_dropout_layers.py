"""Tests of bayesreg.dropout.layers against closed forms: the dropout layer, the mixture
quantile, the vectorized HDI (seeded, a few seconds each)."""

import math

import numpy as np
import pytest
from scipy.special import ndtr

from bayesreg._validation import InputError
from bayesreg.dropout import inverted_dropout, mixture_normal_quantile


@pytest.mark.parametrize("p", [0.05, 0.3, 0.7])
def test_inverted_dropout_keeps_expected_activation(p):
    """E_m[m x / (1-p)] = x: mean over M masks within 5 Monte Carlo SEs."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=8)
    M = 200_000
    mask = rng.random((M, 8)) < 1 - p
    out = inverted_dropout(x, mask, p)
    se = np.abs(x) * math.sqrt(p / (1 - p) / M)
    assert np.all(np.abs(out.mean(axis=0) - x) < 5 * se + 1e-12)
    # survivors are scaled by exactly 1/(1-p), dropped units are exactly 0
    assert set(np.unique(out[:, 0] / x[0]).round(12)) <= {0.0, round(1 / (1 - p), 12)}


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_unscaled_dropout_has_the_scaling_problem(p):
    """Without 1/(1-p), training expectation is (1-p) x, so the plain net is 1/(1-p) too big."""
    rng = np.random.default_rng(2)
    x = rng.uniform(1, 2, size=5)
    M = 200_000
    mask = rng.random((M, 5)) < 1 - p
    train_mean = inverted_dropout(x, mask, p, rescale=False).mean(axis=0)
    ratio = x / train_mean  # test-time activation / training-time expectation
    np.testing.assert_allclose(ratio, 1 / (1 - p), rtol=5 * math.sqrt(p / (1 - p) / M) * 2)
    assert np.all(np.abs(ratio - 1) > 0.2)


def test_mixture_quantile_bimodal():
    means = np.array([[-3.0], [3.0]])
    q = mixture_normal_quantile(means, 1.0, 0.5)
    np.testing.assert_allclose(q, 0.0, atol=1e-9)
    q = mixture_normal_quantile(means, 1.0, 0.25)
    np.testing.assert_allclose(0.5 * (ndtr(q + 3) + ndtr(q - 3)), 0.25, atol=1e-10)


@pytest.mark.parametrize("kwargs, name", [
    ({"means": np.zeros(3), "sd": 1.0, "q": 0.5}, "means"),
    ({"means": np.zeros((2, 3)), "sd": 1.0, "q": 1.0}, "q"),
    ({"means": np.zeros((2, 3)), "sd": 0.0, "q": 0.5}, "sd"),
])
def test_mixture_quantile_argument_errors_name_their_field(kwargs, name):
    with pytest.raises(InputError, match=name) as exc:
        mixture_normal_quantile(**kwargs)
    assert exc.value.field == name


@pytest.mark.parametrize("T", [1, 2, 3, 10, 401])
@pytest.mark.parametrize("prob", [0.05, 0.5, 0.8, 0.95])
def test_hdi_is_arviz_hdi_column_by_column(T, prob):
    """The vectorized HDI is ArviZ's estimator, to the bit, on skewed and bimodal columns."""
    import arviz as az

    from bayesreg.dropout.layers import hdi

    rng = np.random.default_rng(T)
    samples = np.c_[rng.gamma(1.5, size=T), rng.normal(size=T) + 4 * (rng.random(T) < 0.3),
                    rng.integers(0, 3, size=T).astype(float)]          # ties too
    low, high = hdi(samples, prob)
    want = np.array([az.hdi(samples[:, j], hdi_prob=prob) for j in range(samples.shape[1])])
    np.testing.assert_array_equal(np.c_[low, high], want)
