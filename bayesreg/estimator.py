"""``BayesianRegression``: the exact MAP beside the full posterior, from one model."""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
from typing import NamedTuple

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from . import diagnostics, loo
from ._validation import (RANGES, InputError, check_alpha, check_exact_prior, check_param,
                          check_sigma, check_X, check_Xy, resolve_feature_names, resolve_seed)
from .exact import ConjugateRidge
from .horseshoe import HORSESHOE_PRIORS, Horseshoe, no_mode, sample_horseshoe
from .model import SuffStats
from .pipeline import conjugate_ridge, sample, solve_map
from .priors import PRIORS, Prior
from .results import Diagnostics, MapResult, Posterior, SamplerSettings

__all__ = ["BayesianRegression", "PredictiveInterval", "METHODS", "SAMPLERS", "PRIOR_NAMES"]

METHODS = ("exact", "map", "nuts")
#: every prior: the elastic-net family (bayesreg.priors) and the horseshoes (bayesreg.horseshoe)
PRIOR_NAMES = (*PRIORS, *HORSESHOE_PRIORS)
SAMPLERS = ("nutpie", "pymc")
# Posterior draws x rows of X per block of predict_interval (24 bytes each: ~100 MB).
_PREDICT_BLOCK = 4_000_000
#: The most cells (rows x chains x draws) of a stored log_likelihood group: 200 MB of float64.
LOG_LIKELIHOOD_CAP = 25_000_000


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
    prior : {"ridge", "lasso", "elastic_net", "horseshoe", "regularized_horseshoe"}
        Gaussian (``l1_ratio = 0``), Laplace (``l1_ratio = 1``) or the mixed prior; or a
        horseshoe (see :mod:`bayesreg.horseshoe` and below), sampled only (``method="nuts"``).
    alpha : float >= 0
        Penalty strength (with ``learn_alpha``, the scale and median of its Half-Cauchy prior).
        Ignored by the horseshoes, like ``l1_ratio`` by ridge and lasso.
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
    draws : int >= 4
        NUTS draws per chain (ArviZ's rank-normalized split r_hat and ESS need 4).
    tune, chains : int >= 1
        NUTS tuning steps per chain, and the number of chains.
    hdi_prob : float in (0, 1)
        Probability mass of the reported highest-density intervals.
    seed : int or None
        Seed for the sampler and predictive draws (None: a fresh one, kept in ``seed_``). The
        same name as the command line's ``--seed`` and the API's ``"seed"``.
    sampler : {"nutpie", "pymc"}
        nutpie (default; one compiled kernel for every prior and width) or PyMC's NUTS.
    target_accept : float in (0, 1) or None
        NUTS's target acceptance rate. None: 0.8 (Stan's and PyMC's default) up to 100
        sampled coordinates, 0.65 above, near the optimum 0.651 of HMC in high dimension
        (Beskos et al. 2013), where it halves the steps per draw for about 15% fewer
        effective draws per draw.
    method : {"nuts", "map", "exact"}
        Default for :meth:`fit`'s ``method``.
    global_scale : float > 0 or None
        Horseshoes: tau0, the scale of tau's Half-Cauchy prior. None: from
        ``expected_nonzero`` if given, else 1 (Carvalho, Polson & Scott's and brms's; see
        :mod:`bayesreg.horseshoe` for why).
    expected_nonzero : int in [1, p - 1] or None
        Horseshoes: a guess p0 of the non-zero coefficients, setting tau0 = p0 / (p - p0) /
        sqrt(n) (Piironen & Vehtari 2017; sigma is factored out). Not with ``global_scale``.
    slab_df, slab_scale : float > 0
        Regularized horseshoe: c^2 ~ Inv-Gamma(slab_df / 2, slab_df slab_scale^2 / 2), c on
        the scale of w / sigma. These four are validated for every prior and used by the
        horseshoes only. ``target_accept`` None is 0.99 for the horseshoes.
    random_seed : int or None
        Deprecated alias of ``seed`` (a ``FutureWarning``); it will be removed.
    log_likelihood : bool
        Store the pointwise log-likelihood as ``posterior_``'s ``log_likelihood`` group
        (variable ``y``, dims chain, draw, obs_id), as PyMC does on request. Refused above
        :data:`LOG_LIKELIHOOD_CAP` (25,000,000 rows x draws x chains, 200 MB); :meth:`loo`
        needs no group (it computes in chunks from ``X, y``).

    Attributes
    ----------
    coef_, intercept_ : the MAP (always); for a horseshoe prior, which has no finite mode,
        the posterior median of each coefficient and of the intercept, so ``predict`` is still
        ``X @ coef_ + intercept_`` (the scikit-learn contract), and the summary's ``map``
        column is NaN (``None`` in ``to_dict``).
    sigma_map_ : the mode of sigma given the MAP coefficients (the given sigma if known).
    alpha_ : the alpha of the MAP (the posterior median when ``learn_alpha``).
    posterior_ : arviz.InferenceData or None (after ``method="map"``).
    feature_names_ : list of str.
    diagnostics_ : dict with divergences, max_r_hat, min_ess_bulk, warnings
        (``diagnostics.to_dict()``).
    timing_ : dict of seconds spent (map_s, compile_s, sample_s, total_s).
    map_ : :class:`bayesreg.results.MapResult`, the typed MAP.
    posterior_result_ : :class:`bayesreg.results.Posterior` or None: draws, summary and
        typed :class:`~bayesreg.results.Diagnostics` (also as the property ``diagnostics``).

    A fit is the pipeline of :mod:`bayesreg.pipeline`: ``SuffStats.of`` -> ``solve_map`` ->
    ``sample`` or ``conjugate_ridge``; this class validates, names and stores.
    """

    def __init__(self, prior="lasso", alpha=0.1, l1_ratio=0.5, sigma=None, fit_intercept=True,
                 standardize=False, learn_alpha=False, draws=1000, tune=1000, chains=4,
                 hdi_prob=0.94, seed=None, sampler="nutpie", method="nuts",
                 target_accept=None, random_seed=None, log_likelihood=False, global_scale=None,
                 expected_nonzero=None, slab_df=4.0, slab_scale=2.0):
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
        self.seed = seed
        self.random_seed = random_seed
        self.sampler = sampler
        self.method = method
        self.target_accept = target_accept
        self.log_likelihood = log_likelihood
        self.global_scale = global_scale
        self.expected_nonzero = expected_nonzero
        self.slab_df = slab_df
        self.slab_scale = slab_scale

    # ------------------------------------------------------------------ validation
    def check_params(self, method=None):
        """Check every parameter, as :meth:`fit` does first: raises :class:`InputError` naming
        the first bad one; returns ``(Prior or Horseshoe, method)``. Public so that a front
        end (the service) refuses a request at its door by the core's own rules, not a copy of
        them."""
        method = self.method if method is None else method
        prior = self._check_prior()
        if self.sigma is not None:
            check_sigma(check_param("sigma", self.sigma, low=0.0, low_open=True))
        for name in ("fit_intercept", "standardize", "learn_alpha", "log_likelihood"):
            check_param(name, getattr(self, name), kind="bool")
        for name in ("draws", "tune", "chains", "hdi_prob"):
            RANGES[name].check(name, getattr(self, name))
        if self.seed is not None:
            RANGES["seed"].check("seed", self.seed)
        if self.random_seed is not None:
            warnings.warn("BayesianRegression(random_seed=) is deprecated and will be removed; "
                          "use seed=", FutureWarning, stacklevel=3)
            if self.seed is not None:
                raise InputError("random_seed", "is the deprecated name of seed; give only seed")
            RANGES["seed"].check("random_seed", self.random_seed)
        check_param("sampler", self.sampler, choices=SAMPLERS)
        if self.target_accept is not None:
            RANGES["target_accept"].check("target_accept", self.target_accept)
        check_param("method", self.method, choices=METHODS)
        method = check_param("method", method, choices=METHODS)
        if isinstance(prior, Horseshoe):
            _check_horseshoe(prior, method, self.learn_alpha)
        elif method == "exact":
            check_exact_prior(prior)
        if self.learn_alpha and method != "nuts":
            raise InputError("method", f"learn_alpha=True needs method='nuts' (the MAP is taken at "
                                       f"the posterior median of alpha); got {method!r}")
        if self.log_likelihood and method == "map":
            raise InputError("log_likelihood", "log_likelihood=True needs a posterior "
                                               "(method 'nuts' or 'exact'); got method='map'")
        if self.learn_alpha and prior.alpha == 0:
            raise InputError("alpha", "with learn_alpha=True, alpha is the scale of its "
                                      "Half-Cauchy prior and must be > 0; got 0.0")
        return prior, method

    def _check_prior(self):
        """The prior as plain data: a :class:`Prior` or a :class:`Horseshoe` (whose own
        parameters are validated whatever the prior, and used by the horseshoes only)."""
        check_param("prior", self.prior, choices=PRIOR_NAMES)
        horseshoe = Horseshoe.create(
            self.prior if self.prior in HORSESHOE_PRIORS else "horseshoe", self.global_scale,
            self.expected_nonzero, self.slab_df, self.slab_scale)
        if self.prior in HORSESHOE_PRIORS:
            return horseshoe
        prior = Prior.create(self.prior, self.alpha, self.l1_ratio)
        check_alpha(prior.alpha)
        return prior

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y, method=None, feature_names=None, progress=None, should_stop=None):
        """Fit the MAP and, unless ``method="map"``, the posterior. Returns ``self``.

        ``method`` is deprecated (a ``FutureWarning``): set it in the constructor,
        ``BayesianRegression(method=...)``, as scikit-learn's estimators take every setting
        (it still overrides the constructor's for now). ``progress(done, total)`` is called
        while sampling, with the draws done over all chains, tuning included; a callback with
        a parameter named ``phase`` also gets ``phase="tuning"`` (while any chain still tunes)
        or "sampling". ``should_stop()`` is polled while sampling (a few times a second); when
        it returns true the sampler is cancelled and :class:`bayesreg.model.Cancelled` is
        raised.
        """
        start = time.perf_counter()
        if method is not None:
            warnings.warn("BayesianRegression.fit(method=...) is deprecated and will be removed; "
                          "pass it to the constructor: BayesianRegression(method=...).fit(X, y)",
                          FutureWarning, stacklevel=2)
        prior, method = self.check_params(method)
        X_arr, y_arr = self._check_data(X, y)
        self._check_log_likelihood_size(X_arr.shape[0])
        self.feature_names_ = resolve_feature_names(X, feature_names, X_arr.shape[1])
        seed = self.random_seed if self.seed is None else self.seed
        self.seed_ = resolve_seed(seed)
        # one pass over the data: X'X (no centred copy of X) unless n < p
        stats = SuffStats.of(X_arr, y_arr, self.fit_intercept)
        if isinstance(prior, Horseshoe):     # no mode: straight to the posterior
            post = sample_horseshoe(stats, prior, self._settings(), sigma=self.sigma,
                                    standardize=self.standardize,
                                    feature_names=self.feature_names_, progress=progress,
                                    should_stop=should_stop)
            timing = {"map_s": 0.0, "compile_s": 0.0, "sample_s": 0.0, **post.timing}
            return self._finish(stats, post.map, post, timing, method, start)
        t0 = time.perf_counter()
        map_result = solve_map(stats, prior, sigma=self.sigma, standardize=self.standardize)
        timing = {"map_s": time.perf_counter() - t0, "compile_s": 0.0, "sample_s": 0.0}
        return self.fit_posterior(stats, prior, method, map_result, timing, start, progress,
                                   should_stop)

    def fit_posterior(self, stats, prior, method, map_result, timing, start, progress=None,
                      should_stop=None):
        """Fit from steps already taken: the steps after the MAP (``sample`` for ``"nuts"``,
        ``conjugate_ridge`` for ``"exact"``, nothing for ``"map"``) and the learned
        attributes; returns ``self``.

        For a caller that computes the :class:`~bayesreg.SuffStats` once and solves the MAP
        itself (:func:`~bayesreg.regularization_path`, every alpha on one ``stats``):
        ``prior`` is the resolved :class:`~bayesreg.priors.Prior`, ``map_result`` its
        :func:`~bayesreg.map.solve_map` on ``stats``, ``timing`` the seconds so far
        (``map_s``, ``compile_s``, ``sample_s``), ``start`` the ``time.perf_counter()`` of
        the fit's start. ``feature_names_`` and ``seed_`` must be set before."""
        post = None
        if method == "nuts":
            post = sample(stats, prior, map_result, self._settings(), learn_alpha=self.learn_alpha,
                          feature_names=self.feature_names_, progress=progress,
                          should_stop=should_stop)
            timing = {k: v + post.timing.get(k, 0.0) for k, v in timing.items()}
        elif method == "exact":
            post = conjugate_ridge(stats, prior, map_result, self._settings(),
                                   feature_names=self.feature_names_)
        return self._finish(stats, map_result if post is None else post.map, post, timing,
                            method, start)

    def _finish(self, stats, map_result, post, timing, method, start):
        """The learned attributes (and on request the log_likelihood group) from the steps'
        results."""
        timing["total_s"] = time.perf_counter() - start
        self._set_results(map_result, post)
        self.timing_, self.method_ = timing, method
        if self.log_likelihood:
            self.posterior_.add_groups(
                log_likelihood=loo.pointwise_log_likelihood(self.posterior_, *stats.data)
                .to_dataset(name="y"))
        return self

    def _check_log_likelihood_size(self, n):
        cells = n * int(self.draws) * int(self.chains)
        if self.log_likelihood and cells > LOG_LIKELIHOOD_CAP:
            raise InputError("log_likelihood", f"a log_likelihood group of {n} rows x "
                             f"{self.chains} chains x {self.draws} draws ({cells:,} values) "
                             f"exceeds the cap of {LOG_LIKELIHOOD_CAP:,} (200 MB); fit without "
                             f"it and call loo(X, y), which computes in chunks")

    def _check_data(self, X, y):
        if y is None:
            raise InputError("y", "requires y to be passed, but the target y is None")
        if isinstance(y, str):
            raise InputError("y", f"must be an array of numbers; got {y!r}")
        validate_data(self, X, skip_check_array=True, reset=True)  # n_features_in_, feature_names_in_
        return check_Xy(X, y)

    def _settings(self) -> SamplerSettings:
        return SamplerSettings(draws=int(self.draws), tune=int(self.tune), chains=int(self.chains),
                               seed=self.seed_, target_accept=self.target_accept,
                               sampler=self.sampler, hdi_prob=self.hdi_prob)

    def _set_results(self, map_result: MapResult, post: Posterior | None):
        """The learned attributes, from the steps' typed results."""
        self.map_, self.posterior_result_ = map_result, post
        self.coef_, self.intercept_ = map_result.coef, map_result.intercept
        if self.prior in HORSESHOE_PRIORS:   # no mode: the posterior medians (class docstring)
            draws = post.idata.posterior
            self.coef_ = draws["coef"].median(("chain", "draw")).to_numpy().astype(float)
            self.intercept_ = float(draws["intercept"].median())
        self.sigma_map_, self.alpha_ = map_result.sigma, map_result.alpha
        self.kkt_violation_ = map_result.kkt
        self.posterior_ = None if post is None else post.idata
        self.diagnostics_ = None if post is None else post.diagnostics.to_dict()

    # ------------------------------------------------------------------ results
    @property
    def diagnostics(self) -> Diagnostics | None:
        """The typed :class:`~bayesreg.results.Diagnostics` (``diagnostics_`` is its dict)."""
        check_is_fitted(self, "coef_")
        post = self.posterior_result_
        return None if post is None else post.diagnostics

    def summary(self, hdi_prob=None) -> pd.DataFrame:
        """MAP beside the posterior: one row per coefficient (feature order), intercept, sigma."""
        check_is_fitted(self, "coef_")
        post = self.posterior_result_
        if post is None:
            rows = diagnostics.map_rows(self.map_, self.feature_names_, self.learn_alpha)
            df = pd.DataFrame({"map": {k: v[2] for k, v in rows.items()}})
            return df.reindex(columns=diagnostics.SUMMARY_COLUMNS)
        if hdi_prob is None or hdi_prob == self.hdi_prob:
            return post.summary.copy()
        RANGES["hdi_prob"].check("hdi_prob", hdi_prob)
        return post.summary_at(hdi_prob)

    def to_dict(self) -> dict:
        """JSON-safe result: MAP, posterior summaries, diagnostics, timing (NaN -> None)."""
        check_is_fitted(self, "coef_")
        post = self.posterior_result_
        out = (post.to_dict() if post is not None else
               {"map": self.map_.to_dict(), "posterior": None, "diagnostics": None})
        out["timing"] = getattr(self, "timing_", None)
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
        if hdi_prob is not None:
            RANGES["hdi_prob"].check("hdi_prob", hdi_prob)
        prob = self.hdi_prob if hdi_prob is None else float(hdi_prob)
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

    def loo(self, X=None, y=None, pointwise=False):
        """PSIS-LOO of the posterior (:func:`bayesreg.loo.psis_loo`): an ArviZ ``ELPDData``
        with the Pareto k counts (``LooResult.from_elpd`` makes it a typed result).

        Computed from ``X, y`` when they are given (the data the model was fitted to), in
        chunks of bounded memory; without them, from the ``log_likelihood`` group stored by
        ``log_likelihood=True``. Given both, the data must have the group's number of rows.
        Warns once (``UserWarning``) if any Pareto k exceeds 0.7.
        """
        check_is_fitted(self, "coef_")
        if self.posterior_ is None:
            raise InputError("method", "no posterior: the model was fitted with method='map'")
        stored = "log_likelihood" in self.posterior_.groups()
        if X is None and y is None and stored:
            return loo.loo_from_log_likelihood(self.posterior_, pointwise)
        if X is None or y is None:
            raise InputError("X" if X is None else "y", "no log_likelihood group was stored "
                             "(fit with log_likelihood=True): pass the data, loo(X, y)")
        rows = self.posterior_.log_likelihood.sizes["obs_id"] if stored else None
        if rows is not None and len(y) != rows:
            raise InputError("y", f"has {len(y)} rows but the model's stored log_likelihood "
                                  f"has {rows}: pass the data the model was fitted to")
        check_X(X, self.coef_.size, type(self).__name__)
        validate_data(self, X, skip_check_array=True, reset=False)  # feature-name consistency
        return loo.psis_loo(self.posterior_, X, y, pointwise)

    # ------------------------------------------------------------------ persistence
    _STATE = ("coef_", "intercept_", "sigma_map_", "alpha_", "feature_names_", "feature_names_in_",
              "diagnostics_", "timing_", "method_", "seed_", "kkt_violation_", "n_features_in_")

    def save(self, path) -> None:
        """Write the fitted estimator (posterior, MAP, parameters) to one netCDF file.

        The summary table is not stored: :meth:`load` recomputes it from the draws (or the
        exact posterior) and the MAP, the same numbers to the bit."""
        check_is_fitted(self, "coef_")
        state = {k: _jsonable(getattr(self, k)) for k in self._STATE if hasattr(self, k)}
        ex = None if self.posterior_result_ is None else self.posterior_result_.exact
        exact = None
        if ex is not None:
            exact = {f.name: _jsonable(getattr(ex, f.name))
                     for f in dataclasses.fields(ex) if f.name != "a_inv"}
            # Only the marginal variances are read after load (summaries); the p x p matrix
            # as JSON text took ~24 bytes per entry: 97 MB of model.nc at p = 2000.
            exact["a_inv"] = _jsonable(np.diag(ex.a_inv) if ex.a_inv.ndim == 2 else ex.a_inv)
        params = {k: _jsonable(v) for k, v in self.get_params().items()}
        meta = json.dumps({"params": params, "state": state, "exact": exact})
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
        state = meta["state"]
        for k, v in state.items():
            setattr(est, k, np.asarray(v, dtype=object if k == "feature_names_in_" else float)
                    if k in ("coef_", "feature_names_in_") else v)
        map_result = MapResult(est.coef_, est.intercept_, est.sigma_map_, est.alpha_,
                               state.get("kkt_violation_", 0.0), est.sigma is not None)
        if est.prior in HORSESHOE_PRIORS:
            map_result = no_mode(len(est.coef_), est.sigma is not None, est.sigma)
        post = None
        if idata is not None:
            idata.posterior.attrs.pop("bayesreg", None)
            exact = meta.get("exact")
            exact = None if exact is None else ConjugateRidge(
                **{k: np.asarray(v) if isinstance(v, list) else v for k, v in exact.items()})
            # the table is recomputed on first use, not read (older files also hold it,
            # "summary": the same numbers)
            post = _LoadedPosterior(idata, None, Diagnostics.from_dict(est.diagnostics_),
                                    map_result, est.hdi_prob, exact)
        est._set_results(map_result, post)
        return est


def _check_horseshoe(prior: Horseshoe, method: str, learn_alpha) -> None:
    """The horseshoes are sampled only, at their own scales."""
    if method != "nuts":
        raise InputError("method", f"prior {prior.name!r} has no finite mode (its density is "
                                   f"infinite at zero) and no closed form: use method='nuts'; "
                                   f"got {method!r}")
    if learn_alpha:
        raise InputError("learn_alpha", f"prior {prior.name!r} has no alpha to learn (its "
                                        f"global scale tau is learned already); got True")


class _LoadedPosterior(Posterior):
    """A :class:`Posterior` read from a file: its summary table is recomputed from the draws
    (or the exact posterior) and the MAP on first use, by the one summary path
    (:func:`bayesreg.diagnostics.summarize`). On first use, because ArviZ's diagnostics cost
    seconds for wide posteriors (3.3 s for 4 x 1000 draws of 500 coefficients) and a
    prediction from a loaded fit needs only the draws."""

    @property
    def summary(self):
        table = self.__dict__.get("_summary")
        if table is None:
            table = diagnostics.summarize(self.idata.posterior, self.map, self.feature_names,
                                          self.hdi_prob, self.exact)
            object.__setattr__(self, "_summary", table)  # frozen: set once, like a cache
        return table

    @summary.setter
    def summary(self, table):  # the dataclass's __init__; None until first use
        object.__setattr__(self, "_summary", table)


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value
