"""MC dropout from many threads (fits and predictions), the one-pass summary, and the mixture
quantiles."""

import threading

import numpy as np
import pytest
from scipy.special import ndtr

from bayesreg.dropout import MCDropoutRegressor, mixture_normal_quantile


@pytest.fixture(scope="module")
def nets():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = np.sin(X[:, 0]) + X[:, 1] + 0.1 * rng.normal(size=80)
    # same depth, so before they shared one compiled program and its random stream
    return [MCDropoutRegressor(hidden=(8,), dropout=0.2, epochs=5, mc_samples=300,
                               seed=seed).fit(X, y) for seed in (1, 2)], X


def test_predict_summary_is_predict_and_predict_interval_in_one(nets):
    (net, _), X = nets
    s = net.predict_summary(X[:9], hdi_prob=0.8)
    mean, sd = net.predict(X[:9], return_std=True)
    interval = net.predict_interval(X[:9], hdi_prob=0.8)
    for got, want in ((s.mean, mean), (s.sd, sd), (s.mean_low, interval.mean_low),
                      (s.mean_high, interval.mean_high), (s.obs_low, interval.obs_low),
                      (s.obs_high, interval.obs_high), (interval.mean, mean)):
        np.testing.assert_array_equal(got, want)


def test_concurrent_predictions_are_the_sequential_ones(nets):
    """Threads predicting at once, on one network and on two of the same depth, each get
    exactly the seeded draws they get alone: no shared random stream, no lock needed."""
    models, X = nets
    jobs = [(models[k % 2], X[k:k + 5 + k % 3]) for k in range(8)]
    want = [m.predict_summary(x, hdi_prob=0.95) for m, x in jobs]
    got = [None] * len(jobs)
    start = threading.Barrier(len(jobs))

    def run(i):
        start.wait()
        for _ in range(3):
            got[i] = jobs[i][0].predict_summary(jobs[i][1], hdi_prob=0.95)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g, w in zip(got, want):
        for a, b in zip(g, w):
            np.testing.assert_array_equal(a, b)


def _fit_in_threads(data, seeds):
    """Fits of the same depth (one cached compiled program), started together in threads."""
    X, y = data
    out = [None] * len(seeds)
    start = threading.Barrier(len(seeds))

    def run(i):
        start.wait()
        out[i] = MCDropoutRegressor(hidden=(8,), dropout=0.3, epochs=25, batch_size=8,
                                    mc_samples=10, seed=seeds[i]).fit(X, y)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(seeds))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _sequential(data, seeds):
    X, y = data
    return [MCDropoutRegressor(hidden=(8,), dropout=0.3, epochs=25, batch_size=8,
                               mc_samples=10, seed=s).fit(X, y) for s in seeds]


@pytest.fixture(scope="module")
def train_data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(64, 2))
    return X, X[:, 0] - X[:, 1] ** 2 + 0.1 * rng.normal(size=64)


def _weights(net):
    return np.concatenate([W.ravel() for W in net.coefs_])


def test_concurrent_fits_are_the_sequential_ones(train_data):
    """Each estimator draws its training masks from its own Generator and runs its own copy
    of the cached program: three fits at once (two with one seed) give the sequential
    weights bit for bit, with no lock."""
    seeds = [7, 7, 8]
    got, want = _fit_in_threads(train_data, seeds), _sequential(train_data, seeds)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(_weights(g), _weights(w))
        np.testing.assert_array_equal(g.loss_curve_, w.loss_curve_)
    assert not np.array_equal(_weights(got[0]), _weights(got[2]))


def test_each_fit_runs_a_copy_of_one_compile(train_data):
    """One compilation per depth and dtype, shared by estimators; each fit its own copy (one
    compiled function called from two threads at once fails on its shared storage)."""
    from bayesreg.dropout import training

    _sequential(train_data, [1])
    before = training._compiled_step.cache_info()
    _sequential(train_data, [2, 3])
    after = training._compiled_step.cache_info()
    assert (after.misses, after.hits - before.hits) == (before.misses, 2)
    assert training.step_function(2, "float64") is not training.step_function(2, "float64")


def test_a_shared_mask_stream_would_fail_that_test(train_data, monkeypatch):
    """The check above can fail: with one Generator shared by all fits (the old design's one
    random stream, without its lock) the threads' interleaved draws change the weights."""
    from bayesreg.dropout import regressor

    shared = np.random.default_rng(0)
    train = regressor.train
    monkeypatch.setattr(regressor, "train",
                        lambda *a, **kw: train(*a, **{**kw, "mask_rng": shared}))
    got = _fit_in_threads(train_data, [7, 7])
    assert not np.array_equal(_weights(got[0]), _weights(got[1]))


@pytest.mark.parametrize("spread, sd", [(1.0, 1.0), (10.0, 0.1), (100.0, 0.01), (0.01, 1.0)])
@pytest.mark.parametrize("q", [0.025, 0.5, 0.975])
def test_mixture_quantile_solves_the_cdf(spread, sd, q):
    """Newton with a bisection safeguard: the mixture CDF at the answer is q, also for
    well-separated modes (a staircase CDF) and for columns converging at different speeds."""
    rng = np.random.default_rng(7)
    means = rng.normal(size=(500, 40)) * spread * rng.uniform(0.01, 1, size=40)
    means[:, ::3] += rng.choice([-3.0, 3.0], size=(500, 1)) * spread
    x = mixture_normal_quantile(means, sd, q)
    cdf = ndtr((x[None, :] - means) / sd).mean(axis=0)
    np.testing.assert_allclose(cdf, q, atol=1e-8)


def test_training_prints_no_blas_warning():
    # a fresh process: PyTensor warns at its first compile, and programs are cached per process
    import subprocess
    import sys

    code = ("import numpy as np\n"
            "from bayesreg import MCDropoutRegressor\n"
            "X = np.random.default_rng(0).normal(size=(40, 3))\n"
            "MCDropoutRegressor(hidden=(4,), epochs=2, mc_samples=5).fit(X, X[:, 0])\n")
    done = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", code],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and "BLAS" not in done.stderr, done.stderr[-2000:]
