r"""The PyMC model in sufficient statistics, the sampler's frame, and the samplers.

With centred data :math:`X_c, y_c` and the centred intercept :math:`c = b - \bar y + \bar x^\top w`
the Gaussian log-likelihood depends on the data only through the residual sum of squares

.. math::

    \log p(y \mid w, c, \sigma) = -\frac n2 \log(2\pi\sigma^2) - \frac{\mathrm{rss}(w) + n c^2}{2\sigma^2},

because the centred columns sum to zero. The sampler moves whitened offsets around the MAP
``m``: ``w = m + W z`` with ``W`` a triangular factor of the inverse curvature there (see
:func:`sampler_frame`). In those coordinates the residual sum of squares is a quadratic form

.. math::

    \mathrm{rss}(z) = r_0 + 2 q^\top z + z^\top M z,\qquad
    r_0 = \lVert y_c - X_c m\rVert^2,\quad q = -W^\top X_c^\top (y_c - X_c m),\quad
    M = W^\top X_c^\top X_c W,

with ``r0`` and ``q`` summed from the residuals at the MAP in one pass over the data, so that
no ``y'y - w'X'y`` cancellation loses the noise when the fit is nearly exact. One gradient
costs :math:`O(p^2)` whatever ``n`` is.

The sampler works on rescaled data (y divided by ``y_scale``, column j by ``x_scale[j]``) so
that every parameter is of order one; the penalty weights ``g1`` and ``g2`` carry the
rescaling, so the sampled posterior is exactly the posterior of the original model, mapped
back by :func:`original_draws`. :func:`frame_for` builds the frame from the statistics, the
prior and the MAP: the model owns the data its density needs.

:func:`build_model` states this density as a PyMC model: it is the definition. nutpie samples
it through :mod:`bayesreg.kernel`, a numba kernel that evaluates the same log density and
gradient (tested against PyMC's compiled ``logp`` and ``dlogp``) and compiles once per
machine for every prior and width; ``sampler="pymc"`` samples the PyMC model itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

__all__ = [
    "SuffStats",
    "ModelKey",
    "Frame",
    "residual_stats",
    "sampler_frame",
    "frame_for",
    "original_draws",
    "smooth_transform",
    "general_coefficients",
    "fold_ridge",
    "build_model",
    "natural_draws",
    "load_kernel",
    "sample_nutpie",
    "sample_pymc",
    "Cancelled",
]

log = logging.getLogger("bayesreg")


@dataclass(frozen=True)
class SuffStats:
    """What the steps read from the data: the sufficient statistics of centred (or, without
    intercept, raw) data, and for ``n < p`` the centred ``X`` instead of ``X'X``.

    ``data`` holds the raw ``(X, y)`` (references, not copies) for the residuals at a MAP,
    summed in one pass over the rows (see :func:`residual_stats`); it is not kept by any
    result.
    """

    n: int
    xtx: np.ndarray | None       # None when wide (n < p): see Xc
    xty: np.ndarray
    yty: float
    x_mean: np.ndarray
    y_mean: float
    fit_intercept: bool = True
    Xc: np.ndarray | None = field(default=None, repr=False, compare=False)
    data: tuple | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, X, y, fit_intercept=True) -> "SuffStats":
        """The statistics of ``(X, y)``: ``X'X`` when ``n >= p`` (no centred copy of X is
        made), else the centred ``X``; either way the raw data are kept for residuals."""
        n, p = X.shape
        if n >= p:
            return dataclasses.replace(cls.from_data(X, y, fit_intercept), data=(X, y))
        x_mean = X.mean(axis=0) if fit_intercept else np.zeros(p)
        y_mean = float(y.mean()) if fit_intercept else 0.0
        Xc, yc = (X - x_mean, y - y_mean) if fit_intercept else (X, y)
        return cls(n, None, Xc.T @ yc, float(yc @ yc), x_mean, y_mean, bool(fit_intercept),
                   Xc, (X, y))

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
        return cls(n, xtx, xty, float(yc @ yc), x_mean, y_mean, bool(fit_intercept))

    @property
    def p(self) -> int:
        return self.xty.shape[0]

    @property
    def yc(self) -> np.ndarray:
        """The centred ``y`` (from the raw data)."""
        return self.data[1] - self.y_mean

    def gram(self) -> np.ndarray:
        """``X_c'X_c`` (computed from the centred X when wide)."""
        return self.xtx if self.xtx is not None else self.Xc.T @ self.Xc

    def scales(self) -> np.ndarray:
        """Column scales: sd with an intercept, root mean square without (1 for a constant)."""
        sq = np.diag(self.xtx) if self.xtx is not None else (self.Xc**2).sum(axis=0)
        s = np.sqrt(sq / self.n)
        return np.where(s > 0, s, 1.0)

    def residuals(self, w) -> tuple[float, np.ndarray]:
        """``(r'r, X_c'r)`` at coefficients ``w``, summed from the raw data."""
        X, y = self.data
        return residual_stats(X, y, self.x_mean, self.y_mean, w)


