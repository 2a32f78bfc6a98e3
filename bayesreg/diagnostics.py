"""Posterior summaries and convergence diagnostics as pure functions of draws."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

# the fewest draws per chain for which ArviZ computes rank-normalized split r_hat and ESS
# (below it they are NaN: each chain is split in two halves of at least 2 draws); a rule of
# the inputs, so it lives with RANGES["draws"]
from ._validation import MIN_DIAGNOSTIC_DRAWS

__all__ = ["SUMMARY_COLUMNS", "summarize", "summarize_posterior", "summary_frame", "map_rows",
           "diagnose", "convergence_warnings",
           "R_HAT_MAX", "ESS_MIN", "MIN_DIAGNOSTIC_DRAWS", "MIN_RELIABLE_DRAWS"]

#: thresholds of Vehtari et al. (2021): rank-normalized r_hat and bulk ESS
R_HAT_MAX = 1.01
ESS_MIN = 400
#: below this many draws per chain PyMC warns that convergence cannot be checked reliably
MIN_RELIABLE_DRAWS = 100

#: scalar hyperparameters of the horseshoe priors, summarized after sigma when sampled
HYPER_ROWS = ("tau", "c")

SUMMARY_COLUMNS = ["map", "mean", "sd", "median", "hdi_low", "hdi_high", "mcse_mean",
                   "ess_bulk", "ess_tail", "r_hat", "prob_positive", "map_in_hdi"]


def summarize_posterior(posterior: xr.Dataset, map_values: dict, hdi_prob: float) -> pd.DataFrame:
    """One row per scalar (``coef`` expanded by feature), in the order of ``map_values``.

    ``posterior`` has dims (chain, draw[, feature]); ``map_values`` maps a row name to
    ``(variable, index or None, map value)``.
    """
    # ArviZ's diagnostics are independent and spend their time in NumPy sorts and FFTs, which
    # release the GIL: on two threads a wide posterior's summary takes about half the time
    jobs = {
        "hdi": lambda: az.hdi(posterior, hdi_prob=hdi_prob),
        "mcse_mean": lambda: az.mcse(posterior, method="mean"),
        "ess_bulk": lambda: az.ess(posterior, method="bulk"),
        "ess_tail": lambda: az.ess(posterior, method="tail"),
        "r_hat": lambda: az.rhat(posterior),
    }
    def quiet(job):
        # r_hat and MCSE of a constant (a known sigma) are undefined: NaN, without NumPy's
        # warning (ArviZ 0.23 gives its ESS as the number of draws); the error state is per
        # thread, so it is set in the worker
        def run():
            with np.errstate(invalid="ignore", divide="ignore"):
                return job()
        return run

    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        done = {name: pool.submit(quiet(job)) for name, job in jobs.items()}
        results = {name: future.result() for name, future in done.items()}
    hdi = results.pop("hdi")
    stats = {
        "mean": posterior.mean(("chain", "draw")),
        "sd": posterior.std(("chain", "draw"), ddof=1),
        "median": posterior.median(("chain", "draw")),
        **results,
        "prob_positive": (posterior > 0).mean(("chain", "draw")),
    }
    rows = {}
    for name, (var, idx, map_value) in map_values.items():
        pick = (lambda da: da[var].values[idx]) if idx is not None else (lambda da: da[var].values)
        row = {"map": map_value}
        row.update({k: float(pick(v)) for k, v in stats.items()})
        lo, hi = (hdi[var].values[idx] if idx is not None else hdi[var].values)
        row["hdi_low"], row["hdi_high"] = float(lo), float(hi)
        rows[name] = row
    return summary_frame(rows)


def summary_frame(rows: dict, tol: float = 0.0) -> pd.DataFrame:
    """The summary table from one dict of statistics per row (sampled or exact): columns
    :data:`SUMMARY_COLUMNS`, floats, and ``map_in_hdi`` (None without a finite MAP), the
    interval widened by ``tol`` relative at each end."""
    for row in rows.values():
        m, lo, hi = row["map"], row["hdi_low"], row["hdi_high"]
        row["map_in_hdi"] = (bool(lo - tol * abs(lo) <= m <= hi + tol * abs(hi))
                             if np.isfinite(m) else None)
    frame = pd.DataFrame.from_dict(rows, orient="index")[SUMMARY_COLUMNS]
    return frame.astype({c: float for c in SUMMARY_COLUMNS if c != "map_in_hdi"})


def map_rows(map_result, feature_names, learn_alpha=False) -> dict:
    """``{row name: (variable, index or None, MAP value)}``: coefficients in feature order,
    intercept, sigma (and alpha)."""
    rows = {name: ("coef", j, float(map_result.coef[j])) for j, name in enumerate(feature_names)}
    rows["intercept"] = ("intercept", None, float(map_result.intercept))
    rows["sigma"] = ("sigma", None, float(map_result.sigma))
    if learn_alpha:
        rows["alpha"] = ("alpha", None, float(map_result.alpha))
    return rows


def summarize(posterior: xr.Dataset, map_result, feature_names, hdi_prob, exact=None):
    """The summary of a posterior beside its MAP: from the exact marginals when ``exact`` (a
    :class:`bayesreg.exact.ConjugateRidge`) is given, else from the draws."""
    rows = map_rows(map_result, feature_names, "alpha" in posterior)
    for name in HYPER_ROWS:           # a horseshoe's global scale and slab: no mode
        if name in posterior:
            rows[name] = (name, None, float("nan"))
    if exact is not None:
        # the closed-form interval's ends are computed apart from the MAP: allow rounding
        return summary_frame(exact.summary_rows(rows, list(feature_names), hdi_prob), tol=1e-12)
    return summarize_posterior(posterior, rows, hdi_prob)


def diagnose(idata, summary: pd.DataFrame):
    """The :class:`bayesreg.results.Diagnostics` of sampled draws and their summary."""
    from .results import Diagnostics, num

    stats = idata.sample_stats
    div = int(stats["diverging"].values.sum()) if "diverging" in stats else 0
    sizes = idata.posterior.sizes
    return Diagnostics(div, num(summary["r_hat"].max()), num(summary["ess_bulk"].min()),
                       tuple(convergence_warnings(summary, div, draws=sizes["draw"],
                                                  chains=sizes["chain"])))


def convergence_warnings(summary: pd.DataFrame, divergences: int, draws: int | None = None,
                         chains: int | None = None) -> list[str]:
    """Human-readable warnings: too few draws or chains to check convergence (PyMC's rules),
    r_hat above 1.01, bulk ESS below 400, any divergence. ``draws`` is per chain."""
    out = []
    if draws is not None and draws < MIN_DIAGNOSTIC_DRAWS:
        out.append(f"only {draws} draw(s) per chain: r_hat and ESS are undefined (rank-normalized "
                   f"split r_hat and ESS need at least {MIN_DIAGNOSTIC_DRAWS} draws per chain) "
                   f"and the HDIs rest on {draws * (chains or 1)} draw(s) in all, so they mean "
                   f"nothing; sample at least {MIN_RELIABLE_DRAWS} draws per chain")
    elif draws is not None and draws < MIN_RELIABLE_DRAWS:
        out.append(f"only {draws} draws per chain: too few to check convergence reliably "
                   f"(PyMC warns below {MIN_RELIABLE_DRAWS}); sample longer")
    if chains == 1:
        out.append("only one chain: r_hat compares chains and is undefined for one, so mixing "
                   "is unchecked; sample at least 2 chains")
    r_hat = summary["r_hat"].dropna()
    ess = summary["ess_bulk"].dropna()
    bad_r = r_hat[r_hat > R_HAT_MAX]
    if len(bad_r):
        out.append(f"r_hat > {R_HAT_MAX} for {', '.join(bad_r.index)} (max {bad_r.max():.3f}): "
                   "the chains have not mixed; sample longer")
    bad_e = ess[ess < ESS_MIN]
    if len(bad_e):
        out.append(f"ess_bulk < {ESS_MIN} for {', '.join(bad_e.index)} (min {bad_e.min():.0f}): "
                   "too few effective draws for reliable intervals; sample longer")
    if divergences:
        out.append(f"{divergences} divergent transition(s): the intervals may be biased")
    return out
