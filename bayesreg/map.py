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
import numpy as np
from scipy import linalg, optimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import enet_path

from .priors import Prior, log_normalizer

__all__ = ["solve_centered", "sigma_mode", "kkt_violation", "center"]


def center(X, y, fit_intercept):
    """Centre X and y when fitting an intercept; returns (Xc, yc, x_mean, y_mean)."""
    if fit_intercept:
        x_mean, y_mean = X.mean(axis=0), float(y.mean())
        return X - x_mean, y - y_mean, x_mean, y_mean
    return X, y, np.zeros(X.shape[1]), 0.0


def kkt_violation(Xc, yc, w, prior: Prior, gram=None, xty=None) -> float:
    r"""Largest violation of the elastic-net KKT conditions, scaled by :math:`\max(\alpha\rho, \lVert X^\top y\rVert_\infty/n)`.

    With gradient :math:`g = X^\top(y - Xw)/n - \alpha(1-\rho)w`: :math:`g_j = \alpha\rho\,
    \mathrm{sign}(w_j)` where :math:`w_j \ne 0` and :math:`|g_j| \le \alpha\rho` where it is 0.
    ``gram`` = X'X and ``xty`` = X'y, when given, make this O(p^2) instead of O(np).
    """
    n = yc.shape[0]
    a1 = prior.alpha * prior.l1_ratio
    if xty is None:
        xty = Xc.T @ yc
    fitted = gram @ w if gram is not None else Xc.T @ (Xc @ w)
    g = (xty - fitted) / n - prior.alpha * (1 - prior.l1_ratio) * w
    nz = w != 0
    viol = np.where(nz, np.abs(g - a1 * np.sign(w)), np.maximum(np.abs(g) - a1, 0.0))
    scale = max(a1, np.abs(xty).max() / n, 1e-300)
    return float(viol.max() / scale) if viol.size else 0.0


def sigma_mode(n, rss, u, prior: Prior) -> float:
    """Mode of p(sigma | w, b, y), the Jeffreys prior included, for residual sum of squares
    ``rss`` and coefficients ``u`` in penalty coordinates (0 when the residuals are 0)."""
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


def solve_centered(Xc, yc, prior: Prior, gram=None, xty=None):
    """The MAP coefficients of centred data and their KKT residual.

    ``gram`` = Xc'Xc and ``xty`` = Xc'yc may be passed (when n >= p) so that the solver works
    on sufficient statistics: after them, nothing costs O(n) per iteration, and ``Xc`` may be
    None (it is then never read).
    """
    n, p = yc.shape[0], (gram.shape[0] if gram is not None else Xc.shape[1])
    if gram is None and n >= p:
        gram = Xc.T @ Xc
    if gram is not None and xty is None:
        xty = Xc.T @ yc
    if prior.l1_ratio == 0.0 or prior.alpha == 0.0:
        w = _solve_ridge(Xc, yc, prior.alpha, gram, xty)
    else:
        w = _solve_enet(Xc, yc, prior, gram, xty)
    return w, kkt_violation(Xc, yc, w, prior, gram, xty)


def _solve_ridge(Xc, yc, alpha, gram, xty):
    """(X'X + n alpha I)^-1 X'y by Cholesky; the minimum-norm least squares when alpha = 0."""
    n = yc.shape[0]
    if alpha > 0:
        p = gram.shape[0] if gram is not None else Xc.shape[1]
        if gram is not None:
            a = gram.copy()
            a[np.diag_indices(p)] += n * alpha
            return linalg.cho_solve(linalg.cho_factor(a, lower=True), xty)
        # p > n: the dual form (X X' + n alpha I)^-1 costs O(n^3) instead of O(p^3)
        kern = Xc @ Xc.T
        kern[np.diag_indices(n)] += n * alpha
        return Xc.T @ linalg.cho_solve(linalg.cho_factor(kern, lower=True), yc)
    if gram is not None:  # alpha = 0, n >= p: least squares from the normal equations
        return linalg.lstsq(gram, xty, lapack_driver="gelsd")[0]
    return linalg.lstsq(Xc, yc, lapack_driver="gelsd")[0]


def _solve_enet(Xc, yc, prior: Prior, gram, xty):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if gram is not None:  # coordinate descent on the Gram matrix: O(p^2) per sweep
            # with a Gram matrix scikit-learn reads X only for its shape: pass a zero-stride view
            shape_only = np.broadcast_to(np.zeros((1, 1)), (yc.shape[0], gram.shape[0]))
            _, coefs, _ = enet_path(shape_only, yc, l1_ratio=prior.l1_ratio, alphas=[prior.alpha],
                                    precompute=gram, Xy=xty, tol=1e-14, max_iter=100_000,
                                    check_input=False, copy_X=False)
        else:
            _, coefs, _ = enet_path(Xc, yc, l1_ratio=prior.l1_ratio, alphas=[prior.alpha],
                                    tol=1e-14, max_iter=100_000, precompute=False)
    w = coefs[:, 0].copy()
    polished = _polish(Xc, yc, w, prior, gram, xty)
    if polished is not None and (kkt_violation(Xc, yc, polished, prior, gram, xty)
                                 <= kkt_violation(Xc, yc, w, prior, gram, xty)):
        w = polished
    return w


def _polish(Xc, yc, w, prior: Prior, gram, xty):
    active = np.flatnonzero(w)
    n = yc.shape[0]
    if active.size == 0 or active.size > n:
        return None
    if gram is not None:
        g = gram[np.ix_(active, active)] / n
        rhs = xty[active] / n
    else:
        XA = Xc[:, active]
        g = XA.T @ XA / n
        rhs = XA.T @ yc / n
    s = np.sign(w[active])
    g[np.diag_indices(active.size)] += prior.alpha * (1 - prior.l1_ratio)
    rhs = rhs - prior.alpha * prior.l1_ratio * s
    try:
        # Cholesky without solve()'s condition estimate: duplicated or collinear active
        # columns make g ill-conditioned, and solve() would warn (LinAlgWarning) about a
        # candidate that the KKT comparison in _solve_enet accepts only if it is no worse.
        wA = linalg.cho_solve(linalg.cho_factor(g), rhs)
    except (linalg.LinAlgError, ValueError):
        return None
    if not np.all(np.sign(wA) == s):
        return None
    out = np.zeros_like(w)
    out[active] = wA
    return out