def residual_stats(X, y, x_mean, y_mean, w, chunk=32_768):
    """``(r'r, X_c'r)`` for the residuals ``r = (y - y_mean) - (X - x_mean) w``, in one pass.

    Summing squared residuals keeps the noise when it is far below the spread of ``y``, where
    ``y'y - 2 w'X'y + w'X'Xw`` cancels to rounding.
    """
    n, p = X.shape
    rss, xtr = 0.0, np.zeros(p)
    for start in range(0, n, chunk):
        block = X[start:start + chunk] - x_mean
        r = (y[start:start + chunk] - y_mean) - block @ w
        rss += float(r @ r)
        xtr += block.T @ r
    return rss, xtr


@dataclass(frozen=True)
class ModelKey:
    """The structure of a model: its prior kind and options (the width is data)."""

    kind: str          # 'flat', 'normal', 'laplace' or 'mixed'
    p: int
    fit_intercept: bool
    sigma_known: bool
    learn_alpha: bool


@dataclass
class Frame:
    """Everything the log density needs, in the sampler's coordinates (rescaled, whitened).

    ``alpha`` is the fixed penalty, or with ``learn_alpha`` the scale of its Half-Cauchy prior
    (and the point ``alpha_hat`` the frame is built around). ``general`` selects the kernel's
    parametrization (see :mod:`bayesreg.kernel`): for it, ``M`` holds ``X'X`` and ``q`` holds
    ``-X'r``; for the linear one, ``W'X'XW`` and ``-W'X'r``.
    """

    KERNEL: ClassVar[str] = "kernel"     # the kernel module nutpie samples it through

    key: ModelKey
    n: float
    alpha: float
    l1_ratio: float
    sigma: float | None          # known noise sd (rescaled)
    logsig_loc: float
    logsig_scale: float
    c_scale: float
    r0: float
    m: np.ndarray
    q: np.ndarray
    g1: np.ndarray
    g2: np.ndarray
    M: np.ndarray
    W: np.ndarray
    names: list = field(default_factory=list)   # the sampler's coordinates, in order
    folded: bool = False         # linear: ridge penalty folded into r0, q, M (see fold_ridge)
    general: bool = False
    xi_star: np.ndarray | None = None
    kslope: np.ndarray | None = None
    delta: np.ndarray | None = None
    h0: np.ndarray | None = None
    c_lap: np.ndarray | None = None
    c_nor: np.ndarray | None = None
    X: np.ndarray | None = None  # general, n < p: the centred rescaled data instead of X'X
    lowrank: tuple | None = None  # general, n < p: (d, F, Q) with W = diag(d)(I - Q diag(F) Q')
    y_scale: float = 1.0         # the rescaling of the data (see frame_for)
    x_scale: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return len(self.names)

    def to_buffer(self) -> np.ndarray:
        """The float64 buffer the kernel reads (layout in :mod:`bayesreg.kernel`)."""
        from .kernel import HEADER, KINDS, buffer_size

        k, p = self.key, self.key.p
        rows = 0 if self.X is None else self.X.shape[0]
        buf = np.zeros(buffer_size(p, rows, self.lowrank is not None))
        buf[:18] = [p, KINDS[k.kind], k.fit_intercept, k.sigma_known, k.learn_alpha, self.n,
                    self.alpha, self.l1_ratio, self.sigma or 0.0, self.logsig_loc,
                    self.logsig_scale, self.c_scale, self.r0, self.folded,
                    np.log(self.alpha) if self.alpha > 0 else 0.0, self.general, rows,
                    self.lowrank is not None]
        o = HEADER
        zeros = np.zeros(p)
        for vec in (self.m, self.q, self.g1, self.g2, self.xi_star, self.kslope, self.delta,
                    self.h0, self.c_lap, self.c_nor):
            buf[o:o + p] = zeros if vec is None else vec
            o += p
        if self.lowrank is not None:
            d, F, Q = self.lowrank
            mats = (d, F, Q, Q.T)
        else:
            mats = (self.W, self.W.T)
        mats += (self.M,) if rows == 0 else (self.X, self.X.T)
        for mat in mats:
            buf[o:o + mat.size] = np.ascontiguousarray(mat).ravel()
            o += mat.size
        return buf


