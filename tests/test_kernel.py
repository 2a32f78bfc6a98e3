"""The sampler's numba kernel evaluates exactly the PyMC model's log density and gradient.

:func:`bayesreg.model.build_model` is the definition of the sampled posterior; nutpie samples
it through :mod:`bayesreg.kernel`. Here both are evaluated at random points, for every prior
kind, option and a few widths, and must agree to rounding (PyMC's ``logp`` includes the
log-transform Jacobian of alpha, as the kernel does).
"""

import itertools

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from bayesreg.model import (Frame, ModelKey, build_model, fold_ridge, load_kernel,
                            residual_stats, sampler_frame)

load_kernel()
from bayesreg import kernel  # noqa: E402  (loaded through load_kernel, as the sampler does)


def _frame(rng, kind, p, fit_intercept, sigma_known, learn_alpha, n=60):
    X = rng.normal(0.5, 1.0, (n, p)) * rng.uniform(0.5, 2.0, p)
    w_true = rng.normal(0, 1, p) * (rng.random(p) < 0.6)
    y = X @ w_true + 1.0 + rng.standard_normal(n)
    x_mean = X.mean(0) if fit_intercept else np.zeros(p)
    y_mean = y.mean() if fit_intercept else 0.0
    Xc, yc = X - x_mean, y - y_mean
    rho = {"flat": 0.5, "normal": 0.0, "laplace": 1.0, "mixed": 0.4}[kind]
    alpha = 0.0 if kind == "flat" else 0.15
    m = rng.normal(0, 0.3, p)                  # any location: the density is exact anywhere
    rss, xtr = residual_stats(X, y, x_mean, y_mean, m)
    key = ModelKey(kind, p, fit_intercept, sigma_known, learn_alpha)
    g1, g2 = rng.uniform(0.5, 2.0, p), rng.uniform(0.5, 2.0, p)
    return sampler_frame(key, n, Xc.T @ Xc, m, rss, xtr, 0.9, alpha, rho, g1, g2,
                         sigma=1.1 if sigma_known else None)


def _pymc_point(frame, x):
    k, p = frame.key, frame.key.p
    point, i = {"z": x[:p]}, p
    if not k.sigma_known:
        point["u"] = np.array(x[i])
        i += 1
    if k.fit_intercept:
        point["v"] = np.array(x[i])
        i += 1
    if k.learn_alpha:
        point["alpha_log__"] = np.array(np.log(frame.alpha) + x[i])
    return point


def _pymc_logp_and_grad(model):
    """PyMC's log density and its gradient, compiled without C (fast to build)."""
    order = ["z", "u", "v", "alpha_log__"]
    values = sorted(model.value_vars, key=lambda v: order.index(v.name))
    logp = model.logp()
    grad = pt.concatenate([pt.atleast_1d(g) for g in pt.grad(logp, values)])
    fn = pytensor.function(values, [logp, grad], mode="FAST_COMPILE")
    return lambda point: fn(*[point[v.name] for v in values])


def _assert_same_density(rng, a, b, points, scale=1.0):
    """The kernel gives frames ``a`` and ``b`` the same log density and gradient."""
    for _ in range(points):
        x = rng.normal(0, scale, a.dim)
        ga, gb = np.zeros(a.dim), np.zeros(b.dim)
        va = kernel.logp_and_grad(x, a.to_buffer(), ga)
        vb = kernel.logp_and_grad(x, b.to_buffer(), gb)
        assert va == pytest.approx(vb, rel=1e-11)
        np.testing.assert_allclose(ga, gb, rtol=1e-9, atol=1e-9)


CASES = [(kind, fi, sk, la) for kind, fi, sk, la in itertools.product(
    ["flat", "normal", "laplace", "mixed"], [True, False], [True, False], [False, True])
    if not (la and kind == "flat")]


@pytest.mark.parametrize("kind,fit_intercept,sigma_known,learn_alpha", CASES)
def test_kernel_equals_pymc_logp_and_gradient(rng, kind, fit_intercept, sigma_known,
                                              learn_alpha):
    for p in (1, 4) if kind == "mixed" else (3,):
        frame = _frame(rng, kind, p, fit_intercept, sigma_known, learn_alpha)
        frames = [frame, fold_ridge(frame)] if fold_ridge(frame) is not frame else [frame]
        for f in frames:
            pymc_fn = _pymc_logp_and_grad(build_model(f))
            buf = f.to_buffer()
            for _ in range(3):
                x = rng.normal(0, 0.7, f.dim)
                grad = np.zeros(f.dim)
                value = kernel.logp_and_grad(x, buf, grad)
                expected, expected_grad = pymc_fn(_pymc_point(f, x))
                assert value == pytest.approx(float(expected), rel=1e-10, abs=1e-9)
                np.testing.assert_allclose(grad, expected_grad, rtol=1e-8, atol=1e-8)


def test_folding_the_ridge_prior_keeps_the_density(rng):
    frame = _frame(rng, "normal", 5, True, False, False)
    folded = fold_ridge(frame)
    assert folded.folded and not frame.folded
    _assert_same_density(rng, frame, folded, points=5)


def test_one_kernel_serves_every_width(rng):
    """The kernel reads the width from the buffer: one compiled specialization serves every p,
    and at each width it is the PyMC model's density and gradient."""
    for p in (3, 17, 64):
        frame = _frame(rng, "laplace", p, True, False, False)
        assert isinstance(frame, Frame) and frame.key.p == p
        pymc_fn = _pymc_logp_and_grad(build_model(frame))
        x = rng.normal(0, 0.5, frame.dim)
        grad = np.zeros(frame.dim)
        value = kernel.logp_and_grad(x, frame.to_buffer(), grad)
        expected, expected_grad = pymc_fn(_pymc_point(frame, x))
        assert value == pytest.approx(float(expected), rel=1e-10, abs=1e-9)
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-8, atol=1e-8)
    assert len(kernel.logp_and_grad.signatures) == 1   # no compile per width


