r"""Leave-one-out predictive accuracy of a fit: PSIS-LOO (Vehtari, Gelman & Gabry 2017).

The pointwise log-likelihood of observation :math:`i` under posterior draw :math:`s` is

.. math::

    \ell_{is} = \log \mathcal N(y_i \mid x_i^\top w^{(s)} + b^{(s)}, \sigma^{(s)2}),

and ``elpd_loo`` :math:`= \sum_i \log p(y_i \mid y_{-i})` is estimated from it by Pareto-smoothed
importance sampling, with ArviZ's :func:`arviz.loo`. PSIS-LOO works on each observation's
column of :math:`\ell` alone, so the rows are processed in chunks of at most
:data:`CHUNK_CELLS` cells (draws x rows, 16 MB of float64 each): any ``n`` fits in bounded
memory, and the result equals one call on the whole matrix up to rounding. The chunks share
one relative efficiency ``reff`` (ArviZ's: the mean ESS of the posterior over the number of
draws), so each chunk is smoothed exactly as in the one-call version.

Pareto shape estimates :math:`\hat k > 0.7` mark observations whose importance weights have
too heavy a tail for a reliable estimate (:math:`\hat k > 1`: not even a finite mean); they
are counted, carried in the result and warned about once, in our words (ArviZ's own warning,
whose threshold depends on the number of draws, is not passed on).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ._validation import InputError, check_Xy
from .results import num

__all__ = ["CHUNK_CELLS", "K_BAD", "K_VERY_BAD", "LooResult", "pointwise_log_likelihood",
           "psis_loo", "loo_from_log_likelihood", "relative_efficiency"]

#: draws x rows per chunk of the log-likelihood (float64: 16 MB per array in flight)
CHUNK_CELLS = 2_000_000
#: Pareto k above which an observation's LOO estimate is unreliable (Vehtari et al. 2017)
K_BAD = 0.7
#: Pareto k above which the importance weights have no finite mean
K_VERY_BAD = 1.0
_HALF_LOG_2PI = 0.5 * np.log(2 * np.pi)


@dataclass(frozen=True)
class LooResult:
    """PSIS-LOO in a few numbers: ``elpd_loo`` and its standard error ``se``, the effective
    number of parameters ``p_loo``, the observations and draws it rests on, the largest
    Pareto k and the counts above 0.7 (``pareto_k_bad``) and 1 (``pareto_k_very_bad``), and
    the warning about them (None when there is none)."""

    elpd_loo: float
    se: float
    p_loo: float
    n_obs: int
    n_draws: int
    pareto_k_max: float
    pareto_k_bad: int
    pareto_k_very_bad: int
    warning: str | None = None

    @classmethod
    def from_elpd(cls, elpd) -> "LooResult":
        """From :func:`psis_loo`'s ELPDData (which carries the Pareto k counts), or from
        :func:`arviz.loo`'s with ``pointwise=True`` (the counts taken from its ``pareto_k``)."""
        if "pareto_k_bad" in elpd:
            bad, very_bad = int(elpd["pareto_k_bad"]), int(elpd["pareto_k_very_bad"])
            k_max = float(elpd["pareto_k_max"])
        elif "pareto_k" in elpd:
            k = np.asarray(elpd["pareto_k"])
            bad, very_bad = int((k > K_BAD).sum()), int((k > K_VERY_BAD).sum())
            k_max = float(k.max())
        else:
            raise InputError("elpd", "has no Pareto k: pass psis_loo's result, or "
                                     "arviz.loo(..., pointwise=True)'s")
        n = int(elpd["n_data_points"])
        return cls(float(elpd["elpd_loo"]), float(elpd["se"]), float(elpd["p_loo"]), n,
                   int(elpd["n_samples"]), k_max, bad, very_bad,
                   pareto_warning(n, k_max, bad, very_bad))

    def to_dict(self) -> dict:
        return {"elpd_loo": num(self.elpd_loo), "se": num(self.se), "p_loo": num(self.p_loo),
                "n_obs": self.n_obs, "n_draws": self.n_draws,
                "pareto_k_max": num(self.pareto_k_max), "pareto_k_bad": self.pareto_k_bad,
                "pareto_k_very_bad": self.pareto_k_very_bad, "warning": self.warning}