def smooth_transform(xi, K, delta, xp=np):
    """``w = T(xi)`` and ``T'(xi)`` for ``T'(xi) = 1 + K (1 - exp(-|xi| / delta))``.

    ``T''(0+-) = +-K / delta``: with ``K / delta`` the Laplace rate ``a``, the kink of
    ``log T'`` cancels the kink of the prior's ``-a|w|``. ``xp`` is NumPy or
    ``pytensor.tensor``, so the PyMC model and the mapping of draws share this one definition.
    """
    u = xp.abs(xi) / delta
    decay = -xp.expm1(-u)                         # 1 - exp(-u)
    w = xp.sign(xi) * (xp.abs(xi) + K * delta * (u - decay))
    return w, 1.0 + K * decay


def general_coefficients(frame, Wz, d_sig, d_alp, xp=np, jacobian=False):
    """The general parametrization's coefficients ``w`` from ``W z`` (see :mod:`bayesreg.kernel`).

    ``xi = xi* e^2 (sigma_hat / sigma)^2 + e W z`` and ``w = T(xi)`` (Laplace and mixed
    priors) or ``w = xi``; ``d_sig`` and ``d_alp`` are log(sigma / sigma_hat) and
    log(alpha / alpha_hat). With ``jacobian``, also the log-determinant of ``dw / d(W z)``.
    ``xp`` is NumPy (draws) or ``pytensor.tensor`` (the PyMC model).
    """
    f = frame
    t = d_alp - 2 * d_sig                                   # log(a / a_hat)
    log_e = 0.5 * (np.log(f.h0 + f.c_lap + f.c_nor)
                   - xp.log(f.h0 * xp.exp(-2 * d_sig) + f.c_lap * xp.exp(2 * t)
                            + f.c_nor * xp.exp(t)))
    xi = f.xi_star * xp.exp(2 * log_e - 2 * d_sig) + xp.exp(log_e) * Wz
    if f.key.kind not in ("laplace", "mixed"):
        return xi, (xp.sum(log_e) if jacobian else None)
    w, t_prime = smooth_transform(xi, f.kslope * xp.exp(t), f.delta, xp)   # K = a delta
    return w, (xp.sum(log_e) + xp.sum(xp.log(t_prime)) if jacobian else None)


def _inverse_transform(w, K, delta):
    """Solve ``T(xi) = w`` by Newton's method: T is convex on xi >= 0, so from xi = |w| (where
    T(xi) >= w) the iterates decrease monotonically to the root."""
    target = np.abs(w)
    xi = target.copy()
    for _ in range(100):
        value, slope = smooth_transform(xi, K, delta)
        step = (value - target) / slope
        xi = np.maximum(xi - step, 0.0)
        if np.all(np.abs(step) <= 1e-15 * (1.0 + xi)):
            break
    return np.sign(w) * xi


def _prior_curvature(xi, a, b, K, delta):
    """-(d/dxi)^2 of the prior and Jacobian terms in xi: -a|T| - b T^2 / 2 + log T'."""
    def f(v):
        w, tp = smooth_transform(v, K, delta)
        return -a * np.abs(w) - 0.5 * b * w * w + np.log(tp)

    h = 1e-4 * delta
    return -(f(xi + h) - 2.0 * f(xi) + f(xi - h)) / (h * h)


def _upper_factor(prec):
    """An upper-triangular ``W`` with ``W W' = prec^-1`` (diagonal if prec is not PD)."""
    from scipy.linalg import solve_triangular

    p = prec.shape[0]
    prec = prec.copy()
    prec[np.diag_indices(p)] += 1e-10 * (np.trace(prec) / p + 1e-300)
    try:
        # H = R R' (lower R)  =>  H^-1 = R^-T R^-1, and R^-T is an upper-triangular factor
        r = np.linalg.cholesky(prec)
        return solve_triangular(r, np.eye(p), lower=True, trans="T")
    except np.linalg.LinAlgError:
        return np.diag(1.0 / np.sqrt(np.clip(np.diag(prec), 1e-16, None)))


