"""SuffStats.from_data and residual_stats, summed in blocks of rows, against the direct
computation on the whole centred data (in extended precision for the large case)."""

import inspect

import numpy as np
import pytest

from bayesreg.model import SuffStats, residual_stats

DEFAULT_CHUNK = inspect.signature(SuffStats.from_data).parameters["chunk"].default
BIG_N = 70_000          # more than two default blocks: 32,768 + 32,768 + 4,464


def _data(n, p, seed):
    rng = np.random.default_rng(seed)
    # columns far from zero and of different scales, so that centring matters
    X = rng.normal(0, 1, (n, p)) * rng.uniform(0.1, 5.0, p) + rng.uniform(-50, 50, p)
    y = X @ rng.normal(0, 1, p) + 20.0 + rng.standard_normal(n)
    return X, y


def _direct(X, y, fit_intercept, dtype=float):
    X, y = X.astype(dtype), y.astype(dtype)
    x_mean = X.mean(axis=0) if fit_intercept else np.zeros(X.shape[1], dtype)
    y_mean = y.mean() if fit_intercept else dtype(0)
    Xc, yc = X - x_mean, y - y_mean
    if dtype is float:
        return Xc.T @ Xc, Xc.T @ yc, yc @ yc, x_mean, y_mean
    # no BLAS for long double: einsum sums in long double
    return (np.einsum("ij,ik->jk", Xc, Xc), np.einsum("ij,i->j", Xc, yc), np.einsum("i,i", yc, yc),
            x_mean, y_mean)


def _assert_equal(st, ref, n, rtol):
    xtx, xty, yty, x_mean, y_mean = (np.asarray(v, dtype=float) for v in ref)
    assert st.n == n
    scale = np.sqrt(np.outer(np.diag(xtx), np.diag(xtx)))   # relative to |x_j| |x_k|
    assert np.abs(st.xtx - xtx).max() <= rtol * scale.max()
    np.testing.assert_allclose(st.xtx, xtx, rtol=rtol, atol=rtol * scale.max())
    np.testing.assert_array_equal(st.xtx, st.xtx.T)             # exactly symmetric
    np.testing.assert_allclose(st.xty, xty, rtol=rtol, atol=rtol * np.sqrt(np.diag(xtx) * yty).max())
    assert st.yty == pytest.approx(float(yty), rel=rtol)
    np.testing.assert_allclose(st.x_mean, x_mean, rtol=1e-12, atol=0)
    assert st.y_mean == pytest.approx(float(y_mean), rel=1e-12, abs=0)


def test_the_big_case_really_splits_into_default_blocks():
    assert BIG_N > 2 * DEFAULT_CHUNK and BIG_N % DEFAULT_CHUNK != 0
    assert inspect.signature(residual_stats).parameters["chunk"].default == DEFAULT_CHUNK


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("chunk", [1, 7, 49, 50, 51, 10_000])
def test_small_chunks_equal_the_direct_computation(fit_intercept, chunk):
    """n = 50: a block of one row, blocks not dividing n, n - 1 (a last block of one row),
    n, n + 1 and one much larger than n."""
    n, p = 50, 4
    X, y = _data(n, p, seed=chunk)
    st = SuffStats.from_data(X, y, fit_intercept, chunk=chunk)
    _assert_equal(st, _direct(X, y, fit_intercept), n, rtol=1e-10)
    # every chunking gives the same statistics (to rounding) as one block
    whole = SuffStats.from_data(X, y, fit_intercept, chunk=n)
    np.testing.assert_allclose(st.xtx, whole.xtx, rtol=1e-12, atol=1e-12 * np.abs(whole.xtx).max())


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_default_chunking_on_70000_rows_equals_long_double(fit_intercept):
    X, y = _data(BIG_N, 5, seed=1)
    st = SuffStats.from_data(X, y, fit_intercept)
    _assert_equal(st, _direct(X, y, fit_intercept, np.longdouble), BIG_N, rtol=1e-11)
    # and one block of all rows, and odd-sized blocks, agree with the default blocks
    for chunk in (BIG_N, BIG_N - 1, 9_999):
        other = SuffStats.from_data(X, y, fit_intercept, chunk=chunk)
        np.testing.assert_allclose(other.xtx, st.xtx, rtol=1e-11, atol=1e-11 * np.abs(st.xtx).max())
        np.testing.assert_allclose(other.xty, st.xty, rtol=1e-11, atol=1e-11 * np.abs(st.xty).max())


