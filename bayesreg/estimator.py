"""``BayesianRegression``: the exact MAP beside the full posterior, from one model."""

from __future__ import annotations

import dataclasses
import inspect
import json
import time
from typing import NamedTuple

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from scipy import optimize
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from . import diagnostics
from ._validation import (InputError, check_alpha, check_names, check_noise_dof, check_param,
                          check_sigma, check_sigma_resolved, check_X, check_Xy)
from .exact import ConjugateRidge
from .map import center, solve_centered
from .model import (ModelKey, SuffStats, load_kernel, natural_draws, residual_stats,
                    sample_nutpie, sample_pymc, sampler_frame)
from .priors import Prior, log_normalizer

__all__ = ["BayesianRegression", "PredictiveInterval", "METHODS", "SAMPLERS"]

METHODS = ("exact", "map", "nuts")
SAMPLERS = ("nutpie", "pymc")
# Posterior draws x rows of X per block of predict_interval (24 bytes each: ~100 MB).
_PREDICT_BLOCK = 4_000_000


class PredictiveInterval(NamedTuple):
    """Posterior predictive at new points: mean, HDI of the mean, HDI of a new observation."""

    mean: np.ndarray
    mean_low: np.ndarray
    mean_high: np.ndarray
    obs_low: np.ndarray
    obs_high: np.ndarray

    def to_dict(self) -> dict:
        return {k: np.asarray(v).tolist() for k, v in self._asdict().items()}