def _marginal_sigma(n, xtx_diag, w, rss, sigma, alpha, rho, g1, g2, iterations=20):
    """Where to centre sigma for a Laplace-type prior: about the mode of its marginal posterior.

    The mode of sigma given the MAP coefficients underestimates sigma when many of them are
    zero (twice over at p = 500, n = 100): it charges each coefficient the prior's normalizer
    sigma^-2 but not the width of the coefficient's own posterior, which grows like sigma where
    the data fix it and like sigma^2 where the prior does. Integrating w out in a Gaussian
    approximation leaves sigma^-1 per data-fixed coefficient and none per prior-fixed one, so
    sigma^2 = (rss + 2 n penalty(w)) / (n + p_eff), p_eff = sum_j h_j / (h_j + c_j), solved by
    fixed-point iteration. It only places the sampler's frame; the density is unchanged.
    """
    q = rss + 2 * n * alpha * (rho * np.sum(g1 * np.abs(w)) + 0.5 * (1 - rho) * np.sum(g2 * w * w))
    for _ in range(iterations):
        var = sigma**2
        h = xtx_diag / var
        c = (n * alpha * rho * g1) ** 2 / (2 * var**2) + n * alpha * (1 - rho) * g2 / var
        sigma = float(np.sqrt(q / (n + np.sum(h / (h + c)))))
    return sigma


def sampler_frame(key: ModelKey, n, xtx, w_map, rss_map, xtr_map, sigma_hat, alpha, l1_ratio,
                  g1, g2, sigma=None, X=None) -> Frame:
    """Whiten around the MAP with a Gaussian approximation of the posterior there.

    All inputs are on the rescaled data; ``rss_map`` and ``xtr_map`` are
    :func:`residual_stats` at ``w_map``; ``X``, the centred rescaled data if at hand, is kept
    for the general parametrization when it has fewer rows than columns. Linear parametrization (flat, or ridge with a fixed
    alpha): the precision is ``X'X / sigma^2`` plus the ridge precision; ``W`` is the triangular
    factor of its inverse, so ``z`` is roughly standard normal and uncorrelated.

    General parametrization (Laplace and mixed priors, learned alpha): ``xi* = T^-1(w_map)``
    and the precision in ``xi`` is ``J X'X J / sigma^2`` (``J = T'(xi*)``) plus the curvature
    of the prior and Jacobian terms there. ``delta_hat`` is twice the smaller of ``1/a_hat`` and
    the coefficient's prior-plus-likelihood sd, so ``T`` bends only where the kink matters, and
    ``K = a_hat delta_hat <= 2 sqrt(2)`` bounds its slope (of the factors 0.5, 1, 2, 3 and 4
    tried at p = 500, factors 2 to 4 needed the fewest steps per draw). Sigma is centred at
    about its marginal mode (:func:`_marginal_sigma`). ``h``, ``c_lap`` and ``c_nor`` (the
    likelihood's, the Laplace part's and the Normal part's precision at the MAP, in ``xi``) set
    how each coefficient's scale follows sigma and alpha (see :mod:`bayesreg.kernel`).
    """
    p = xtx.shape[0]
    rho = l1_ratio
    general = key.learn_alpha or key.kind in ("laplace", "mixed")
    if key.kind in ("laplace", "mixed") and not key.sigma_known:
        sigma_hat = _marginal_sigma(n, np.diag(xtx), w_map, rss_map, sigma_hat, alpha, rho, g1, g2)
    var = sigma_hat**2
    a_hat = n * alpha * rho * g1 / var if key.kind in ("laplace", "mixed") else np.zeros(p)
    b_hat = n * alpha * (1 - rho) * g2 / var if key.kind in ("normal", "mixed") else np.zeros(p)
    names = [f"z{j}" for j in range(p)]
    logsig_loc = logsig_scale = c_scale = 0.0
    if not key.sigma_known:
        logsig_loc = float(np.log(sigma_hat))
        logsig_scale = float(1.0 / np.sqrt(2.0 * max(n - min(p, n - 1), 1)))
        names.append("u")
    if key.fit_intercept:
        c_scale = float(sigma_hat / np.sqrt(n))
        names.append("v")
    if key.learn_alpha:
        names.append("log_alpha")
    w_map = np.asarray(w_map, dtype=float)
    common = dict(key=key, n=float(n), alpha=float(alpha), l1_ratio=float(rho), sigma=sigma,
                  logsig_loc=logsig_loc, logsig_scale=logsig_scale, c_scale=c_scale,
                  r0=float(rss_map), m=w_map, g1=np.asarray(g1, dtype=float),
                  g2=np.asarray(g2, dtype=float), names=names)
    if not general:
        W = _upper_factor(xtx / var + np.diag(b_hat))
        M = W.T @ xtx @ W
        return Frame(q=-(W.T @ xtr_map), M=0.5 * (M + M.T), W=W, **common)
    return _general_frame(xtx, xtr_map, w_map, sigma_hat, a_hat, b_hat, X, common)


