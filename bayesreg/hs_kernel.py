r"""The horseshoe priors' log density and gradient: one numba kernel, cached on disk.

The posterior is defined by the PyMC model :func:`bayesreg.horseshoe.build_horseshoe_model`;
this kernel evaluates the same log density (a test checks it and its gradient against PyMC's
compiled ``logp`` and ``dlogp`` at random points, both priors and several widths). Like
:mod:`bayesreg.kernel` it reads everything from one float64 buffer, so the compiled code
references no dynamic globals, numba's disk cache keeps it across processes, and one
compile serves every width.

Non-centred, on the rescaled data (see :func:`bayesreg.horseshoe.horseshoe_frame`):

.. math::

    w_j = \sigma\,\tau\,\tilde\lambda_j\,g_j\,z_j,\qquad z_j\sim N(0, 1),\qquad
    \tilde\lambda_j^2 = \lambda_j^2 \ \text{(horseshoe)}\quad\text{or}\quad
    \frac{c^2\lambda_j^2}{c^2 + \tau^2\lambda_j^2}\ \text{(regularized)},

with ``g_j`` the column's rescaling. The coordinates are ``z`` (p), ``log lambda`` (p),
``log tau``, ``log c^2`` (regularized), ``u`` (``log sigma = loc + scale u``, learned sigma)
and ``v`` (the centred intercept ``c = sigma v / sqrt(n)``, with an intercept), in that
order. The residual sum of squares is expanded around a reference point ``m`` from the
residuals there, ``r0 + 2 q'dw + dw'X'X dw`` (``q = -X'r``, ``dw = w - m``), so the noise
survives a nearly exact fit; ``X'X dw`` is ``X'(X dw)`` when there are fewer rows than
columns. One gradient costs one p x p (or two rows x p) matrix-vector product.

Layout of the buffer (``HEADER`` scalars, then ``m``, ``q``, ``g`` (each ``p``), then ``X'X``
(``p * p``) or, with ``rows > 0``, the centred data ``X`` and ``X'`` (``rows * p`` each)):

====  ==========================================================================
0     p                              1  regularized (0/1)
2     fit_intercept (0/1)            3  sigma known (0/1)
4     n                              5  known sigma
6     log sigma's location           7  log sigma's scale
8     r0, the residual sum of squares at ``m``
9     tau0, the scale of tau's Half-Cauchy prior
10    the slab's Inv-Gamma shape     11 the slab's Inv-Gamma scale
12    rows of the data form (0: ``X'X``)
====  ==========================================================================
"""

from __future__ import annotations

import math

import numba
import numpy as np

# The signature and the draw-storing callback are the other kernel's (nutpie reads
# expand_cfunc from this module too); logp_cfunc is this module's own: a cfunc binds the log
# density it calls when it is compiled (and cached).
from .kernel import LOGP_SIG, expand_cfunc, store_logp  # noqa: F401

__all__ = ["HEADER", "logp_cfunc", "expand_cfunc", "logp_and_grad", "buffer_size"]

HEADER = 13

_LOG_2PI = math.log(2.0 * math.pi)
_LOG_2_OVER_PI = math.log(2.0 / math.pi)


@numba.njit(cache=True)
def buffer_size(p, rows):
    """Length of the buffer: the header, three vectors and ``X'X`` or ``X`` and ``X'``."""
    return HEADER + 3 * p + (p * p if rows == 0 else 2 * rows * p)


@numba.njit(cache=True, error_model="numpy", inline="always")
def _log_half_cauchy(log_x, scale):
    """log Half-Cauchy(scale) density of ``x = exp(log_x)`` plus log_x (the log transform's
    Jacobian), and its derivative in log_x."""
    r2 = math.exp(2.0 * (log_x - math.log(scale)))
    value = _LOG_2_OVER_PI - math.log(scale) - math.log1p(r2) + log_x
    return value, 1.0 - 2.0 * r2 / (1.0 + r2)


@numba.njit(cache=True, error_model="numpy", inline="always")
def _rss_grad(buf, p, w, grad_w):
    """The residual sum of squares at ``w``; writes ``-d rss / dw / 2`` into ``grad_w``."""
    o = HEADER
    m, q = buf[o:o + p], buf[o + p:o + 2 * p]
    rows = int(buf[12])
    o3 = o + 3 * p
    dw = w - m
    if rows == 0:
        Adw = buf[o3:o3 + p * p].reshape((p, p)) @ dw
    else:
        X = buf[o3:o3 + rows * p].reshape((rows, p))
        XT = buf[o3 + rows * p:o3 + 2 * rows * p].reshape((p, rows))
        Adw = XT @ (X @ dw)
    for j in range(p):
        grad_w[j] = -(q[j] + Adw[j])
    return buf[8] + 2.0 * (q @ dw) + dw @ Adw


