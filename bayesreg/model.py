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
    "compiled_model",
    "clear_cache",
    "cache_info",
    "sample_nutpie",
    "sample_pymc",
]


@dataclass(frozen=True)
class SuffStats:
    """Sufficient statistics of (possibly centred, rescaled) data."""

    n: int
    xtx: np.ndarray
    xty: np.ndarray
    yty: float

    @classmethod
    def from_data(cls, X, y) -> "SuffStats":
        return cls(X.shape[0], X.T @ X, X.T @ y, float(y @ y))


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

    ``data``: ``xtx``, ``xty``, ``yty``, ``n``, ``alpha`` (the fixed penalty) or, when
    ``learn_alpha``, ``alpha_scale`` (the scale of alpha's Half-Cauchy prior), ``l1_ratio``, the per-coefficient L1 and L2 penalty weights
    ``g1`` (not for 'normal') and ``g2`` (not for 'laplace') and, when ``sigma_known``, ``sigma``.
    Only what the graph uses may be given: nutpie's ``with_data`` rejects unknown names.
    """
    coords = {"coef": np.arange(key.p)}
    with pm.Model(coords=coords) as model:
        d = {name: pm.Data(name, np.asarray(value, dtype=float)) for name, value in data.items()}
        w = pm.Flat("w", dims="coef")
        if key.sigma_known:
            sigma = d["sigma"]
        else:
            sigma = pm.HalfFlat("sigma")
            # Jeffreys p(sigma^2) ∝ 1/sigma^2, i.e. p(sigma) ∝ 1/sigma
            pm.Potential("sigma_prior", -pt.log(sigma))
        alpha = pm.HalfCauchy("alpha", beta=d["alpha_scale"]) if key.learn_alpha else d["alpha"]
        var = sigma**2
        if key.kind != "flat":
            n, rho = d["n"], d["l1_ratio"]
            a = n * alpha * rho * d["g1"] / var if "g1" in d else None
            b = n * alpha * (1 - rho) * d["g2"] / var if "g2" in d else None
            penalty = (a * pt.abs(w)).sum() if key.kind != "normal" else 0.0
            if key.kind != "laplace":
                penalty = penalty + (0.5 * b * w**2).sum()
            pm.Potential("w_prior", -penalty - _log_normalizer(key.kind, a, b).sum())
        rss = d["yty"] - 2 * pt.dot(w, d["xty"]) + pt.dot(w, pt.dot(d["xtx"], w))
        if key.fit_intercept:
            c = pm.Flat("c")
            rss = rss + d["n"] * c**2
        pm.Potential("loglik", -0.5 * d["n"] * pt.log(2 * np.pi * var) - rss / (2 * var))
    return model


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