def _general_frame(xtx, xtr_map, w_map, sigma_hat, a_hat, b_hat, X, common) -> Frame:
    """The general parametrization's frame (see :func:`sampler_frame`): ``T``'s bend, the
    prior's curvature at ``xi*``, and ``W`` (low rank from the data when wide)."""
    key, p, var = common["key"], xtx.shape[0], sigma_hat**2
    h = np.diag(xtx) / var
    if key.kind in ("laplace", "mixed"):
        sd0 = 1.0 / np.sqrt(h + 0.5 * a_hat**2 + b_hat)
        delta = 2.0 * np.minimum(1.0 / a_hat, sd0)
        K = a_hat * delta
        xi_star = _inverse_transform(w_map, K, delta)
        tp = smooth_transform(xi_star, K, delta)[1]
        curv = np.maximum(_prior_curvature(xi_star, a_hat, b_hat, K, delta), 0.0)
        c_nor = b_hat * tp**2
        c_lap = np.maximum(curv - c_nor, 0.0)
    else:
        K, delta, xi_star, tp = np.zeros(p), np.ones(p), w_map.copy(), np.ones(p)
        c_nor, c_lap = b_hat, np.zeros(p)
    h0 = tp**2 * h
    data_form = X is not None and X.shape[0] < p
    lowrank = None
    if data_form:
        X = np.asarray(X, dtype=float)
        lowrank = _lowrank_factor(X * (tp / sigma_hat), c_lap + c_nor + 1e-6 * h0 + 1e-300)
        d, F, Q = lowrank
        W = d[:, None] * (np.eye(p) - (Q * F) @ Q.T)
    else:
        W = _upper_factor(tp[:, None] * xtx * tp[None, :] / var + np.diag(c_lap + c_nor))
    return Frame(q=-np.asarray(xtr_map, dtype=float), M=np.array(xtx, dtype=float), W=W,
                 general=True, xi_star=xi_star, kslope=K, delta=delta, h0=h0, c_lap=c_lap,
                 c_nor=c_nor, X=X if data_form else None, lowrank=lowrank, **common)


def frame_for(stats: SuffStats, prior, map_result, learn_alpha=False) -> Frame:
    """The sampler's frame of a prior around a MAP, on rescaled data (y by its root mean
    square, column j by its scale), from the statistics alone.

    ``map_result`` is a :class:`bayesreg.results.MapResult` on the original scale, with the
    residual statistics at the MAP. Raises :class:`~bayesreg.InputError` for the improper
    posterior of a flat prior on rank-deficient columns.
    """
    from ._validation import InputError

    n, p = stats.n, stats.p
    y_scale = float(np.sqrt(stats.yty / n)) or 1.0
    x_scale = stats.scales()
    gram = stats.gram() / np.outer(x_scale, x_scale)
    if prior.kind == "flat" and np.linalg.matrix_rank(gram) < p:
        raise InputError("alpha", f"the posterior is improper: alpha = 0 (a flat prior) and X "
                                  f"has rank below its {p} columns; use alpha > 0")
    e, m = map_result.scale, map_result
    key = ModelKey(prior.kind, p, bool(stats.fit_intercept), m.sigma_known, bool(learn_alpha))
    sigma_hat = (m.sigma / y_scale) if m.sigma > 0 else 1e-3
    frame = sampler_frame(
        key, n, gram, m.coef * x_scale / y_scale, m.rss / y_scale**2,
        m.xtr / (x_scale * y_scale), sigma_hat, prior.alpha, prior.l1_ratio,
        e / (x_scale * y_scale), (e / x_scale) ** 2,
        sigma=m.sigma / y_scale if m.sigma_known else None,
        X=None if stats.Xc is None else stats.Xc / x_scale)
    frame.y_scale, frame.x_scale = y_scale, x_scale
    return frame


def original_draws(x, frame: Frame, stats: SuffStats) -> dict:
    """Draws of the sampler's coordinates mapped to coef, intercept, sigma (and alpha) on the
    original scale of the data."""
    draws = natural_draws(x, frame)
    w = draws["w"] * frame.y_scale / frame.x_scale
    intercept = stats.y_mean + draws["c"] * frame.y_scale - w @ stats.x_mean
    if not frame.key.fit_intercept:
        intercept = np.zeros_like(draws["c"])
    values = {"coef": w, "intercept": intercept, "sigma": draws["sigma"] * frame.y_scale}
    if frame.key.learn_alpha:
        values["alpha"] = draws["alpha"]
    return values


def _lowrank_factor(U, D):
    """``W = diag(d) (I - Q diag(F) Q')`` with ``W W' = (D + U'U)^-1`` for ``U`` of few rows.

    With ``V = U D^-1/2 = P S Q'`` (thin SVD), ``D + U'U = D^1/2 (I + Q S^2 Q') D^1/2`` and
    ``(I + Q S^2 Q')^-1/2 = I - Q diag(1 - (1 + S^2)^-1/2) Q'``. Applying ``W`` or ``W'`` costs
    ``2 rows p`` instead of ``p^2``.
    """
    d = 1.0 / np.sqrt(D)
    _, S, Qt = np.linalg.svd(U * d, full_matrices=False)
    return d, 1.0 - 1.0 / np.sqrt(1.0 + S**2), np.ascontiguousarray(Qt.T)


