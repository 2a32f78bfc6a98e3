r"""Exact MAP estimates: the minimizers of the elastic-net objective.

Ridge is solved in closed form (Cholesky on centred data). Lasso and elastic net use
scikit-learn's coordinate descent to find the active set, then *polish* it: on the active
set :math:`A` with signs :math:`s` the stationarity condition is linear,

.. math::

    (X_A^\top X_A / n + \alpha(1-\rho) I)\,w_A = X_A^\top y / n - \alpha\rho\,s,

and solving it directly removes the coordinate-descent tolerance. The polished point is
kept only if its signs agree with ``s`` and the KKT conditions hold on every coordinate
(otherwise, e.g. for a non-unique lasso with duplicated columns, the coordinate-descent
point is kept). Zeros are exact either way.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
from scipy import linalg
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import enet_path

from .priors import Prior

__all__ = ["MapResult", "solve_map", "kkt_violation", "center"]


class MapResult(NamedTuple):
    """The MAP on the scale the solver saw: coefficients, intercept and KKT residual."""

    coef: np.ndarray
    intercept: float
    kkt: float  #: max scaled KKT violation (0 when exact)


def center(X, y, fit_intercept):
    """Centre X and y when fitting an intercept; returns (Xc, yc, x_mean, y_mean)."""
    if fit_intercept:
        x_mean, y_mean = X.mean(axis=0), float(y.mean())
        return X - x_mean, y - y_mean, x_mean, y_mean
    return X, y, np.zeros(X.shape[1]), 0.0


def kkt_violation(Xc, yc, w, prior: Prior) -> float:
    r"""Largest violation of the elastic-net KKT conditions, scaled by :math:`\max(\alpha, 1)`.

    With gradient :math:`g = X^\top(y - Xw)/n - \alpha(1-\rho)w`: :math:`g_j = \alpha\rho\,
    \mathrm{sign}(w_j)` where :math:`w_j \ne 0` and :math:`|g_j| \le \alpha\rho` where it is 0.
    """
    n = Xc.shape[0]
    a1 = prior.alpha * prior.l1_ratio
    g = Xc.T @ (yc - Xc @ w) / n - prior.alpha * (1 - prior.l1_ratio) * w
    nz = w != 0
    viol = np.where(nz, np.abs(g - a1 * np.sign(w)), np.maximum(np.abs(g) - a1, 0.0))
    scale = max(a1, np.abs(Xc.T @ yc).max() / n, 1e-300)
    return float(viol.max() / scale) if viol.size else 0.0


def solve_map(X, y, prior: Prior, fit_intercept=True) -> MapResult:
    """Minimize the elastic-net objective exactly; returns the MAP for any sigma."""
    Xc, yc, x_mean, y_mean = center(X, y, fit_intercept)
    if prior.l1_ratio == 0.0 or prior.alpha == 0.0:
        w = _solve_ridge(Xc, yc, prior.alpha)
    else:
        w = _solve_enet(Xc, yc, prior)
    intercept = y_mean - float(x_mean @ w) if fit_intercept else 0.0
    return MapResult(w, intercept, kkt_violation(Xc, yc, w, prior))


def _solve_ridge(Xc, yc, alpha):
    """(X'X + n alpha I)^-1 X'y by Cholesky; the minimum-norm least squares when alpha = 0."""
    n, p = Xc.shape
    if alpha > 0:
        if p <= n:
            gram = Xc.T @ Xc
            gram[np.diag_indices(p)] += n * alpha
            return linalg.cho_solve(linalg.cho_factor(gram, lower=True), Xc.T @ yc)
        # p > n: the dual form (X X' + n alpha I)^-1 costs O(n^3) instead of O(p^3)
        kern = Xc @ Xc.T
        kern[np.diag_indices(n)] += n * alpha
        return Xc.T @ linalg.cho_solve(linalg.cho_factor(kern, lower=True), yc)
    return linalg.lstsq(Xc, yc, lapack_driver="gelsd")[0]


def _solve_enet(Xc, yc, prior: Prior):
    n, p = Xc.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _, coefs, _ = enet_path(Xc, yc, l1_ratio=prior.l1_ratio, alphas=[prior.alpha],
                                tol=1e-14, max_iter=100_000, precompute=False)
    w = coefs[:, 0].copy()
    polished = _polish(Xc, yc, w, prior)
    if polished is not None and kkt_violation(Xc, yc, polished, prior) <= kkt_violation(Xc, yc, w, prior):
        w = polished
    return w


def _polish(Xc, yc, w, prior: Prior):
    active = np.flatnonzero(w)
    if active.size == 0 or active.size > Xc.shape[0]:
        return None
    n = Xc.shape[0]
    XA = Xc[:, active]
    s = np.sign(w[active])
    gram = XA.T @ XA / n
    gram[np.diag_indices(active.size)] += prior.alpha * (1 - prior.l1_ratio)
    rhs = XA.T @ yc / n - prior.alpha * prior.l1_ratio * s
    try:
        wA = linalg.solve(gram, rhs, assume_a="pos")
    except (linalg.LinAlgError, ValueError):
        return None
    if not np.all(np.sign(wA) == s):
        return None
    out = np.zeros_like(w)
    out[active] = wA
    return out
