r"""The PyMC model in sufficient statistics, its compiled-model cache and the samplers.

With centred data :math:`X_c, y_c` and the centred intercept :math:`c = b - \bar y + \bar x^\top w`
the Gaussian log-likelihood depends on the data only through
:math:`S_{xx} = X_c^\top X_c`, :math:`S_{xy} = X_c^\top y_c`, :math:`S_{yy} = y_c^\top y_c` and ``n``:

.. math::

    \log p(y \mid w, c, \sigma) = -\frac n2 \log(2\pi\sigma^2)
        - \frac{S_{yy} - 2 w^\top S_{xy} + w^\top S_{xx} w + n c^2}{2\sigma^2},

because the centred columns sum to zero. One gradient costs :math:`O(p^2)` whatever ``n`` is.

The sampler works on rescaled data (y divided by ``y_scale``, column j by ``x_scale[j]``) so
that every parameter is of order one at nutpie's starting point; the penalty weights ``g1`` and
``g2`` carry the rescaling, so the sampled posterior is exactly the posterior of the
original model, mapped back by :func:`to_original_scale`.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt

__all__ = [
    "SuffStats",
    "ModelKey",
    "build_model",
    "sampler_frame",
    "natural_draws",
    "compiled_model",
    "clear_cache",
    "cache_info",
    "sample_nutpie",
    "sample_pymc",
]


@dataclass(frozen=True)
class SuffStats:
    """Sufficient statistics of centred (or, without intercept, raw) data."""

    n: int
    xtx: np.ndarray
    xty: np.ndarray
    yty: float
    x_mean: np.ndarray
    y_mean: float

    @classmethod
    def from_data(cls, X, y, fit_intercept=True, chunk=32_768) -> "SuffStats":
        """One pass over ``X``, in blocks of rows: no centred copy of ``X`` is ever made.

        Each block is centred and added with BLAS ``syrk`` (symmetric rank-k update), which
        is several times faster here than ``Xc.T @ Xc``.
        """
        from scipy.linalg import blas

        n, p = X.shape
        x_mean = X.mean(axis=0) if fit_intercept else np.zeros(p)
        y_mean = float(y.mean()) if fit_intercept else 0.0
        yc = y - y_mean
        xtx = np.zeros((p, p))
        xty = np.zeros(p)
        for start in range(0, n, chunk):
            block = X[start:start + chunk] - x_mean
            # block.T is Fortran-ordered: syrk reads it without a copy; it fills the upper triangle
            xtx = blas.dsyrk(1.0, block.T, beta=1.0, c=xtx, trans=0, lower=0, overwrite_c=1)
            xty += block.T @ yc[start:start + chunk]
        xtx = np.triu(xtx) + np.triu(xtx, 1).T
        return cls(n, xtx, xty, float(yc @ yc), x_mean, y_mean)


@dataclass(frozen=True)
class ModelKey:
    """What fixes a compiled model's structure: everything else is data swapped in."""

    kind: str          # 'flat', 'normal', 'laplace' or 'mixed'
    p: int
    fit_intercept: bool
    sigma_known: bool
    learn_alpha: bool


def _log_normalizer(kind, a, b):
    """Symbolic twin of :func:`bayesreg.priors.log_normalizer` for one prior kind."""
    if kind == "laplace":
        return pt.log(2.0 / a)
    if kind == "normal":
        return 0.5 * pt.log(2 * np.pi / b)
    return pt.log(2.0) + 0.5 * pt.log(np.pi / (2 * b)) + pt.log(pt.erfcx(a / pt.sqrt(2 * b)))