def fold_ridge(frame: Frame) -> Frame:
    """The same density with a fixed Normal prior moved into the quadratic form.

    ``sum_j b_j w_j^2 / 2`` with ``b_j = n alpha g2_j / sigma^2`` is a quadratic in ``z`` over
    ``sigma^2``, like the residual sum of squares: adding ``n alpha (W' G W, W' G m, m' G m)``
    to ``(M, q, r0)`` leaves one matrix-vector product per gradient.
    """
    k = frame.key
    if k.kind != "normal" or k.learn_alpha or frame.folded or frame.general:
        return frame
    G = frame.n * frame.alpha * frame.g2
    GW = G[:, None] * frame.W
    M = frame.M + frame.W.T @ GW
    return dataclasses.replace(
        frame, M=0.5 * (M + M.T), q=frame.q + GW.T @ frame.m,
        r0=frame.r0 + float(frame.m @ (G * frame.m)), folded=True)


def _log_normalizer(kind, a, b):
    """Symbolic twin of :func:`bayesreg.priors.log_normalizer` for one prior kind."""
    import pytensor.tensor as pt

    if kind == "laplace":
        return pt.log(2.0 / a)
    if kind == "normal":
        return 0.5 * pt.log(2 * np.pi / b)
    return pt.log(2.0) + 0.5 * pt.log(np.pi / (2 * b)) + pt.log(pt.erfcx(a / pt.sqrt(2 * b)))


def build_model(frame: Frame):
    """The PyMC model of :class:`Frame`: the definition of the posterior that is sampled.

    Free variables: ``z`` (the whitened coefficients), ``u`` (log sigma's offset, learned
    sigma), ``v`` (the intercept's offset, with intercept) and ``alpha`` (Half-Cauchy, learned
    alpha; log-transformed by PyMC). With ``s = sigma / sigma_hat``, ``c = s c_scale v``;
    ``w = m + s W z`` (linear) or :func:`general_coefficients` of ``W z`` (general; see
    :mod:`bayesreg.kernel`). Each map's log-Jacobian is a ``Potential``. A flat prior on
    ``log sigma`` is exactly the Jeffreys prior p(sigma) ∝ 1/sigma.
    """
    import pymc as pm
    import pytensor.tensor as pt

    key, f = frame.key, frame
    with pm.Model(coords={"coef": np.arange(key.p)}) as model:
        z = pm.Flat("z", dims="coef")
        if key.sigma_known:
            log_sigma, d_sig = np.log(f.sigma), 0.0
        else:
            d_sig = f.logsig_scale * pm.Flat("u")
            log_sigma = f.logsig_loc + d_sig
        s = pt.exp(d_sig)
        var = pt.exp(2 * log_sigma)
        alpha = pm.HalfCauchy("alpha", beta=f.alpha) if key.learn_alpha else f.alpha
        quad = 0.0
        if key.fit_intercept:
            quad = f.n * (s * f.c_scale * pm.Flat("v")) ** 2
            if not key.sigma_known:
                pm.Potential("intercept_jacobian", d_sig)
        if f.general:
            d_alp = pt.log(alpha) - np.log(f.alpha) if key.learn_alpha else 0.0
            w, log_jac = general_coefficients(f, pt.dot(f.W, z), d_sig, d_alp, pt, jacobian=True)
            pm.Potential("w_jacobian", log_jac)
            dw = w - f.m
            quad = quad + f.r0 + 2 * pt.dot(f.q, dw) + pt.dot(dw, pt.dot(f.M, dw))
        else:
            w = f.m + s * pt.dot(f.W, z)
            quad = quad + f.r0 + 2 * s * pt.dot(f.q, z) + s**2 * pt.dot(z, pt.dot(f.M, z))
            if not key.sigma_known:
                pm.Potential("w_jacobian", key.p * d_sig)
        pm.Potential("loglik", -0.5 * f.n * (np.log(2 * np.pi) + 2 * log_sigma) - quad / (2 * var))
        if f.folded:  # the Normal penalty is inside quad (see fold_ridge); keep its normalizer
            b = f.n * alpha * f.g2 / var
            pm.Potential("w_prior", -0.5 * pt.log(2 * np.pi / b).sum())
        elif key.kind != "flat":
            a = f.n * alpha * f.l1_ratio * f.g1 / var
            b = f.n * alpha * (1 - f.l1_ratio) * f.g2 / var
            penalty = (a * pt.abs(w)).sum() if key.kind != "normal" else 0.0
            if key.kind != "laplace":
                penalty = penalty + (0.5 * b * w**2).sum()
            pm.Potential("w_prior", -penalty - _log_normalizer(key.kind, a, b).sum())
    return model


