"""The core as a pipeline of steps with typed results.

.. code-block:: text

    SuffStats.of(X, y) -> solve_map(stats, prior) -> MapResult
                       -> sample(stats, prior, map_result, settings) -> Posterior
                       or conjugate_ridge(stats, prior, map_result, settings) -> Posterior

Each step reads the data only through :class:`~bayesreg.model.SuffStats` (``X'X``, or the
centred ``X`` when ``n < p``, and one pass over the rows for the residuals at a MAP), so
sampling costs the same whatever ``n`` is. The steps trust their inputs:
:class:`~bayesreg.BayesianRegression` validates them.
"""

from __future__ import annotations

import inspect
import time

import numpy as np

from ._validation import (InputError, check_exact_prior, check_noise_dof, check_sigma_resolved,
                          resolve_seed)
from .diagnostics import diagnose, summarize
from .exact import ConjugateRidge
from .map import sigma_mode, solve_centered
from .model import SuffStats, frame_for, load_kernel, original_draws, sample_nutpie, sample_pymc
from .priors import Prior
from .results import Diagnostics, MapResult, Posterior, SamplerSettings

__all__ = ["SuffStats", "SamplerSettings", "MapResult", "Posterior", "Diagnostics",
           "solve_map", "sample", "conjugate_ridge", "make_idata", "check_noise", "seed_of",
           "default_names", "with_phase", "run_sampler"]

EXACT_NOTE = "exact closed-form posterior: no sampling"


def solve_map(stats: SuffStats, prior: Prior, *, sigma=None, standardize=False) -> MapResult:
    """The exact MAP of ``prior`` (see :mod:`bayesreg.map`), with the mode of sigma there.

    ``sigma``: the known noise sd, or None to report the mode of sigma given the MAP
    coefficients. ``standardize``: penalize the columns divided by their scale
    (:meth:`SuffStats.scales`); the MAP is reported on the original scale either way.
    """
    scale = stats.scales() if standardize else np.ones(stats.p)
    return _solve(stats, prior, scale, sigma)


def _solve(stats, prior, scale, sigma) -> MapResult:
    if stats.xtx is not None:
        w_e, kkt = solve_centered(None, stats.yc, prior, stats.xtx / np.outer(scale, scale),
                                  stats.xty / scale)
    else:
        w_e, kkt = solve_centered(stats.Xc / scale, stats.yc, prior)
    coef = w_e / scale
    intercept = stats.y_mean - float(stats.x_mean @ coef) if stats.fit_intercept else 0.0
    rss, xtr = stats.residuals(coef)
    mode = float(sigma) if sigma is not None else sigma_mode(stats.n, rss, coef * scale, prior)
    return MapResult(coef, float(intercept), mode, float(prior.alpha), kkt,
                     sigma_known=sigma is not None, scale=scale, rss=rss, xtr=xtr)


def sample(stats: SuffStats, prior: Prior, map_result: MapResult, settings: SamplerSettings,
           *, learn_alpha=False, feature_names=None, progress=None,
           should_stop=None) -> Posterior:
    """Draw the posterior with NUTS around ``map_result`` (from :func:`solve_map`).

    ``learn_alpha``: sample alpha under a Half-Cauchy(``prior.alpha``) hyperprior; the
    posterior's MAP is then re-solved at alpha's posterior median. ``progress(done, total)``
    (or with a ``phase`` parameter, also "tuning" or "sampling") reports the draws done over
    all chains; ``should_stop()`` is polled and cancels the sampler
    (:class:`bayesreg.model.Cancelled`).
    """
    frame = frame_for(stats, prior, map_result, learn_alpha)
    check_noise(stats, prior, map_result)
    target = settings.target_accept
    if target is None:
        target = 0.8 if frame.dim <= 100 else 0.65
    x, sample_stats, timing = run_sampler(frame, settings, target, sample_pymc, progress,
                                          should_stop)
    names = default_names(feature_names, stats.p)
    idata = make_idata(original_draws(x, frame, stats), names, sample_stats)
    t0 = time.perf_counter()
    if learn_alpha:
        alpha = float(idata.posterior["alpha"].median())
        sigma = map_result.sigma if map_result.sigma_known else None
        map_result = _solve(stats, Prior(prior.name, alpha, prior.l1_ratio), map_result.scale,
                            sigma)
    timing["map_s"] = time.perf_counter() - t0
    summary = summarize(idata.posterior, map_result, names, settings.hdi_prob)
    return Posterior(idata, summary, diagnose(idata, summary), map_result, settings.hdi_prob,
                     timing=timing)