class BayesianRegression(RegressorMixin, BaseEstimator):
    r"""Regularized linear regression, seen the Bayesian way.

    Minimizes, for the MAP, scikit-learn's ElasticNet objective

    .. math::

        \frac{1}{2n}\lVert y - Xw - b\rVert^2 + \alpha\Big(\rho\lVert w\rVert_1
            + \frac{1-\rho}{2}\lVert w\rVert_2^2\Big)

    and samples the posterior of the model whose mode that is: Gaussian noise, and
    :math:`p(w\mid\sigma^2)\propto\exp(-\frac{n\alpha}{\sigma^2}(\rho\lVert w\rVert_1
    + \frac{1-\rho}{2}\lVert w\rVert^2))`. See :mod:`bayesreg.priors` for the convention and
    its mappings (prior scale, glmnet's and Park & Casella's lambda).

    Parameters
    ----------
    prior : {"ridge", "lasso", "elastic_net"}
        Gaussian (``l1_ratio = 0``), Laplace (``l1_ratio = 1``) or the mixed prior.
    alpha : float >= 0
        Penalty strength (with ``learn_alpha``, the scale and median of its Half-Cauchy prior).
    l1_ratio : float in [0, 1]
        Share of L1 in the penalty; used by ``elastic_net`` only.
    sigma : float > 0 or None
        Known noise sd; None learns it under the Jeffreys prior p(sigma^2) ∝ 1/sigma^2.
    fit_intercept : bool
        Fit an unpenalized intercept (flat prior).
    standardize : bool
        Penalize standardized columns; results are reported on the original scale.
    learn_alpha : bool
        Put a Half-Cauchy(alpha) hyperprior on alpha; the MAP is then reported at the
        posterior median of alpha.
    draws, tune, chains : int >= 1
        NUTS draws and tuning steps per chain, and the number of chains.
    hdi_prob : float in (0, 1)
        Probability mass of the reported highest-density intervals.
    random_seed : int or None
        Seed for the sampler and predictive draws.
    sampler : {"nutpie", "pymc"}
        nutpie (default; one compiled kernel for every prior and width) or PyMC's NUTS.
    target_accept : float in (0, 1) or None
        NUTS's target acceptance rate. None: 0.8 (Stan's and PyMC's default) up to 100
        sampled coordinates, 0.65 above, near the optimum 0.651 of HMC in high dimension
        (Beskos et al. 2013), where it halves the steps per draw for about 15% fewer
        effective draws per draw.
    method : {"nuts", "map", "exact"}
        Default for :meth:`fit`'s ``method``.

    Attributes
    ----------
    coef_, intercept_ : the MAP (always).
    sigma_map_ : the mode of sigma given the MAP coefficients (the given sigma if known).
    alpha_ : the alpha of the MAP (the posterior median when ``learn_alpha``).
    posterior_ : arviz.InferenceData or None (after ``method="map"``).
    feature_names_ : list of str.
    diagnostics_ : dict with divergences, max_r_hat, min_ess_bulk, warnings.
    timing_ : dict of seconds spent (map_s, compile_s, sample_s, total_s).
    """

    def __init__(self, prior="lasso", alpha=0.1, l1_ratio=0.5, sigma=None, fit_intercept=True,
                 standardize=False, learn_alpha=False, draws=1000, tune=1000, chains=4,
                 hdi_prob=0.94, random_seed=None, sampler="nutpie", method="nuts",
                 target_accept=None):
        self.prior = prior
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.sigma = sigma
        self.fit_intercept = fit_intercept
        self.standardize = standardize
        self.learn_alpha = learn_alpha
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.hdi_prob = hdi_prob
        self.random_seed = random_seed
        self.sampler = sampler
        self.method = method
        self.target_accept = target_accept

    # ------------------------------------------------------------------ validation
    def _check_params(self, method):
        prior = Prior.create(self.prior, self.alpha, self.l1_ratio)
        check_alpha(prior.alpha)
        if self.sigma is not None:
            check_sigma(check_param("sigma", self.sigma, low=0.0, low_open=True))
        for name in ("fit_intercept", "standardize", "learn_alpha"):
            check_param(name, getattr(self, name), kind="bool")
        for name in ("draws", "tune", "chains"):
            check_param(name, getattr(self, name), kind="int", low=1)
        check_param("hdi_prob", self.hdi_prob, low=0.0, high=1.0, low_open=True, high_open=True)
        if self.random_seed is not None:
            check_param("random_seed", self.random_seed, kind="int", low=0, high=2**32 - 1)
        check_param("sampler", self.sampler, choices=SAMPLERS)
        if self.target_accept is not None:
            check_param("target_accept", self.target_accept, low=0.0, high=1.0, low_open=True,
                        high_open=True)
        check_param("method", self.method, choices=METHODS)
        method = check_param("method", method, choices=METHODS)
        if method == "exact" and prior.l1_ratio != 0.0:
            raise InputError("method", f"'exact' is the conjugate ridge posterior; prior "
                                       f"{self.prior!r} has no closed form (use 'nuts')")
        if self.learn_alpha and method != "nuts":
            raise InputError("method", f"learn_alpha=True needs method='nuts' (the MAP is taken at "
                                       f"the posterior median of alpha); got {method!r}")
        if self.learn_alpha and prior.alpha == 0:
            raise InputError("alpha", "with learn_alpha=True, alpha is the scale of its "
                                      "Half-Cauchy prior and must be > 0; got 0.0")
        return prior, method

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y, method=None, feature_names=None, progress=None, should_stop=None):
        """Fit the MAP and, unless ``method="map"``, the posterior. Returns ``self``.

        ``method``: "nuts" (sample the posterior), "map" (the MAP only) or "exact" (ridge's
        closed-form posterior). ``progress(done, total)`` is called while sampling, with the
        draws done over all chains, tuning included; a callback with a parameter named
        ``phase`` also gets ``phase="tuning"`` (while any chain still tunes) or "sampling".
        ``should_stop()`` is polled while sampling (a few times a second); when it returns
        true the sampler is cancelled and :class:`bayesreg.model.Cancelled` is raised.
        """
        start = time.perf_counter()
        prior, method = self._check_params(self.method if method is None else method)
        if y is None:
            raise InputError("y", "requires y to be passed, but the target y is None")
        if isinstance(y, str):
            raise InputError("y", f"must be an array of numbers; got {y!r}")
        validate_data(self, X, skip_check_array=True, reset=True)  # n_features_in_, feature_names_in_
        X_arr, y_arr = check_Xy(X, y)
        self.feature_names_ = self._resolve_names(X, feature_names, X_arr.shape[1])
        n, p = X_arr.shape
        self.seed_ = (int(np.random.SeedSequence().entropy % 2**32) if self.random_seed is None
                      else int(self.random_seed))
        if n >= p:
            # one pass over the data: the MAP, the sampler and the exact posterior need only
            # these statistics, and no centred copy of X is made
            st = SuffStats.from_data(X_arr, y_arr, self.fit_intercept)
            Xc, gram, xty = None, st.xtx, st.xty
            self._x_mean, self._y_mean = st.x_mean, st.y_mean
            yc = y_arr - st.y_mean
        else:
            Xc, yc, self._x_mean, self._y_mean = center(X_arr, y_arr, self.fit_intercept)
            gram = xty = None
        self._stats = (Xc, yc, gram, xty, float(yc @ yc))
        self._data = (X_arr, y_arr)
        try:
            self._pen_scale = self._scales() if self.standardize else np.ones(p)
            self.posterior_, self._exact, self.alpha_ = None, None, prior.alpha
            self.diagnostics_ = None
            timing = {"map_s": 0.0, "compile_s": 0.0, "sample_s": 0.0}

            t0 = time.perf_counter()
            self._fit_map(prior)
            timing["map_s"] = time.perf_counter() - t0
            if method == "nuts":
                t0 = time.perf_counter()
                trace, timing["compile_s"] = self._sample(prior, progress, should_stop)
                timing["sample_s"] = time.perf_counter() - t0 - timing["compile_s"]
                self.posterior_ = self._to_original(trace)
                del self._frame
                if self.learn_alpha:
                    self.alpha_ = float(self.posterior_.posterior["alpha"].median())
                    t0 = time.perf_counter()
                    self._fit_map(Prior(prior.name, self.alpha_, prior.l1_ratio))
                    timing["map_s"] += time.perf_counter() - t0
            if method == "exact":
                e = self._pen_scale
                self._exact = ConjugateRidge.fit(Xc, yc, self._x_mean, self._y_mean, prior.alpha, e,
                                                 self.sigma, self.fit_intercept, gram, xty,
                                                 data=self._data)
                self._check_noise_resolved()
                self.posterior_ = self._exact_idata()
            self._summary = self._build_summary()
            if self.posterior_ is not None:
                self.diagnostics_ = self._diagnostics(method)
            timing["total_s"] = time.perf_counter() - start
            self.timing_ = timing
        finally:
            # the data and the sampler's frame are not kept, whether or not the fit succeeded
            for name in ("_stats", "_data", "_resid_cache", "_frame"):
                self.__dict__.pop(name, None)
        self.method_ = method
        return self

    def _resolve_names(self, X, feature_names, p):
        if feature_names is not None:
            names = [str(f) for f in feature_names]
            if len(names) != p:
                raise InputError("feature_names", f"has {len(names)} names but X has {p} columns")
            if len(set(names)) != p:
                raise InputError("feature_names", "names must be unique")
            check_names(names)
            return names
        if hasattr(X, "columns"):
            names = [str(c) for c in X.columns]
            if len(set(names)) == p:
                check_names(names, field="X.columns")
                return names
        return [f"x{j}" for j in range(p)]

    def _scales(self):
        """Column scale used to standardize: sd with an intercept, root mean square without."""
        Xc, yc, gram, _, _ = self._stats
        sq = np.diag(gram) if gram is not None else (Xc**2).sum(axis=0)
        s = np.sqrt(sq / yc.shape[0])
        return np.where(s > 0, s, 1.0)

    def _fit_map(self, prior):
        """The MAP in penalty coordinates (columns divided by their scale when standardizing)."""
        Xc, yc, gram, xty, yty = self._stats
        e = self._pen_scale
        if gram is not None:
            w_e, self.kkt_violation_ = solve_centered(None, yc, prior, gram / np.outer(e, e), xty / e)
        else:
            w_e, self.kkt_violation_ = solve_centered(Xc / e, yc, prior)
        self.coef_ = w_e / e
        self.intercept_ = (self._y_mean - float(self._x_mean @ self.coef_)
                           if self.fit_intercept else 0.0)
        self.sigma_map_ = self.sigma if self.sigma is not None else self._sigma_mode(prior)

    def _residuals(self):
        """``(r'r, X_c'r)`` at the MAP, summed from the residuals (cached per MAP)."""
        cached = getattr(self, "_resid_cache", None)
        if cached is None or cached[0] is not self.coef_:
            X_arr, y_arr = self._data
            cached = (self.coef_, residual_stats(X_arr, y_arr, self._x_mean, self._y_mean,
                                                 self.coef_))
            self._resid_cache = cached
        return cached[1]

    def _sigma_mode(self, prior):
        """Mode of p(sigma | w = MAP, b = MAP, y), Jeffreys prior included."""
        Xc, yc, gram, xty, yty = self._stats
        n, w = yc.shape[0], self.coef_
        rss = self._residuals()[0]
        u = w * self._pen_scale
        if rss <= 0:
            return 0.0

        def neg_log_post(log_s):
            var = np.exp(2 * log_s)
            lp = -n * log_s - rss / (2 * var) - log_s
            if prior.kind != "flat":
                a = n * prior.alpha * prior.l1_ratio / var
                b = n * prior.alpha * (1 - prior.l1_ratio) / var
                lp += -prior.penalty(u) * n / var - log_normalizer(a, b) * u.size
            return -lp

        guess = 0.5 * np.log(rss / n)
        res = optimize.minimize_scalar(neg_log_post, bracket=(guess - 1, guess + 1))
        return float(np.exp(res.x))

    # ------------------------------------------------------------------ posterior
    def _sample(self, prior, progress, should_stop=None):
        Xc, yc, gram, xty, yty = self._stats
        n, p = yc.shape[0], self.n_features_in_
        y_scale = float(np.sqrt(yty / n)) or 1.0
        x_scale = self._scales()
        e = self._pen_scale
        self._sampling_scales = (y_scale, x_scale)
        if gram is None:
            gram = Xc.T @ Xc
        if prior.kind == "flat" and np.linalg.matrix_rank(gram / np.outer(x_scale, x_scale)) < p:
            raise InputError("alpha", f"the posterior is improper: alpha = 0 (a flat prior) and X "
                                      f"has rank below its {p} columns; use alpha > 0")
        self._check_noise_resolved()
        key = ModelKey(prior.kind, p, bool(self.fit_intercept), self.sigma is not None,
                       bool(self.learn_alpha))
        rss, xtr = self._residuals()
        g1, g2 = e / (x_scale * y_scale), (e / x_scale) ** 2
        sigma_hat = (self.sigma_map_ / y_scale) if self.sigma_map_ > 0 else 1e-3
        frame = sampler_frame(
            key, n, gram / np.outer(x_scale, x_scale), self.coef_ * x_scale / y_scale,
            rss / y_scale**2, xtr / (x_scale * y_scale), sigma_hat, prior.alpha, prior.l1_ratio,
            g1, g2, sigma=None if self.sigma is None else self.sigma / y_scale,
            X=None if Xc is None else Xc / x_scale)
        self._frame = frame
        target = self.target_accept
        if target is None:
            target = 0.8 if frame.dim <= 100 else 0.65
        kw = dict(draws=int(self.draws), tune=int(self.tune), chains=int(self.chains),
                  seed=self.seed_, target_accept=float(target))
        if self.sampler == "pymc":
            return sample_pymc(frame, **kw), 0.0
        compile_s = load_kernel()
        return sample_nutpie(frame, progress=_with_phase(progress), should_stop=should_stop,
                             **kw), compile_s

    def _check_noise_resolved(self):
        """Refuse to learn sigma where the residuals are rounding error, not noise (or from too
        few rows), and a known sigma below the rounding of y."""
        X_arr, y_arr = self._data
        if self.sigma is not None:
            check_sigma_resolved(float(self.sigma), y_arr)
            return
        n = y_arr.shape[0]
        check_noise_dof(n, X_arr.shape[1], self.fit_intercept, float(self.alpha) == 0.0)
        rss = self._residuals()[0]
        # residual i carries about eps * (|y_i| + sum_j |x_ij w_j|) of rounding; residuals that
        # are all exactly 0 (y = 0, no intercept) resolve no noise either
        per_row = np.abs(y_arr) + np.abs(X_arr) @ np.abs(self.coef_)
        level = np.finfo(float).eps * float(per_row.max())
        if np.sqrt(rss / n) <= 1e3 * level:
            raise InputError("y", f"the residuals at the MAP (rms {np.sqrt(rss / n):.3g}) are at "
                                  f"the rounding level of the data ({level:.3g}): sigma cannot "
                                  f"be learned; pass a known sigma")

    def _to_original(self, sampled):
        x, sample_stats = sampled
        y_scale, x_scale = self._sampling_scales
        draws = natural_draws(x, self._frame)
        w = draws["w"] * y_scale / x_scale
        intercept = self._y_mean + draws["c"] * y_scale - w @ self._x_mean
        if not self.fit_intercept:
            intercept = np.zeros_like(draws["c"])
        values = {"coef": w, "intercept": intercept, "sigma": draws["sigma"] * y_scale}
        if self.learn_alpha:
            values["alpha"] = draws["alpha"]
        return self._make_idata(values, sample_stats=sample_stats)

    def _make_idata(self, values, sample_stats=None):
        chains, draws = values["intercept"].shape
        coords = {"chain": np.arange(chains), "draw": np.arange(draws),
                  "feature": list(self.feature_names_)}
        dims = {"coef": ["chain", "draw", "feature"]}
        ds = xr.Dataset({k: (dims.get(k, ["chain", "draw"]), v) for k, v in values.items()},
                        coords=coords)
        groups = {"posterior": ds}
        if sample_stats is not None:
            groups["sample_stats"] = sample_stats
        return az.InferenceData(**groups)

    def _exact_idata(self):
        rng = np.random.default_rng(self.seed_)
        total = int(self.draws) * int(self.chains)
        coef, intercept, sigma = self._exact.draws(total, rng)
        shape = (int(self.chains), int(self.draws))
        return self._make_idata({"coef": coef.reshape(*shape, -1),
                                 "intercept": intercept.reshape(shape),
                                 "sigma": sigma.reshape(shape)})

    # ------------------------------------------------------------------ results
    def _map_rows(self):
        rows = {name: ("coef", j, float(self.coef_[j])) for j, name in enumerate(self.feature_names_)}
        rows["intercept"] = ("intercept", None, self.intercept_)
        rows["sigma"] = ("sigma", None, float(self.sigma_map_))
        if self.learn_alpha:
            rows["alpha"] = ("alpha", None, float(self.alpha_))
        return rows

    def _build_summary(self, hdi_prob=None):
        rows, prob = self._map_rows(), self.hdi_prob if hdi_prob is None else hdi_prob
        if self.posterior_ is None:
            df = pd.DataFrame({"map": {k: v[2] for k, v in rows.items()}})
            return df.reindex(columns=diagnostics.SUMMARY_COLUMNS)
        if self._exact is not None:
            return self._exact_summary(rows, prob)
        return diagnostics.summarize_posterior(self.posterior_.posterior, rows, prob)

    def _exact_summary(self, rows, prob):
        ex = self._exact
        out = {}
        marginals = dict(zip(self.feature_names_, ex.coef_marginals()))
        marginals["intercept"] = ex.intercept_marginal()
        for name, (_, _, map_value) in rows.items():
            dist = marginals.get(name)
            if name == "sigma" and ex.sigma is None:
                mean, sd, median, (lo, hi) = ex.sigma_summary(prob)
                ppos = 1.0
            elif dist is None:  # a known sigma, or no intercept: a point mass
                mean = median = lo = hi = map_value
                sd, ppos = 0.0, float(map_value > 0)
            else:  # symmetric unimodal: the HDI is the central interval
                mean, sd, median = dist.mean(), dist.std(), dist.median()
                lo, hi = dist.interval(prob)
                ppos = dist.sf(0.0)
            out[name] = {"map": map_value, "mean": mean, "sd": sd, "median": median,
                         "hdi_low": lo, "hdi_high": hi, "mcse_mean": 0.0, "ess_bulk": np.nan,
                         "ess_tail": np.nan, "r_hat": np.nan, "prob_positive": ppos,
                         "map_in_hdi": bool(lo - 1e-12 * abs(lo) <= map_value <= hi + 1e-12 * abs(hi))}
        return pd.DataFrame.from_dict(out, orient="index")[diagnostics.SUMMARY_COLUMNS].astype(
            {c: float for c in diagnostics.SUMMARY_COLUMNS if c != "map_in_hdi"})

    def _diagnostics(self, method):
        if method == "exact":
            return {"divergences": 0, "max_r_hat": None, "min_ess_bulk": None,
                    "warnings": [], "note": "exact closed-form posterior: no sampling"}
        stats = self.posterior_.sample_stats
        div = int(stats["diverging"].values.sum()) if "diverging" in stats else 0
        s = self._summary
        sizes = self.posterior_.posterior.sizes
        return {"divergences": div, "max_r_hat": _num(s["r_hat"].max()),
                "min_ess_bulk": _num(s["ess_bulk"].min()),
                "warnings": diagnostics.convergence_warnings(s, div, draws=sizes["draw"],
                                                             chains=sizes["chain"])}

    def summary(self, hdi_prob=None) -> pd.DataFrame:
        """MAP beside the posterior: one row per coefficient (feature order), intercept, sigma."""
        check_is_fitted(self, "coef_")
        if hdi_prob is None or hdi_prob == self.hdi_prob:
            return self._summary.copy()
        check_param("hdi_prob", hdi_prob, low=0.0, high=1.0, low_open=True, high_open=True)
        return self._build_summary(hdi_prob)

    def to_dict(self) -> dict:
        """JSON-safe result: MAP, posterior summaries, diagnostics, timing (NaN -> None)."""
        check_is_fitted(self, "coef_")
        s = self._summary
        out = {"map": {"coef": [float(c) for c in self.coef_], "intercept": float(self.intercept_),
                       "sigma": float(self.sigma_map_)},
               "posterior": None, "diagnostics": self.diagnostics_,
               "timing": getattr(self, "timing_", None)}
        if self.posterior_ is not None:
            def row(name):
                return {"name": name, **{k: _num(v) for k, v in s.loc[name].items()}}
            post = {"coef": [row(n) for n in self.feature_names_],
                    "intercept": row("intercept"), "sigma": row("sigma")}
            if self.learn_alpha:
                post["alpha"] = row("alpha")
            out["posterior"] = post
        return out

    # ------------------------------------------------------------------ prediction
    def predict(self, X):
        """MAP predictions."""
        check_is_fitted(self, "coef_")
        X_arr = check_X(X, self.coef_.size, type(self).__name__)
        validate_data(self, X, skip_check_array=True, reset=False)  # feature-name consistency
        return X_arr @ self.coef_ + self.intercept_

    def predict_interval(self, X, hdi_prob=None) -> PredictiveInterval:
        """Posterior predictive at ``X``: mean, HDI of the mean and HDI of a new observation."""
        check_is_fitted(self, "coef_")
        if self.posterior_ is None:
            raise InputError("method", "no posterior: the model was fitted with method='map'")
        prob = self.hdi_prob if hdi_prob is None else check_param(
            "hdi_prob", hdi_prob, low=0.0, high=1.0, low_open=True, high_open=True)
        X_arr = check_X(X, self.coef_.size, type(self).__name__)
        validate_data(self, X, skip_check_array=True, reset=False)  # feature-name consistency
        post = self.posterior_.posterior
        coef = post["coef"].values.reshape(-1, self.coef_.size)
        intercept = post["intercept"].values.ravel()
        sigma = post["sigma"].values.ravel()
        # Row blocks of at most _PREDICT_BLOCK draws x rows: three float64 matrices of that
        # size (means, noise, draws) are alive at once, ~100 MB whatever the number of rows.
        # Block 0 draws its noise as before (one block: the same numbers as before).
        rows = max(1, _PREDICT_BLOCK // intercept.size)
        parts = []
        for b, start in enumerate(range(0, X_arr.shape[0], rows)):
            mu = intercept[:, None] + coef @ X_arr[start:start + rows].T     # (draws, rows)
            rng = np.random.default_rng(self.seed_ + 1 if b == 0 else [self.seed_ + 1, b])
            obs = mu + sigma[:, None] * rng.standard_normal(mu.shape)
            mean_hdi = az.hdi(mu[None], hdi_prob=prob)
            obs_hdi = az.hdi(obs[None], hdi_prob=prob)
            parts.append((mu.mean(axis=0), mean_hdi[:, 0], mean_hdi[:, 1],
                          obs_hdi[:, 0], obs_hdi[:, 1]))
        return PredictiveInterval(*(np.concatenate(c) for c in zip(*parts)))

    # ------------------------------------------------------------------ persistence
    _STATE = ("coef_", "intercept_", "sigma_map_", "alpha_", "feature_names_", "feature_names_in_",
              "diagnostics_", "timing_", "method_", "seed_", "kkt_violation_", "n_features_in_")

    def save(self, path) -> None:
        """Write the fitted estimator (posterior, MAP, parameters, summary) to one netCDF file."""
        check_is_fitted(self, "coef_")
        state = {k: _jsonable(getattr(self, k)) for k in self._STATE if hasattr(self, k)}
        exact = None
        if self._exact is not None:
            exact = {f.name: _jsonable(getattr(self._exact, f.name))
                     for f in dataclasses.fields(self._exact) if f.name != "a_inv"}
            # Only the marginal variances are read after load (summaries); the p x p matrix
            # as JSON text took ~24 bytes per entry: 97 MB of model.nc at p = 2000.
            exact["a_inv"] = _jsonable(np.diag(self._exact.a_inv))
        params = {k: _jsonable(v) for k, v in self.get_params().items()}
        meta = json.dumps({"params": params, "state": state, "exact": exact,
                           "summary": {"index": list(self._summary.index),
                                       "columns": list(self._summary.columns),
                                       "data": [[_jsonable(v) for v in row]
                                                for row in self._summary.itertuples(index=False)]}})
        if self.posterior_ is not None:
            idata = self.posterior_.copy()
            idata.posterior.attrs["bayesreg"] = meta
            idata.to_netcdf(str(path))
        else:
            xr.Dataset(attrs={"bayesreg": meta}).to_netcdf(str(path), engine="h5netcdf")

    @classmethod
    def load(cls, path) -> "BayesianRegression":
        """Restore an estimator written by :meth:`save`."""
        ds = xr.open_dataset(str(path), engine="h5netcdf")
        has_posterior = "bayesreg" not in ds.attrs
        ds.close()
        # Eagerly: the arrays are read now and the file closed, so the file can be replaced
        # or deleted (and its space freed) while the estimator lives on.
        idata = None
        if has_posterior:
            with az.rc_context({"data.load": "eager"}):
                idata = az.from_netcdf(str(path))
        attrs = (idata.posterior.attrs if idata is not None else
                 xr.load_dataset(str(path), engine="h5netcdf").attrs)
        meta = json.loads(attrs["bayesreg"])
        est = cls(**meta["params"])
        for k, v in meta["state"].items():
            setattr(est, k, np.asarray(v, dtype=object if k == "feature_names_in_" else float)
                    if k in ("coef_", "feature_names_in_") else v)
        est.posterior_ = idata
        if idata is not None:
            idata.posterior.attrs.pop("bayesreg", None)
        split = meta["summary"]
        est._summary = pd.DataFrame(split["data"], index=split["index"], columns=split["columns"])
        exact = meta.get("exact")
        est._exact = None if exact is None else ConjugateRidge(
            **{k: np.asarray(v) if isinstance(v, list) else v for k, v in exact.items()})
        return est


def _with_phase(progress):
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


def _num(value):
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    value = float(value)
    return value if np.isfinite(value) else None


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value