def natural_draws(x, frame: Frame) -> dict:
    """Map draws of the sampler's coordinates, shape (chain, draw, dim), to w, c, sigma, alpha."""
    key, p = frame.key, frame.key.p
    k, d_sig = p, np.zeros(x.shape[:2])
    out = {}
    if key.sigma_known:
        out["sigma"] = np.full(x.shape[:2], float(frame.sigma))
    else:
        d_sig = frame.logsig_scale * x[..., k]
        out["sigma"] = np.exp(frame.logsig_loc + d_sig)
        k += 1
    s = np.exp(d_sig)
    if key.fit_intercept:
        out["c"] = s * frame.c_scale * x[..., k]
        k += 1
    else:
        out["c"] = np.zeros(x.shape[:2])
    d_alp = np.zeros(x.shape[:2])
    if key.learn_alpha:
        d_alp = x[..., k]
        out["alpha"] = frame.alpha * np.exp(d_alp)
    Wz = x[..., :p] @ frame.W.T
    if not frame.general:
        out["w"] = frame.m + s[..., None] * Wz
        return out
    out["w"] = general_coefficients(frame, Wz, d_sig[..., None], d_alp[..., None])[0]
    return out


_KERNEL_LOCK = threading.Lock()
_kernels = {}
COMPILING = "compiling the sampler kernel: first fit on this machine, cached for later processes ..."
COMPILING_HS = ("compiling the horseshoe sampler kernel: first horseshoe fit on this machine, "
                "cached for later processes ...")
#: the kernel modules nutpie can sample through, with the message of their first compile
KERNELS = {"kernel": COMPILING, "hs_kernel": COMPILING_HS}