def test_a_wait_over_a_second_is_announced(caplog):
    import logging
    import time

    from bayesreg.model import announce_if_slow

    # wide margins, so a loaded machine's thread scheduling cannot decide the outcome
    with caplog.at_level(logging.INFO, logger="bayesreg"):
        with announce_if_slow("still working", after=1.0):
            time.sleep(0.01)
        assert "still working" not in caplog.text      # quick: nothing said
        with announce_if_slow("still working", after=0.2):
            time.sleep(2.0)
        assert "still working" in caplog.text          # said before the block ended


@pytest.mark.slow
def test_fresh_process_announces_the_first_compile(tmp_path):
    """With an empty numba cache, a fresh process says it is compiling before the wait."""
    import os
    import subprocess
    import sys

    code = ("import logging, sys; logging.basicConfig(stream=sys.stderr, level=logging.INFO)\n"
            "from bayesreg.model import load_kernel\n"
            "print(round(load_kernel(), 2))\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    if float(out.stdout.strip()) > 1.5:
        assert "compiling the sampler kernel" in out.stderr


def test_alpha_underflowing_to_zero_is_outside_the_support(rng):
    """exp(log alpha) = 0 for log alpha < -745: -inf (a rejected point), not an exception."""
    frame = _frame(rng, "laplace", 3, True, False, True)
    x = np.zeros(frame.dim)
    x[-1] = -800.0 - np.log(frame.alpha)
    grad = np.full(frame.dim, np.nan)
    assert kernel.logp_and_grad(x, frame.to_buffer(), grad) == -np.inf
    assert np.all(grad == 0.0)


@pytest.mark.parametrize("kind,learn_alpha", [("laplace", False), ("mixed", True)])
def test_data_form_equals_gram_form_when_n_below_p(rng, kind, learn_alpha):
    """With fewer rows than columns the kernel uses X'(X dw) instead of X'X dw, and a low-rank
    whitening instead of dense W: the same density and gradient."""
    import dataclasses

    n, p = 12, 30
    X = rng.standard_normal((n, p))
    y = X[:, :2] @ [1.0, -1.0] + rng.standard_normal(n)
    Xc, yc = X - X.mean(0), y - y.mean()
    m = np.zeros(p)
    rss, xtr = residual_stats(X, y, X.mean(0), y.mean(), m)
    key = ModelKey(kind, p, True, False, learn_alpha)
    rho = 1.0 if kind == "laplace" else 0.6
    data_form = sampler_frame(key, n, Xc.T @ Xc, m, rss, xtr, 0.9, 0.2, rho, np.ones(p),
                              np.ones(p), X=Xc)
    assert data_form.X is not None and data_form.X.shape == (n, p)
    assert data_form.lowrank is not None
    # the low-rank factor whitens the approximation's precision: W W' = H^-1, with
    # H = J X'X J / sigma^2 + diag(prior curvature) (plus a 1e-6 relative floor on the diagonal)
    f = data_form
    tp = np.sqrt(f.h0 / (np.diag(Xc.T @ Xc) / np.exp(2 * f.logsig_loc)))
    U = Xc * tp / np.exp(f.logsig_loc)
    H = U.T @ U + np.diag(f.c_lap + f.c_nor + 1e-6 * f.h0)
    np.testing.assert_allclose(f.W @ f.W.T @ H, np.eye(p), atol=1e-8)
    gram_form = dataclasses.replace(data_form, X=None, lowrank=None)
    _assert_same_density(rng, data_form, gram_form, points=4, scale=0.5)


@pytest.mark.slow  # a fresh interpreter imports PyMC and the kernel
def test_a_fresh_process_loads_the_kernel_from_disk_and_compiles_no_width(tmp_path):
    """numba's own counters: in a new process both C callbacks come from the disk cache, and
    fits at several widths and priors run on them."""
    import subprocess
    import sys

    load_kernel()          # this process has the kernel in the cache by now
    code = (
        "import numpy as np\n"
        "from bayesreg import BayesianRegression\n"
        "from bayesreg.model import load_kernel\n"
        "load_kernel()\n"
        "from bayesreg import kernel\n"
        "rng = np.random.default_rng(0)\n"
        "for p, prior in [(3, 'lasso'), (11, 'elastic_net'), (6, 'ridge'), (4, 'lasso')]:\n"
        "    X = rng.standard_normal((40, p)); y = X[:, 0] + rng.standard_normal(40)\n"
        "    BayesianRegression(prior=prior, alpha=0.1, draws=50, tune=50, chains=2).fit(X, y)\n"
        "print(kernel.logp_cfunc.cache_hits, kernel.expand_cfunc.cache_hits)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr
    # the two C callbacks nutpie calls came from the disk cache (a compile leaves 0), and the
    # fits at four widths and three priors compiled nothing else they could call
    assert out.stdout.split() == ["1", "1"]


def test_should_stop_cancels_sampling_promptly(rng):
    """should_stop() turning true mid-run cancels nutpie's sampler and raises Cancelled."""
    import time

    from bayesreg.model import Cancelled, sample_nutpie

    frame = _frame(rng, "laplace", 40, True, False, False)
    start = time.perf_counter()
    with pytest.raises(Cancelled):
        sample_nutpie(frame, draws=200_000, tune=1000, chains=2, seed=1,
                      should_stop=lambda: time.perf_counter() - start > 0.5)
    assert time.perf_counter() - start < 30     # 200,000 draws would take minutes