def test_without_intercept_nothing_is_centred():
    X, y = _data(30, 3, seed=2)
    st = SuffStats.from_data(X, y, fit_intercept=False, chunk=4)
    assert st.y_mean == 0.0 and np.all(st.x_mean == 0.0)
    np.testing.assert_allclose(st.xtx, X.T @ X, rtol=1e-12)
    np.testing.assert_allclose(st.xty, X.T @ y, rtol=1e-12)
    assert st.yty == pytest.approx(y @ y, rel=1e-13)
    centred = SuffStats.from_data(X, y, fit_intercept=True, chunk=4)
    assert np.abs(centred.xtx - st.xtx).max() > 1.0     # the two are different statistics


def _residual_direct(X, y, x_mean, y_mean, w, dtype=float):
    X, y = X.astype(dtype), y.astype(dtype)
    Xc = X - np.asarray(x_mean, dtype)
    r = (y - dtype(y_mean)) - Xc @ np.asarray(w, dtype)
    return np.einsum("i,i", r, r), np.einsum("ij,i->j", Xc, r)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("chunk", [1, 7, 49, 50, 51])
def test_residual_stats_small_chunks(fit_intercept, chunk):
    n, p = 50, 4
    X, y = _data(n, p, seed=100 + chunk)
    x_mean = X.mean(0) if fit_intercept else np.zeros(p)
    y_mean = y.mean() if fit_intercept else 0.0
    w = np.random.default_rng(chunk).normal(0, 1, p)
    rss, xtr = residual_stats(X, y, x_mean, y_mean, w, chunk=chunk)
    rss_ref, xtr_ref = _residual_direct(X, y, x_mean, y_mean, w, np.longdouble)
    assert rss == pytest.approx(float(rss_ref), rel=1e-11)
    np.testing.assert_allclose(xtr, xtr_ref.astype(float), rtol=1e-10,
                               atol=1e-11 * float(np.abs(xtr_ref).max()))
    # the same numbers follow from the sufficient statistics when nothing cancels
    st = SuffStats.from_data(X, y, fit_intercept, chunk=chunk)
    assert rss == pytest.approx(st.yty - 2 * w @ st.xty + w @ st.xtx @ w, rel=1e-8)
    np.testing.assert_allclose(xtr, st.xty - st.xtx @ w, rtol=1e-8, atol=1e-8 * np.abs(st.xty).max())


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_residual_stats_default_chunking_on_70000_rows(fit_intercept):
    X, y = _data(BIG_N, 5, seed=3)
    x_mean = X.mean(0) if fit_intercept else np.zeros(5)
    y_mean = y.mean() if fit_intercept else 0.0
    w = np.random.default_rng(4).normal(0, 1, 5)
    rss, xtr = residual_stats(X, y, x_mean, y_mean, w)
    rss_ref, xtr_ref = _residual_direct(X, y, x_mean, y_mean, w, np.longdouble)
    assert rss == pytest.approx(float(rss_ref), rel=1e-11)
    np.testing.assert_allclose(xtr, xtr_ref.astype(float), rtol=1e-9,
                               atol=1e-11 * float(np.abs(xtr_ref).max()))


def test_residual_stats_keep_noise_that_the_sufficient_statistics_lose():
    """Noise 1e-9 of the spread of y: the residuals' squares summed directly keep it (the
    point of residual_stats), while y'y - 2 w'X'y + w'X'Xw cancels to rounding."""
    rng = np.random.default_rng(5)
    n, p = 40_000, 3
    X = rng.normal(10.0, 3.0, (n, p))
    w = np.array([100.0, -50.0, 25.0])
    noise = 1e-6 * rng.standard_normal(n)
    y = X @ w + 7.0 + noise
    x_mean, y_mean = X.mean(0), y.mean()
    Xc, nc = X - x_mean, noise - noise.mean()
    # residuals at w are the centred noise: rss = ||nc||^2 exactly, X_c'r = X_c' nc
    rss, xtr = residual_stats(X, y, x_mean, y_mean, w, chunk=4096)
    r_direct = (y - y_mean) - Xc @ w
    assert rss == pytest.approx(r_direct @ r_direct, rel=1e-9)
    assert rss == pytest.approx(nc @ nc, rel=1e-3)
    np.testing.assert_allclose(xtr, Xc.T @ r_direct, rtol=1e-7, atol=1e-9 * np.abs(Xc.T @ nc).max())
    st = SuffStats.from_data(X, y, chunk=4096)
    cancelled = st.yty - 2 * w @ st.xty + w @ st.xtx @ w
    assert abs(cancelled - nc @ nc) > 10 * (nc @ nc)     # the naive form has lost it