def build_model(key: ModelKey, data: dict) -> pm.Model:
    """Build the PyMC model for ``key``; ``data`` holds the values of its ``pm.Data`` containers.

    ``data``: ``xtx``, ``xty``, ``yty``, ``n``; ``alpha`` (the fixed penalty) or, when
    ``learn_alpha``, ``alpha_scale`` (the scale of alpha's Half-Cauchy prior); ``l1_ratio``; the
    per-coefficient L1 and L2 penalty weights ``g1`` (not for 'normal') and ``g2`` (not for
    'laplace'); ``sigma`` when ``sigma_known``. Only what the graph uses may be given: nutpie's
    ``with_data`` rejects unknown names.

    The sampler moves whitened offsets, ``w = w_loc + w_chol @ z``,
    ``log sigma = logsig_loc + logsig_scale * u`` and ``c = c_scale * v``, with locations and
    scales from a Gaussian approximation at the MAP (see :func:`sampler_frame`). These are
    data too, so a cached model serves any data set of its width, and NUTS starts near the mode
    with the right scales whatever ``n`` is. The Jacobians are constants. A flat prior on
    ``log sigma`` is exactly the Jeffreys prior p(sigma) ∝ 1/sigma.
    """
    coords = {"coef": np.arange(key.p)}
    with pm.Model(coords=coords) as model:
        d = {name: pm.Data(name, np.asarray(value, dtype=float)) for name, value in data.items()}
        w = d["w_loc"] + pt.dot(d["w_chol"], pm.Flat("z", dims="coef"))
        if key.sigma_known:
            sigma = d["sigma"]
        else:
            sigma = pt.exp(d["logsig_loc"] + d["logsig_scale"] * pm.Flat("u"))
        var = sigma**2
        if key.kind != "flat":
            alpha = pm.HalfCauchy("alpha", beta=d["alpha_scale"]) if key.learn_alpha else d["alpha"]
            n, rho = d["n"], d["l1_ratio"]
            a = n * alpha * rho * d["g1"] / var if "g1" in d else None
            b = n * alpha * (1 - rho) * d["g2"] / var if "g2" in d else None
            penalty = (a * pt.abs(w)).sum() if key.kind != "normal" else 0.0
            if key.kind != "laplace":
                penalty = penalty + (0.5 * b * w**2).sum()
            pm.Potential("w_prior", -penalty - _log_normalizer(key.kind, a, b).sum())
        rss = d["yty"] - 2 * pt.dot(w, d["xty"]) + pt.dot(w, pt.dot(d["xtx"], w))
        if key.fit_intercept:
            c = d["c_scale"] * pm.Flat("v")
            rss = rss + d["n"] * c**2
        pm.Potential("loglik", -0.5 * d["n"] * pt.log(2 * np.pi * var) - rss / (2 * var))
    return model


def sampler_frame(key: ModelKey, stats: SuffStats, w_map, sigma_hat, alpha, l1_ratio, g1, g2):
    """Locations and scales of the sampler's coordinates: a Gaussian approximation at the MAP.

    The curvature of the likelihood, ``X'X / sigma^2``, plus a per-coefficient prior precision
    (the Normal part's ``n alpha (1 - rho) g2 / sigma^2``, the Laplace part's variance-matched
    ``(n alpha rho g1)^2 / (2 sigma^4)``) is the precision ``H``; ``w_chol`` is the Cholesky
    factor of ``H^-1``, so that ``z`` is roughly standard normal and uncorrelated: NUTS then
    needs few steps per draw whatever the correlation of the columns or ``n``.
    """
    n, p = stats.n, stats.xtx.shape[0]
    var = sigma_hat**2
    prior_prec = np.zeros(p)
    if key.kind in ("normal", "mixed"):
        prior_prec += n * alpha * (1 - l1_ratio) * g2 / var
    if key.kind in ("laplace", "mixed"):
        prior_prec += (n * alpha * l1_ratio * g1) ** 2 / (2 * var**2)
    prec = stats.xtx / var
    prec[np.diag_indices(p)] += prior_prec + 1e-10 * (np.trace(prec) / p + 1e-300)
    try:
        # H = R R' (lower R)  =>  H^-1 = R^-T R^-1, and R^-T is an upper-triangular factor
        r = np.linalg.cholesky(prec)
        chol = np.linalg.solve(r.T, np.eye(p))
    except np.linalg.LinAlgError:
        chol = np.diag(1.0 / np.sqrt(np.clip(np.diag(prec), 1e-16, None)))
    frame = {"w_loc": np.asarray(w_map, dtype=float), "w_chol": chol}
    if not key.sigma_known:
        frame["logsig_loc"] = float(np.log(sigma_hat))
        frame["logsig_scale"] = float(1.0 / np.sqrt(2.0 * max(n - min(p, n - 1), 1)))
    if key.fit_intercept:
        frame["c_scale"] = float(sigma_hat / np.sqrt(n))
    return frame