@contextlib.contextmanager
def announce_if_slow(message, after=1.0):
    """Log ``message`` (level INFO, logger ``bayesreg``) if the block is still running after
    ``after`` seconds, so no wait longer than that passes in silence."""
    timer = threading.Timer(after, log.info, (message,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def load_kernel(name="kernel"):
    """Import the compiled kernel module ``name`` (one of :data:`KERNELS`: ``"kernel"``, the
    elastic-net family's, or ``"hs_kernel"``, the horseshoes'); returns seconds spent (0 when
    already loaded).

    The first use on a machine compiles it (a few seconds) into numba's disk cache; later
    processes load it from there. A message is logged when that takes over a second.
    """
    import importlib

    with _KERNEL_LOCK:
        if name in _kernels:
            return 0.0
        start = time.perf_counter()
        with announce_if_slow(KERNELS[name]):
            _kernels[name] = importlib.import_module(f"{__package__}.{name}")
        return time.perf_counter() - start


class Cancelled(RuntimeError):
    """Sampling was stopped by the caller's ``should_stop``."""


def _nutpie_model(frame, buf: np.ndarray, kernel):
    """A nutpie model whose log density is the ``kernel`` module's, reading ``buf``.

    nutpie 0.16 has no public constructor for a model given as C callbacks: its public
    ``compile_pymc_model`` generates and compiles new callbacks for every model, which cannot
    be cached on disk (they reference dynamic globals) and so cost 8 to 18 s per process and
    structure. We hand our own cached callbacks to ``nutpie.compile_pymc.CompiledPyMCModel``,
    the class ``compile_pymc_model`` returns (its fields as in nutpie 0.16; pinned < 0.17).
    Sampling, progress and cancellation then go through the public ``nutpie.sample``.
    """
    import pandas as pd
    from nutpie.compile_pymc import CompiledPyMCModel

    dim = frame.dim

    def initial_point(seed):
        # the MAP is z = 0; jitter it like nutpie's default for PyMC models, U(-1, 1)
        return np.random.default_rng(seed).uniform(-1.0, 1.0, dim)

    coords = {"param": pd.Index(frame.names), "unconstrained_parameter": pd.Index(frame.names)}
    return CompiledPyMCModel(
        dims={"x": ("param",)}, _coords=coords, _shapes={"x": (dim,)},
        compiled_logp_func=kernel.logp_cfunc, compiled_expand_func=kernel.expand_cfunc,
        initial_point_func=initial_point, shared_data={}, user_data=buf, n_expanded=dim,
        shape_info=(["x"], [slice(0, dim)], [(dim,)]), logp_func=None, expand_func=None,
        _n_dim=dim)


def sample_nutpie(frame, *, draws, tune, chains, seed, progress=None, should_stop=None,
                  poll=0.05, **nuts_options):
    """Sample with nutpie. Returns ``(draws of the sampler's coordinates, sample_stats)``.

    ``frame`` is a :class:`Frame` or a :class:`bayesreg.horseshoe.HorseshoeFrame`: anything
    with ``dim``, ``names``, ``to_buffer()`` and ``KERNEL``, the module of :data:`KERNELS`
    whose log density reads that buffer.

    ``progress(done, total, phase)`` is called with the draws done so far over all chains
    (tuning included) while sampling runs; ``phase`` is "tuning" while any chain is still
    tuning, then "sampling". ``should_stop()`` is polled: when it returns true, sampling is
    cancelled and :class:`Cancelled` raised.
    """
    import nutpie

    name = frame.KERNEL
    load_kernel(name)
    if isinstance(frame, Frame):
        frame = fold_ridge(frame)
    buf = frame.to_buffer()
    model = _nutpie_model(frame, buf, _kernels[name])
    cores = min(chains, os.cpu_count() or 1)
    kw = dict(draws=draws, tune=tune, chains=chains, cores=cores, seed=seed,
              progress_bar=False, save_warmup=False, **nuts_options)
    with _fewer_draws_than_chains_is_fine():
        if progress is None and should_stop is None:
            trace = nutpie.sample(model, **kw)
        else:
            trace = _sample_polled(nutpie, model, kw, draws, tune, chains, progress,
                                   should_stop, poll)
    return trace.posterior["x"].values, trace.sample_stats


@contextlib.contextmanager
def _fewer_draws_than_chains_is_fine():
    """ArviZ warns "More chains (c) than draws (d)" when nutpie hands it a trace with fewer
    draws than chains: the trace so far, while polling, and a short fit's trace. Its shape is
    right; the diagnostics of a short fit say what needs saying."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "More chains", UserWarning, "arviz")
        yield


def _sample_polled(nutpie, model, kw, draws, tune, chains, progress, should_stop, poll):
    # nutpie's public sampler object: wait(timeout=) raises TimeoutError while sampling runs
    # (so does is_finished in 0.16), and returns the trace as soon as it ends
    sampler = nutpie.sample(model, blocking=False, **{**kw, "save_warmup": True})
    total = chains * (draws + tune)
    reported, next_report = -1, 0.0
    try:
        while True:
            try:
                trace = sampler.wait(timeout=poll)
                break
            except TimeoutError:
                pass
            if should_stop is not None and should_stop():
                raise Cancelled("sampling was cancelled")      # cancelled below
            now = time.perf_counter()
            if progress is not None and now >= next_report:
                # inspect() copies the trace so far: spend at most a tenth of the time on it
                tuned, drawn = _draws_done(sampler.inspect())
                next_report = now + max(0.25, 10 * (time.perf_counter() - now))
                if tuned + drawn != reported:
                    progress(tuned + drawn, total, _phase(tuned, chains * tune))
                    reported = tuned + drawn
    except BaseException:
        sampler.cancel()
        raise
    if progress is not None and reported < total:
        progress(sum(_draws_done(trace)), total, "sampling")
    return trace


def _draws_done(trace) -> tuple[int, int]:
    """(tuning draws, sampling draws) done so far, over all chains."""
    def count(group):
        if group not in trace.groups():
            return 0
        ds = trace[group]
        return int(ds.sizes.get("draw", 0)) * int(ds.sizes.get("chain", 0))
    return count("warmup_posterior"), count("posterior")


def _phase(tuned, tune_total) -> str:
    return "tuning" if tuned < tune_total else "sampling"


def sample_pymc(frame: Frame, *, draws, tune, chains, seed, target_accept=0.8,
                progress_bar=False):
    """PyMC's own NUTS on :func:`build_model` (slower; compiles on every call).

    Returns the same ``(draws of the sampler's coordinates, sample_stats)`` as nutpie.
    """
    import pymc as pm

    with build_model(frame):
        idata = pm.sample(draws=draws, tune=tune, chains=chains, cores=1, random_seed=seed,
                          target_accept=target_accept, progressbar=progress_bar,
                          compute_convergence_checks=False)
    post = idata.posterior
    parts = [post["z"].values]
    for name in ("u", "v"):
        if name in post:
            parts.append(post[name].values[..., None])
    if "alpha" in post:
        parts.append(np.log(post["alpha"].values / frame.alpha)[..., None])
    return np.concatenate(parts, axis=-1), idata.sample_stats