def pareto_warning(n, k_max, bad, very_bad) -> str | None:
    """The warning for ``bad`` observations of ``n`` with Pareto k > 0.7 (None if none)."""
    if bad == 0:
        return None
    return (f"PSIS-LOO: {bad} of {n} observation(s) have Pareto k > {K_BAD} ({very_bad} above "
            f"{K_VERY_BAD:g}; max {k_max:.2f}): their leave-one-out estimates are unreliable, "
            f"and so is elpd_loo; compare models by K-fold cross-validation instead, or use a "
            f"more robust model")


def _draws(posterior):
    """Posterior draws flattened over (chain, draw): coef (S, p), intercept (S,), sigma (S,)."""
    coef = posterior["coef"].transpose("chain", "draw", "feature").values
    return (coef.reshape(-1, coef.shape[-1]), posterior["intercept"].values.ravel(),
            posterior["sigma"].values.ravel())


def _log_lik(draws, X, y):
    """(S, rows) array of log N(y_i | x_i'w + b, sigma) for each draw."""
    coef, intercept, sigma = draws
    z = (y[None, :] - intercept[:, None] - coef @ X.T) / sigma[:, None]
    return -0.5 * z**2 - np.log(sigma)[:, None] - _HALF_LOG_2PI


def _rows_per_chunk(n_samples, cells=None):
    return max(2, (CHUNK_CELLS if cells is None else cells) // max(n_samples, 1))


def _chunks(n, rows):
    """``(start, stop)`` of row chunks of ``rows``; no chunk of one row unless ``n`` is 1 (ArviZ
    warns when a chunk's pointwise LOO equals its sum, as it does for one row)."""
    edges = list(range(0, n, rows)) + [n]
    if len(edges) > 2 and edges[-1] - edges[-2] == 1:
        del edges[-2]
    return list(zip(edges[:-1], edges[1:]))


def _check_data(posterior, X, y):
    X, y = check_Xy(X, y)
    if X.shape[0] < 2:
        raise InputError("y", f"PSIS-LOO needs at least 2 observations; got {X.shape[0]}")
    p = posterior.sizes["feature"]
    if X.shape[1] != p:
        raise InputError("X", f"has {X.shape[1]} columns but the posterior has {p} features")
    return X, y


def _as_dataarray(values, posterior, start):
    import xarray as xr

    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    return xr.DataArray(values.T.reshape(-1, chains, draws).transpose(1, 2, 0),
                        dims=("chain", "draw", "obs_id"),
                        coords={"chain": posterior["chain"].values,
                                "draw": posterior["draw"].values,
                                "obs_id": np.arange(start, start + values.shape[1])}, name="y")


def pointwise_log_likelihood(idata, X, y):
    """The log-likelihood of each observation under each draw: a DataArray named ``y`` with
    dims (chain, draw, obs_id), ``log N(y_i | x_i'w + b, sigma)``.

    ``idata.posterior`` has ``coef`` by ``feature``, ``intercept`` and ``sigma``. The result
    holds chains x draws x n float64s; it is computed in row blocks of at most
    :data:`CHUNK_CELLS` cells, so nothing larger than it is ever allocated.
    """
    import xarray as xr

    post = idata.posterior
    X, y = _check_data(post, X, y)
    draws = _draws(post)
    rows = _rows_per_chunk(draws[1].size)
    parts = [_as_dataarray(_log_lik(draws, X[a:b], y[a:b]), post, a)
             for a, b in _chunks(X.shape[0], rows)]
    return xr.concat(parts, dim="obs_id")


def relative_efficiency(posterior) -> float:
    """ArviZ's ``reff`` for :func:`arviz.loo`: the mean over every scalar of the posterior of
    its ESS ("mean" method) over the number of draws; 1 for a single chain."""
    import arviz as az

    n_samples = posterior.sizes["chain"] * posterior.sizes["draw"]
    if posterior.sizes["chain"] == 1:
        return 1.0
    with np.errstate(invalid="ignore", divide="ignore"):  # a known sigma is constant
        ess = az.ess(posterior, method="mean")
    return float(np.hstack([ess[v].values.ravel() for v in ess.data_vars]).mean() / n_samples)


def psis_loo(idata, X, y, pointwise=False, warn=True, chunk_cells=None):
    """PSIS-LOO of the posterior in ``idata`` on the data ``(X, y)`` it was fitted to: an ArviZ
    ``ELPDData`` as :func:`arviz.loo` returns, plus ``pareto_k_max``, ``pareto_k_bad``
    (k > 0.7) and ``pareto_k_very_bad`` (k > 1); with ``pointwise``, also ``loo_i`` and
    ``pareto_k`` by obs_id.

    Computed in row chunks of at most :data:`CHUNK_CELLS` (2,000,000) draws x rows
    (``chunk_cells`` overrides it), each passed to :func:`arviz.loo`, and combined as ArviZ
    combines observations: elpd_loo and p_loo summed, ``se = sqrt(n var(loo_i))``. Memory is
    bounded whatever ``n``; no cap applies. ``warn``: one ``UserWarning`` naming the count of
    k > 0.7, if any.
    """
    post = idata.posterior
    X, y = _check_data(post, X, y)
    draws = _draws(post)
    rows = _rows_per_chunk(draws[1].size, chunk_cells)
    blocks = (_as_dataarray(_log_lik(draws, X[a:b], y[a:b]), post, a)
              for a, b in _chunks(X.shape[0], rows))
    return _combine(blocks, relative_efficiency(post), pointwise, warn)


def loo_from_log_likelihood(idata, pointwise=False, warn=True, chunk_cells=None):
    """:func:`psis_loo` from a stored ``log_likelihood`` group (variable ``y``), in chunks."""
    ll = idata.log_likelihood["y"]
    n_samples = ll.sizes["chain"] * ll.sizes["draw"]
    rows = _rows_per_chunk(n_samples, chunk_cells)
    blocks = (ll.isel(obs_id=slice(a, b)).transpose("chain", "draw", "obs_id")
              for a, b in _chunks(ll.sizes["obs_id"], rows))
    return _combine(blocks, relative_efficiency(idata.posterior), pointwise, warn)


def _chunk_loo(block, reff):
    """:func:`arviz.loo` of one chunk's log-likelihood, pointwise, without ArviZ's warning."""
    import arviz as az

    data = az.InferenceData(log_likelihood=block.to_dataset(name="y"))
    # catch_warnings swaps the process-wide filter list: concurrent calls in threads can
    # leave this one filter in place (ArviZ's Pareto warning then stays silent; ours is not
    # affected). The same pattern as bayesreg.map's ConvergenceWarning filter.
    with warnings.catch_warnings():
        # ArviZ warns when any k exceeds min(1 - 1/log10(S), 0.7); we count k > 0.7 over all
        # the chunks and warn once, in psis_loo
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto",
                                category=UserWarning)
        return az.loo(data, pointwise=True, var_name="y", reff=reff, scale="log")