@numba.njit(cache=True, error_model="numpy", inline="always")
def _coefficients(x, p, sigma, tau, c2, regularized, g, grad):
    """``w = a z`` with ``a = sigma tau lambda~ g``, and the priors of ``z`` and ``lambda``
    (their gradient in log lambda goes into ``grad``). Returns ``(log density, w, a, r)``,
    ``r = tau^2 lambda^2 / (c^2 + tau^2 lambda^2)`` (the slab's share; 0 without slab)."""
    logp = 0.0
    w = np.empty(p)
    a = np.empty(p)
    r = np.zeros(p)
    for j in range(p):
        log_lt = x[p + j]
        if regularized:
            s2 = tau * tau * math.exp(2.0 * x[p + j])
            r[j] = s2 / (c2 + s2)
            log_lt = 0.5 * (math.log(c2) + 2.0 * x[p + j] - math.log(c2 + s2))
        a[j] = sigma * tau * math.exp(log_lt) * g[j]
        w[j] = a[j] * x[j]
        # z ~ N(0, 1) and lambda ~ Half-Cauchy(1), log-transformed
        hc, dhc = _log_half_cauchy(x[p + j], 1.0)
        logp += -0.5 * (x[j] * x[j] + _LOG_2PI) + hc
        grad[p + j] = dhc
    return logp, w, a, r


@numba.njit(cache=True, error_model="numpy")
def logp_and_grad(x, buf, grad):
    """Log density at the sampler's coordinates ``x``; writes the gradient into ``grad``."""
    p = int(buf[0])
    regularized = buf[1] > 0.5
    n = buf[4]
    g = buf[HEADER + 2 * p:HEADER + 3 * p]
    k = 2 * p + 1
    log_tau = x[2 * p]
    log_c2 = 0.0
    if regularized:
        log_c2 = x[k]
        k += 1
    iu = -1
    if buf[3] > 0.5:
        ls = math.log(buf[5])
    else:
        iu = k
        ls = buf[6] + buf[7] * x[k]
        k += 1
    for i in range(grad.shape[0]):
        grad[i] = 0.0
    sigma = math.exp(ls)
    tau = math.exp(log_tau)
    c2 = math.exp(log_c2)
    logp, w, a, r = _coefficients(x, p, sigma, tau, c2, regularized, g, grad)
    gw = np.empty(p)
    rss = _rss_grad(buf, p, w, gw)
    inv_var = 1.0 / (sigma * sigma)
    logp += -0.5 * n * (_LOG_2PI + 2.0 * ls) - 0.5 * rss * inv_var
    d_log_w = 0.0                # d logp / d log w_j summed: moves with log sigma
    d_tau = 0.0
    d_c2 = 0.0
    for j in range(p):
        gwj = gw[j] * inv_var * w[j]                    # d logp / d log w_j (likelihood)
        grad[j] = gw[j] * inv_var * a[j] - x[j]
        grad[p + j] += gwj * (1.0 - r[j])
        d_log_w += gwj
        d_tau += gwj * (1.0 - r[j])
        d_c2 += gwj * 0.5 * r[j]
    hc, dhc = _log_half_cauchy(log_tau, buf[9])
    logp += hc
    grad[2 * p] = d_tau + dhc
    if regularized:
        shape, scale = buf[10], buf[11]
        # c^2 ~ Inv-Gamma(shape, scale), log-transformed
        logp += shape * math.log(scale) - math.lgamma(shape) - shape * log_c2 - scale / c2
        grad[2 * p + 1] = d_c2 - shape + scale / c2
    if iu >= 0:
        grad[iu] = (rss * inv_var - n + d_log_w) * buf[7]
    if buf[2] > 0.5:             # c = sigma v / sqrt(n): n c^2 / sigma^2 = v^2
        v = x[k]
        logp += -0.5 * v * v
        grad[k] = -v
        if iu >= 0:
            logp += ls           # the Jacobian of c = sigma v / sqrt(n)
            grad[iu] += buf[7]
    return logp


@numba.cfunc(LOGP_SIG, cache=True)
def logp_cfunc(dim, x_, out_, logp_, data_):
    """nutpie's C callback: ``int logp(dim, x, grad_out, logp_out, user_data)``."""
    head = numba.carray(data_, (HEADER,), numba.float64)
    buf = numba.carray(data_, (buffer_size(int(head[0]), int(head[12])),), numba.float64)
    x = numba.carray(x_, (dim,))
    out = numba.carray(out_, (dim,))
    res = numba.carray(logp_, (1,))
    return store_logp(logp_and_grad(x, buf, out), out, res)