def natural_draws(posterior, key: ModelKey, data: dict) -> dict:
    """Map the sampler's coordinates back to ``w``, ``c``, ``sigma`` (and ``alpha``) draws."""
    z = posterior["z"].values
    out = {"w": data["w_loc"] + z @ np.asarray(data["w_chol"]).T}
    shape = z.shape[:2]
    if key.sigma_known:
        out["sigma"] = np.full(shape, float(data["sigma"]))
    else:
        out["sigma"] = np.exp(data["logsig_loc"] + data["logsig_scale"] * posterior["u"].values)
    out["c"] = data["c_scale"] * posterior["v"].values if key.fit_intercept else np.zeros(shape)
    if key.learn_alpha:
        out["alpha"] = posterior["alpha"].values
    return out


_CACHE: dict = {}
_CACHE_LOCK = threading.Lock()
_KEY_LOCKS: dict = {}


def compiled_model(key: ModelKey, data: dict):
    """The nutpie model for ``key`` with ``data`` swapped in; compiles once per key and process.

    Returns ``(compiled, seconds_spent_compiling)``. Changing the width through ``with_data``
    crashes nutpie, so the width is part of the key.
    """
    with _CACHE_LOCK:
        lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with lock:
        base = _CACHE.get(key)
        spent = 0.0
        if base is None:
            import nutpie

            start = time.perf_counter()
            base = nutpie.compile_pymc_model(build_model(key, data))
            spent = time.perf_counter() - start
            _CACHE[key] = base
    return base.with_data(**{k: np.asarray(v, dtype=float) for k, v in data.items()}), spent


def clear_cache() -> None:
    """Forget every compiled model (the next fit of each structure compiles again)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def cache_info() -> list[ModelKey]:
    """The model structures compiled in this process."""
    return list(_CACHE)


def sample_nutpie(compiled, *, draws, tune, chains, seed, progress=None, progress_bar=False):
    """Sample with nutpie; ``progress(done, total)`` is called as draws complete."""
    import nutpie

    cores = min(chains, os.cpu_count() or 1)
    if progress is None:
        return nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, cores=cores,
                             seed=seed, progress_bar=progress_bar, save_warmup=False)
    return _sample_with_callback(compiled, draws, tune, chains, cores, seed, progress)


def _sample_with_callback(compiled, draws, tune, chains, cores, seed, progress):
    # nutpie (0.16) reports progress to a callback only through its notebook template hook;
    # we render a two-number template and parse it.
    from nutpie import _lib
    from nutpie.sample import _BackgroundSampler

    last = [0]

    def callback(text):
        try:
            done, total = (int(float(v)) for v in text.split())
        except ValueError:
            return
        last[0] = done
        progress(done, total)

    settings = _lib.PyNutsSettings.Diag(seed)
    settings.num_tune, settings.num_draws, settings.num_chains = tune, draws, chains
    sampler = _BackgroundSampler.__new__(_BackgroundSampler)
    sampler._settings, sampler._compiled_model = settings, compiled
    sampler._save_warmup, sampler._return_raw_trace, sampler._html = False, False, None
    sampler._store = _lib.PyStorage.arrow()
    kind = _lib.ProgressType.template_callback(
        100, "{{ total_finished_draws }} {{ total_draws }}", cores, callback)
    sampler._sampler = compiled._make_sampler(settings, np.zeros(compiled.n_dim), cores, kind,
                                              sampler._store)
    try:
        trace = sampler.wait()
    except BaseException:
        sampler.cancel()
        raise
    total = chains * (draws + tune)
    if last[0] < total:  # the last report may predate the final draws
        progress(total, total)
    return trace


def sample_pymc(key: ModelKey, data: dict, *, draws, tune, chains, seed, progress_bar=False):
    """Fallback: PyMC's own NUTS on the same model (slower; compiles on every call)."""
    model = build_model(key, data)
    with model:
        return pm.sample(draws=draws, tune=tune, chains=chains, cores=1, random_seed=seed,
                         progressbar=progress_bar, compute_convergence_checks=False)
