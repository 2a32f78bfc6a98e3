r"""The sampler's log density and gradient: one numba kernel for every prior, option and width.

The posterior is defined by the PyMC graph in :func:`bayesreg.model.build_model`; this kernel
evaluates the same log density (a test checks it against PyMC's compiled ``logp`` and ``dlogp``
at random points, for every prior kind and option) in a form that compiles once per machine:

- Everything a fit needs (flags, scalars, vectors, matrices) lives in one float64 buffer whose
  address nutpie hands to the callback, so the compiled code references no dynamic globals
  and numba's disk cache (``cache=True``) keeps it across processes. A new process loads
  it in well under a second instead of compiling nutpie's wrappers (8 to 18 s).
- The width comes from the buffer, so one compiled kernel serves every ``p``.
- The likelihood is a quadratic form in the sampler's whitened coordinates ``z``
  (``w = m + W z``), precomputed once per fit: ``rss(z) = r0 + 2 q'z + z'Mz`` with
  ``M = W'X'XW`` and ``q = -W'X'r`` at the MAP residuals ``r``, and ``r0 = r'r`` summed from
  those residuals (no ``y'y - w'X'y`` cancellation). A gradient is one symmetric
  matrix-vector product, plus two triangular ones when the prior has an L1 part.

Layout of the buffer (``HEADER`` scalars, then the arrays, each of length ``p`` or ``p*p``):

====  ==========================================================================
0     p
1     prior kind: 0 flat, 1 normal, 2 laplace, 3 mixed
2     fit_intercept (0/1)            3  sigma known (0/1)     4  learn alpha (0/1)
5     n                              6  alpha (learned: the Half-Cauchy scale)
7     l1_ratio                       8  known sigma
9     location of log sigma          10 scale of log sigma
11    scale of the centred intercept 12 r0, the residual sum of squares at ``m``
13    the Normal prior is folded into ``r0``, ``q`` and ``M`` (ridge with a fixed alpha:
      a gradient is then one matrix-vector product)
====  ==========================================================================

then ``m``, ``q``, ``g1``, ``g2`` (each ``p``), ``M``, ``W`` and ``W'`` (each ``p * p``, row
major; ``W'`` is stored so that both products with ``W`` read memory in order, which is twice
as fast as a transposed product here).
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["HEADER", "KINDS", "logp_cfunc", "expand_cfunc", "logp_and_grad", "buffer_size"]

HEADER = 16
KINDS = {"flat": 0, "normal": 1, "laplace": 2, "mixed": 3}

_LOG_2PI = math.log(2.0 * math.pi)
_SQRT_PI = math.sqrt(math.pi)


def buffer_size(p: int) -> int:
    return HEADER + 4 * p + 3 * p * p


@numba.njit(cache=True, fastmath=False)
def _log_erfcx(t):
    """log(exp(t^2) erfc(t)) for t >= 0, accurate where erfc underflows."""
    if t < 25.0:
        return t * t + math.log(math.erfc(t))
    u = 1.0 / (t * t)
    series = 1.0 - 0.5 * u + 0.75 * u * u - 1.875 * u * u * u + 6.5625 * u * u * u * u
    return -math.log(t * _SQRT_PI) + math.log(series)


@numba.njit(cache=True, fastmath=False)
def _dlog_erfcx(t, log_erfcx):
    """d/dt log erfcx(t) = 2t - 2 / (sqrt(pi) erfcx(t))."""
    return 2.0 * t - 2.0 / (_SQRT_PI * math.exp(log_erfcx))


@numba.njit(cache=True, fastmath=False)
def logp_and_grad(x, buf, grad):
    """Log density at the sampler's coordinates ``x``; writes the gradient into ``grad``.

    ``x`` = [z (p), log-sigma offset u (learned sigma), intercept offset v (with intercept),
    log alpha (learned alpha)].
    """
    p = int(buf[0])
    kind = int(buf[1])
    fit_intercept = buf[2] > 0.5
    sigma_known = buf[3] > 0.5
    learn_alpha = buf[4] > 0.5
    n = buf[5]
    alpha0 = buf[6]
    rho = buf[7]
    r0 = buf[12]
    o = HEADER
    m = buf[o:o + p]
    q = buf[o + p:o + 2 * p]
    g1 = buf[o + 2 * p:o + 3 * p]
    g2 = buf[o + 3 * p:o + 4 * p]
    o2 = o + 4 * p
    M = buf[o2:o2 + p * p].reshape((p, p))
    W = buf[o2 + p * p:o2 + 2 * p * p].reshape((p, p))
    WT = buf[o2 + 2 * p * p:o2 + 3 * p * p].reshape((p, p))

    z = x[:p]
    k = p
    if sigma_known:
        ls = math.log(buf[8])
        u_scale = 0.0
        iu = -1
    else:
        u_scale = buf[10]
        ls = buf[9] + u_scale * x[k]
        iu = k
        k += 1
    # w and c move with sigma: w = m + s W z, c = s c_scale v, s = sigma / sigma_hat, so that
    # z and v are (near) independent of sigma, exactly so for a Gaussian prior
    s = math.exp(ls - buf[9]) if not sigma_known else 1.0
    if fit_intercept:
        c_scale = buf[11]
        c = s * c_scale * x[k]
        iv = k
        k += 1
    else:
        c_scale = 0.0
        c = 0.0
        iv = -1
    if learn_alpha:
        la = x[k]
        ia = k
        alpha = math.exp(la)
    else:
        la = 0.0
        ia = -1
        alpha = alpha0
    inv_var = math.exp(-2.0 * ls)

    Mz = M @ z
    qz = q @ z
    zMz = z @ Mz
    quad = r0 + 2.0 * s * qz + s * s * zMz + n * c * c
    dquad_ls = 2.0 * s * qz + 2.0 * s * s * zMz + 2.0 * n * c * c
    g_z = -(s * q + s * s * Mz) * inv_var                 # d loglik / dz
    dls = -n + quad * inv_var - 0.5 * dquad_ls * inv_var   # d loglik / d log sigma
    logp = -0.5 * n * (_LOG_2PI + 2.0 * ls) - 0.5 * quad * inv_var
    dla = 0.0
    if not sigma_known:
        # Jacobian of (w, c) in (z, v): sigma^(p + 1) / sigma_hat^(p + 1) (the flat prior on
        # log sigma is the Jeffreys prior p(sigma) ∝ 1/sigma)
        n_scaled = p + (1 if fit_intercept else 0)
        logp += n_scaled * (ls - buf[9])
        dls += n_scaled

    if kind == 1 and buf[13] > 0.5:
        # folded ridge: the penalty is in quad; only the normalizer sum log Z(b_j) is left,
        # with b_j = n alpha g2_j / sigma^2, so d/dlog sigma of -sum log Z is -p
        norm_term = 0.0
        for j in range(p):
            norm_term += 0.5 * (_LOG_2PI - math.log(n * alpha * g2[j]) + 2.0 * ls)
        logp -= norm_term
        dls -= p
    elif kind != 0:
        Wz = W @ z
        w = m + s * Wz
        a_fac = n * alpha * rho * inv_var
        b_fac = n * alpha * (1.0 - rho) * inv_var
        pen = 0.0
        gw = np.zeros(p)
        norm_term = 0.0          # sum of log Z(a_j, b_j)
        scale_term = 0.0         # sum of (a dlogZ/da + b dlogZ/db): d logZ / d log(scale factor)
        for j in range(p):
            a = a_fac * g1[j] if kind != 1 else 0.0
            b = b_fac * g2[j] if kind != 2 else 0.0
            wj = w[j]
            if kind == 1:
                pen += 0.5 * b * wj * wj
                gw[j] = -b * wj
                norm_term += 0.5 * (_LOG_2PI - math.log(b))
                scale_term += -0.5
            elif kind == 2:
                pen += a * abs(wj)
                gw[j] = -a * (1.0 if wj > 0 else (-1.0 if wj < 0 else 0.0))
                norm_term += math.log(2.0 / a)
                scale_term += -1.0
            else:
                pen += a * abs(wj) + 0.5 * b * wj * wj
                gw[j] = -a * (1.0 if wj > 0 else (-1.0 if wj < 0 else 0.0)) - b * wj
                t = a / math.sqrt(2.0 * b)
                le = _log_erfcx(t)
                norm_term += math.log(2.0) + 0.5 * math.log(math.pi / (2.0 * b)) + le
                scale_term += 0.5 * t * _dlog_erfcx(t, le) - 0.5
        logp += -pen - norm_term
        g_z += s * (WT @ gw)
        # a and b scale with alpha / sigma^2: d/dlog alpha = (-pen - scale_term), d/dlog sigma
        # = -2x that; and w moves with sigma: dw/dlog sigma = s W z
        dla += -pen - scale_term
        dls += 2.0 * pen + 2.0 * scale_term + s * (gw @ Wz)

    for j in range(p):
        grad[j] = g_z[j]
    if not sigma_known:
        grad[iu] = dls * u_scale
    if fit_intercept:
        grad[iv] = -n * c * s * c_scale * inv_var
    if learn_alpha:
        r = alpha / alpha0
        # Half-Cauchy(alpha0) on alpha, and the Jacobian of alpha = exp(la)
        logp += math.log(2.0 / (math.pi * alpha0)) - math.log1p(r * r) + la
        dla += 1.0 - 2.0 * r * r / (1.0 + r * r)
        grad[ia] = dla
    return logp


_LOGP_SIG = numba.types.int64(numba.types.uint64, numba.types.CPointer(numba.types.double),
                              numba.types.CPointer(numba.types.double),
                              numba.types.CPointer(numba.types.double), numba.types.voidptr)
_EXPAND_SIG = numba.types.int64(numba.types.uint64, numba.types.uint64,
                                numba.types.CPointer(numba.types.double),
                                numba.types.CPointer(numba.types.double), numba.types.voidptr)


@numba.cfunc(_LOGP_SIG, cache=True)
def logp_cfunc(dim, x_, out_, logp_, data_):
    """nutpie's C callback: ``int logp(dim, x, grad_out, logp_out, user_data)``."""
    head = numba.carray(data_, (HEADER,), numba.float64)
    p = int(head[0])
    buf = numba.carray(data_, (HEADER + 4 * p + 3 * p * p,), numba.float64)
    x = numba.carray(x_, (dim,))
    out = numba.carray(out_, (dim,))
    res = numba.carray(logp_, (1,))
    value = logp_and_grad(x, buf, out)
    res[0] = value
    for i in range(dim):
        if not math.isfinite(out[i]):
            return 3
    if not math.isfinite(value):
        return 4
    return 0


@numba.cfunc(_EXPAND_SIG, cache=True)
def expand_cfunc(dim, expanded, x_, out_, data_):
    """nutpie's C callback that stores a draw: the sampler's coordinates as they are."""
    x = numba.carray(x_, (dim,))
    out = numba.carray(out_, (expanded,))
    for i in range(dim):
        out[i] = x[i]
    return 0