def run_sampler(frame, settings: SamplerSettings, target_accept, pymc_sampler, progress=None,
                should_stop=None):
    """Draw a frame's sampler coordinates with ``settings.sampler``: nutpie through the
    frame's compiled kernel (``frame.KERNEL``), or ``pymc_sampler(frame, **kw)`` (PyMC's NUTS
    on the frame's PyMC model). Returns ``(draws, sample_stats, timing)``, ``timing`` the
    seconds spent loading the kernel (``compile_s``) and sampling (``sample_s``)."""
    kw = dict(draws=int(settings.draws), tune=int(settings.tune), chains=int(settings.chains),
              seed=seed_of(settings), target_accept=float(target_accept))
    t0 = time.perf_counter()
    if settings.sampler == "pymc":
        compile_s = 0.0
        x, sample_stats = pymc_sampler(frame, **kw)
    else:
        compile_s = load_kernel(frame.KERNEL)
        x, sample_stats = sample_nutpie(frame, progress=with_phase(progress),
                                        should_stop=should_stop, **kw)
    return x, sample_stats, {"compile_s": compile_s,
                             "sample_s": time.perf_counter() - t0 - compile_s}


def conjugate_ridge(stats: SuffStats, prior: Prior, map_result: MapResult,
                    settings: SamplerSettings, *, feature_names=None) -> Posterior:
    """Ridge's closed-form posterior (:class:`~bayesreg.exact.ConjugateRidge`), with
    ``settings.draws`` x ``settings.chains`` independent draws of it for predictions."""
    check_exact_prior(prior)
    sigma = map_result.sigma if map_result.sigma_known else None
    exact = ConjugateRidge.from_stats(stats, prior.alpha, map_result.scale, sigma)
    check_noise(stats, prior, map_result)
    rng = np.random.default_rng(seed_of(settings))
    shape = (int(settings.chains), int(settings.draws))
    coef, intercept, sigmas = exact.draws(shape[0] * shape[1], rng)
    names = default_names(feature_names, stats.p)
    idata = make_idata({"coef": coef.reshape(*shape, -1), "intercept": intercept.reshape(shape),
                        "sigma": sigmas.reshape(shape)}, names)
    summary = summarize(idata.posterior, map_result, names, settings.hdi_prob, exact)
    return Posterior(idata, summary, Diagnostics(0, None, None, (), EXACT_NOTE), map_result,
                     settings.hdi_prob, exact)


def make_idata(values: dict, feature_names, sample_stats=None):
    """InferenceData of draws shaped (chain, draw[, feature]): ``coef`` by ``feature``,
    ``intercept``, ``sigma`` (and ``alpha``; a horseshoe's ``tau``, ``lambda`` by feature and
    the slab's ``c``)."""
    import arviz as az
    import xarray as xr

    chains, draws = values["intercept"].shape
    coords = {"chain": np.arange(chains), "draw": np.arange(draws),
              "feature": list(feature_names)}
    dims = {k: ["chain", "draw", "feature"] for k, v in values.items() if np.ndim(v) == 3}
    ds = xr.Dataset({k: (dims.get(k, ["chain", "draw"]), v) for k, v in values.items()},
                    coords=coords)
    groups = {"posterior": ds}
    if sample_stats is not None:
        groups["sample_stats"] = sample_stats
    return az.InferenceData(**groups)


def check_noise(stats: SuffStats, prior: Prior, map_result: MapResult):
    """Refuse to learn sigma where the residuals are rounding error, not noise (or from too
    few rows), and a known sigma below the rounding of y."""
    X, y = stats.data
    if map_result.sigma_known:
        check_sigma_resolved(float(map_result.sigma), y)
        return
    n = stats.n
    check_noise_dof(n, stats.p, stats.fit_intercept, float(prior.alpha) == 0.0)
    rss = map_result.rss
    # residual i carries about eps * (|y_i| + sum_j |x_ij w_j|) of rounding; residuals that
    # are all exactly 0 (y = 0, no intercept) resolve no noise either
    per_row = np.abs(y) + np.abs(X) @ np.abs(map_result.coef)
    level = np.finfo(float).eps * float(per_row.max())
    if np.sqrt(rss / n) <= 1e3 * level:
        raise InputError("y", f"the residuals at the MAP (rms {np.sqrt(rss / n):.3g}) are at "
                              f"the rounding level of the data ({level:.3g}): sigma cannot "
                              f"be learned; pass a known sigma")


def seed_of(settings: SamplerSettings) -> int:
    """The settings' seed, or a fresh one drawn when it is None."""
    return resolve_seed(settings.seed)


def default_names(feature_names, p):
    """``feature_names`` as a list, or ``x0 .. x{p-1}``."""
    return [f"x{j}" for j in range(p)] if feature_names is None else list(feature_names)


def with_phase(progress):
    """The sampler's ``progress(done, total, phase)`` for a user's callback, which gets the
    phase only if it has a parameter named ``phase`` (the two-argument form stays valid;
    the same convention as SciPy's ``intermediate_result`` callbacks)."""
    if progress is None:
        return None
    try:
        takes_phase = "phase" in inspect.signature(progress).parameters
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        takes_phase = False
    if takes_phase:
        return lambda done, total, phase: progress(done, total, phase=phase)
    return lambda done, total, phase: progress(done, total)