def _combine(blocks, reff, pointwise, warn):
    import arviz as az
    import xarray as xr

    parts = [_chunk_loo(block, reff) for block in blocks]
    loo_i = xr.concat([part["loo_i"] for part in parts], dim="obs_id")
    k = xr.concat([part["pareto_k"] for part in parts], dim="obs_id")
    n, first = loo_i.size, parts[0]
    kv = k.values
    bad, very_bad = int((kv > K_BAD).sum()), int((kv > K_VERY_BAD).sum())
    k_max = float(np.max(kv))
    values = {"elpd_loo": float(loo_i.values.sum()),
              "se": float(np.sqrt(n * np.var(loo_i.values))),
              "p_loo": float(sum(part["p_loo"] for part in parts)),
              "n_samples": first["n_samples"], "n_data_points": n,
              "warning": any(bool(part["warning"]) for part in parts)}
    if pointwise:
        values.update(loo_i=loo_i, pareto_k=k)
    values.update(scale=first["scale"], good_k=first["good_k"], pareto_k_max=k_max,
                  pareto_k_bad=bad, pareto_k_very_bad=very_bad)
    message = pareto_warning(n, k_max, bad, very_bad)
    if warn and message:
        warnings.warn(message, UserWarning, stacklevel=3)
    return az.ELPDData(data=list(values.values()), index=list(values))
