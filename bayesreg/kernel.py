r"""The sampler's log density and gradient: one numba kernel for every prior, option and width.

The posterior is defined by the PyMC graph in :func:`bayesreg.model.build_model`; this kernel
evaluates the same log density (a test checks it against PyMC's compiled ``logp`` and ``dlogp``
at random points, for every prior kind and option) in a form that compiles once per machine:

- Everything a fit needs (flags, scalars, vectors, matrices) lives in one float64 buffer whose
  address nutpie hands to the callback, so the compiled code references no dynamic globals
  and numba's disk cache (``cache=True``) keeps it across processes. A new process loads
  it in well under a second instead of compiling nutpie's wrappers (8 to 18 s).
- The width comes from the buffer, so one compiled kernel serves every ``p``.
- Residual sums of squares are expanded around the MAP ``m`` from the residuals there (``r0``
  and ``X'r`` summed in one pass), so no ``y'y - w'X'y`` cancellation loses the noise.

Two parametrizations (see :func:`bayesreg.model.sampler_frame` for how they are set up):

*linear* (flat prior, or ridge with a fixed alpha): ``w = m + s W z`` with
``s = sigma / sigma_hat``; the residual sum of squares is the quadratic form
``r0 + 2 s q'z + s^2 z'Mz`` (``M = W'X'XW``, ``q = -W'X'r``), with a fixed ridge penalty folded
in: one matrix-vector product per gradient.

*general* (Laplace and mixed priors, and any learned alpha): per coefficient
``xi_j = l_j xi*_j + e_j (W z)_j`` and ``w_j = T(xi_j)``.

- ``e_j = sd_j(sigma, alpha) / sd_j(sigma_hat, alpha_hat)``, the ratio of a Gaussian
  approximation's sd, ``sd_j^-2 = h_j / sigma^2 + c_lap_j (a / a_hat)^2 + c_nor_j (a / a_hat)``:
  a coefficient the data fix spreads with sigma (centred), one the prior fixes with the
  prior's scale (non-centred), and every coefficient in between smoothly. This removes the
  funnel between the coefficients and a learned alpha.
- ``l_j = e_j^2 (sigma_hat / sigma)^2`` moves the centre as that approximation's conditional
  mean moves: not at all for a coefficient the data fix, towards 0 for one the prior fixes as
  alpha grows.
- ``T'(xi) = 1 + K (1 - exp(-|xi| / delta))`` with ``K = a delta`` for the current Laplace rate
  ``a``, so ``T''(0+-) = +-a``: the Jacobian's kink cancels the prior's ``-a|w|`` kink exactly
  and the density of ``xi`` is smooth, so NUTS is not held to tiny steps by p kinks. Away
  from 0, ``T`` is linear with slope ``1 + K``.

Three matrix-vector products per gradient: ``W z``, ``X'X (w - m)`` (as ``X'(X (w - m))``
when n < p), ``W' g``.

Layout of the buffer (``HEADER`` scalars, then the arrays, each of length ``p`` or ``p*p``):

====  ==========================================================================
0     p
1     prior kind: 0 flat, 1 normal, 2 laplace, 3 mixed
2     fit_intercept (0/1)            3  sigma known (0/1)     4  learn alpha (0/1)
5     n                              6  alpha (learned: the Half-Cauchy scale)
7     l1_ratio                       8  known sigma
9     log sigma_hat                  10 scale of log sigma's coordinate
11    scale of the centred intercept 12 r0, the residual sum of squares at ``m``
13    linear: the Normal prior is folded into ``r0``, ``q`` and ``M``
14    log alpha_hat (learned alpha)  15 parametrization: 0 linear, 1 general
16    rows of the data form (0: the Gram matrix ``X'X`` instead)
17    low-rank whitening (0/1; general parametrization with fewer rows than columns)
====  ==========================================================================

then the vectors ``m``, ``q`` (general: ``-X'r``), ``g1``, ``g2``, ``xi*``, ``K``, ``delta_hat``,
``h``, ``c_lap``, ``c_nor`` (each ``p``), the matrices ``W`` and ``W'`` (each ``p * p``, row major;
``W'`` is stored so that both products with ``W`` read memory in order, twice as fast here as a
transposed product), and last ``M`` (``p * p``; general: ``X'X``) or, in the general
parametrization when there are fewer rows than columns, the centred data ``X`` and ``X'``
(``rows * p`` each), so that ``X'X (w - m)`` costs ``2 rows p`` instead of ``p^2``.
With fewer rows than columns the whitening is low-rank too: the precision is
``D + U'U`` with ``U`` of ``rows`` rows, so ``W = diag(d) (I - Q diag(F) Q')`` from a thin SVD,
stored as ``d``, ``F``, ``Q`` and ``Q'`` in place of ``W`` and ``W'``: a gradient costs about
``6 rows p`` instead of ``3 p^2``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["HEADER", "KINDS", "LOGP_SIG", "logp_cfunc", "expand_cfunc", "logp_and_grad", "buffer_size"]

HEADER = 18
KINDS = {"flat": 0, "normal": 1, "laplace": 2, "mixed": 3}

_LOG_2PI = math.log(2.0 * math.pi)
_SQRT_PI = math.sqrt(math.pi)


@numba.njit(cache=True)
def buffer_size(p, rows, lowrank):
    """Length of the buffer: dense ``W``, ``W'`` and ``X'X`` (``rows = 0``) or the data form
    ``X``, ``X'``; or (``lowrank``) the low-rank whitening ``d``, ``F``, ``Q``, ``Q'`` and ``X``, ``X'``."""
    if lowrank:
        return HEADER + 11 * p + rows + 4 * rows * p
    return HEADER + 10 * p + 2 * p * p + (p * p if rows == 0 else 2 * rows * p)


@numba.njit(cache=True, error_model="numpy")
def _log_erfcx(t):
    """log(exp(t^2) erfc(t)) for t >= 0, accurate where erfc underflows."""
    if t < 25.0:
        return t * t + math.log(math.erfc(t))
    u = 1.0 / (t * t)
    series = 1.0 - 0.5 * u + 0.75 * u * u - 1.875 * u * u * u + 6.5625 * u * u * u * u
    return -math.log(t * _SQRT_PI) + math.log(series)


@numba.njit(cache=True, error_model="numpy")
def _dlog_erfcx(t, log_erfcx):
    """d/dt log erfcx(t) = 2t - 2 / (sqrt(pi) erfcx(t)); for t >= 25 from the asymptotic series
    (the difference of two large terms loses precision there)."""
    if t < 25.0:
        return 2.0 * t - 2.0 / (_SQRT_PI * math.exp(log_erfcx))
    u = 1.0 / (t * t)
    # log erfcx(t) = -log(t sqrt(pi)) + log S(u), S = 1 - u/2 + 3u^2/4 - 15u^3/8 + 105u^4/16
    s = 1.0 - 0.5 * u + 0.75 * u * u - 1.875 * u * u * u + 6.5625 * u * u * u * u
    ds_du = -0.5 + 1.5 * u - 5.625 * u * u + 26.25 * u * u * u
    return -1.0 / t + ds_du / s * (-2.0 * u / t)


@numba.njit(cache=True, error_model="numpy")
def _prior_terms(w, a_fac, b_fac, g1, g2, kind, gw):
    """-penalty - sum log Z(a_j, b_j) of the coefficients' prior; adds d/dw to ``gw``.

    Returns ``(value, scale_term)`` with ``scale_term = sum (a dlogZ/da + b dlogZ/db)``: a and b
    scale with alpha / sigma^2, so d value / d log(alpha / sigma^2) = -penalty - scale_term.
    """
    pen = 0.0
    norm_term = 0.0
    scale_term = 0.0
    for j in range(w.shape[0]):
        a = a_fac * g1[j] if kind != 1 else 0.0
        b = b_fac * g2[j] if kind != 2 else 0.0
        wj = w[j]
        sign = 1.0 if wj > 0 else (-1.0 if wj < 0 else 0.0)
        if kind == 1:
            pen += 0.5 * b * wj * wj
            gw[j] -= b * wj
            norm_term += 0.5 * (_LOG_2PI - math.log(b))
            scale_term += -0.5
        elif kind == 2:
            pen += a * abs(wj)
            gw[j] -= a * sign
            norm_term += math.log(2.0 / a)
            scale_term += -1.0
        else:
            pen += a * abs(wj) + 0.5 * b * wj * wj
            gw[j] -= a * sign + b * wj
            t = a / math.sqrt(2.0 * b)
            le = _log_erfcx(t)
            norm_term += math.log(2.0) + 0.5 * math.log(math.pi / (2.0 * b)) + le
            scale_term += 0.5 * t * _dlog_erfcx(t, le) - 0.5
    return -pen - norm_term, pen, scale_term


@numba.njit(cache=True, inline="always")
def _matrices(buf, p, rows, lowrank):
    """Views of the buffer's matrices: ``(d, F, Q, Q', W, W', M, X, X')``, empty where the
    layout has none (see the module's docstring)."""
    o2 = HEADER + 10 * p
    empty = buf[o2:o2]
    if lowrank:
        # W = diag(d) (I - Q diag(F) Q'), Q: p x rows (see model.sampler_frame)
        d = buf[o2:o2 + p]
        F = buf[o2 + p:o2 + p + rows]
        o3 = o2 + p + rows
        Q = buf[o3:o3 + p * rows].reshape((p, rows))
        QT = buf[o3 + p * rows:o3 + 2 * p * rows].reshape((rows, p))
        W = empty.reshape((0, 0))
        WT = empty.reshape((0, 0))
        o3 += 2 * p * rows
    else:
        d = empty
        F = empty
        W = buf[o2:o2 + p * p].reshape((p, p))
        WT = buf[o2 + p * p:o2 + 2 * p * p].reshape((p, p))
        Q = empty.reshape((0, 0))
        QT = empty.reshape((0, 0))
        o3 = o2 + 2 * p * p
    if rows == 0:
        M = buf[o3:o3 + p * p].reshape((p, p))
        X = empty.reshape((0, p))
        XT = empty.reshape((p, 0))
    else:
        M = empty.reshape((0, 0))
        X = buf[o3:o3 + rows * p].reshape((rows, p))
        XT = buf[o3 + rows * p:o3 + 2 * rows * p].reshape((p, rows))
    return d, F, Q, QT, W, WT, M, X, XT


@numba.njit(cache=True, inline="always", error_model="numpy")
def _linear(buf, z, d_sig, ls, inv_var, alpha, M, W, WT, grad):
    """The linear parametrization's terms: ``w = m + s W z``, the quadratic form
    ``r0 + 2 s q'z + s^2 z'Mz`` (a fixed ridge penalty folded in) and the prior. Writes the
    gradient in ``z``; returns ``(log density, d / d log sigma)``."""
    p = int(buf[0])
    kind = int(buf[1])
    sigma_known = buf[3] > 0.5
    n = buf[5]
    o = HEADER
    m = buf[o:o + p]
    q = buf[o + p:o + 2 * p]
    g1 = buf[o + 2 * p:o + 3 * p]
    g2 = buf[o + 3 * p:o + 4 * p]
    s = math.exp(d_sig)
    Mz = M @ z
    qz = q @ z
    zMz = z @ Mz
    quad = buf[12] + 2.0 * s * qz + s * s * zMz
    logp = -0.5 * quad * inv_var
    g_z = -(s * q + s * s * Mz) * inv_var
    dls = quad * inv_var - (s * qz + s * s * zMz) * inv_var
    if not sigma_known:
        logp += p * d_sig         # Jacobian of w = m + s W z
        dls += p
    if kind == 1 and buf[13] > 0.5:
        # the penalty is in quad: only sum log Z(b_j) is left, b_j = n alpha g2_j / sigma^2
        for j in range(p):
            logp -= 0.5 * (_LOG_2PI - math.log(n * alpha * g2[j]) + 2.0 * ls)
        dls -= p
    elif kind == 1:
        Wz = W @ z
        w = m + s * Wz
        gw = np.zeros(p)
        value, pen, scale_term = _prior_terms(w, 0.0, n * alpha * inv_var, g1, g2, kind, gw)
        logp += value
        g_z += s * (WT @ gw)
        dls += 2.0 * pen + 2.0 * scale_term + s * (gw @ Wz)
    for j in range(p):
        grad[j] = g_z[j]
    return logp, dls


@numba.njit(cache=True, inline="always", error_model="numpy")
def _transform(buf, Wz, d_sig, t):
    """The general parametrization's map from ``W z`` to ``w``, coefficient by coefficient,
    with what its gradient needs: ``(w, e, T'(xi), d log e / d log sigma,
    d log e / d log alpha, d centre / d log sigma, d centre / d log alpha, e W z,
    d log T' / d xi, d T / d log a, d log T' / d log a, sum log e + sum log T',
    d (sum log e) / d log sigma, d (sum log e) / d log alpha)``."""
    p = int(buf[0])
    kind = int(buf[1])
    o = HEADER
    xi_star = buf[o + 4 * p:o + 5 * p]
    kslope = buf[o + 5 * p:o + 6 * p]
    delta = buf[o + 6 * p:o + 7 * p]
    h0 = buf[o + 7 * p:o + 8 * p]
    c_lap = buf[o + 8 * p:o + 9 * p]
    c_nor = buf[o + 9 * p:o + 10 * p]
    kink = kind == 2 or kind == 3
    e2s, et = math.exp(-2.0 * d_sig), math.exp(t)
    scale, dle_s, dle_a = np.empty(p), np.empty(p), np.empty(p)
    loc_s, loc_a, spread, w = np.empty(p), np.empty(p), np.empty(p), np.empty(p)
    tp = np.ones(p)            # T'(xi)
    dlt_dxi = np.zeros(p)      # d log T' / d xi
    dt_dloga = np.zeros(p)     # d T / d log a, holding xi
    dlt_dloga = np.zeros(p)    # d log T' / d log a, holding xi
    logp = dls = dla = 0.0
    for j in range(p):
        d_now = h0[j] * e2s + c_lap[j] * et * et + c_nor[j] * et
        le = 0.5 * (math.log(h0[j] + c_lap[j] + c_nor[j]) - math.log(d_now))
        e = math.exp(le)
        scale[j] = e
        dle_s[j] = (h0[j] * e2s + 2.0 * c_lap[j] * et * et + c_nor[j] * et) / d_now
        dle_a[j] = -(c_lap[j] * et * et + 0.5 * c_nor[j] * et) / d_now
        logp += le
        dls += dle_s[j]
        dla += dle_a[j]
        # the centre moves as the conditional mean does, e^2 (sigma_hat / sigma)^2; the
        # spread as e
        loc = xi_star[j] * e * e * e2s
        xj = loc + e * Wz[j]
        loc_s[j] = loc * (2.0 * dle_s[j] - 2.0)
        loc_a[j] = loc * 2.0 * dle_a[j]
        spread[j] = e * Wz[j]
        w[j] = xj
        if kink:
            K = kslope[j] * et                       # K = a delta: T''(0+-) = +-a
            dj = delta[j]
            ax = abs(xj)
            sign = 1.0 if xj > 0 else (-1.0 if xj < 0 else 0.0)
            u = ax / dj
            ex = math.exp(-u)
            t_prime = 1.0 + K * (1.0 - ex)
            bump = sign * K * dj * (u - (1.0 - ex))
            w[j] = sign * ax + bump
            tp[j] = t_prime
            logp += math.log(t_prime)
            dlt_dxi[j] = K * ex * sign / (dj * t_prime)
            dt_dloga[j] = bump
            dlt_dloga[j] = K * (1.0 - ex) / t_prime
    return (w, scale, tp, dle_s, dle_a, loc_s, loc_a, spread, dlt_dxi, dt_dloga, dlt_dloga,
            logp, dls, dla)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _general(buf, z, d_sig, d_alp, inv_var, alpha, mats, grad):
    """The general parametrization's terms (see the module's docstring). Writes the gradient
    in ``z``; returns ``(log density, d / d log sigma, d / d log alpha)``."""
    p = int(buf[0])
    kind = int(buf[1])
    n, rho = buf[5], buf[7]
    o = HEADER
    m, q = buf[o:o + p], buf[o + p:o + 2 * p]
    g1, g2 = buf[o + 2 * p:o + 3 * p], buf[o + 3 * p:o + 4 * p]
    rows, lowrank = int(buf[16]), buf[17] > 0.5
    d, F, Q, QT, W, WT, M, X, XT = mats
    Wz = d * (z - Q @ (F * (QT @ z))) if lowrank else W @ z
    t = d_alp - 2.0 * d_sig           # log(a / a_hat): every prior scale moves with it
    (w, scale, tp, dle_s, dle_a, loc_s, loc_a, spread, dlt_dxi, dt_dloga, dlt_dloga,
     logp, dls, dla) = _transform(buf, Wz, d_sig, t)
    dw = w - m
    Adw = M @ dw if rows == 0 else XT @ (X @ dw)
    rss = buf[12] + 2.0 * (q @ dw) + dw @ Adw
    logp -= 0.5 * rss * inv_var
    dls += rss * inv_var
    gw = -(q + Adw) * inv_var
    if kind != 0:
        value, pen, scale_term = _prior_terms(w, n * alpha * rho * inv_var,
                                              n * alpha * (1.0 - rho) * inv_var, g1, g2, kind, gw)
        logp += value
        dla += -pen - scale_term
        dls += 2.0 * pen + 2.0 * scale_term
    # through T's dependence on a (t = log(a / a_hat)), holding xi
    ga = 0.0
    for j in range(p):
        ga += gw[j] * dt_dloga[j] + dlt_dloga[j]
    dla += ga
    dls -= 2.0 * ga
    # through xi = xi* e^2 (sigma_hat / sigma)^2 + e W z
    g_v = np.empty(p)
    for j in range(p):
        g_xi = gw[j] * tp[j] + dlt_dxi[j]
        dls += g_xi * (loc_s[j] + spread[j] * dle_s[j])
        dla += g_xi * (loc_a[j] + spread[j] * dle_a[j])
        g_v[j] = g_xi * scale[j]
    if lowrank:
        dg = d * g_v
        g_z = dg - Q @ (F * (QT @ dg))
    else:
        g_z = WT @ g_v
    for j in range(p):
        grad[j] = g_z[j]
    return logp, dls, dla


@numba.njit(cache=True, error_model="numpy", inline="always")
def _coordinates(x, buf):
    """``(log sigma, log(sigma / sigma_hat), c, log(alpha / alpha_hat), alpha, iu, iv, ia)``
    from the sampler's coordinates; ``iu``, ``iv``, ``ia`` index u, v and log alpha (-1: none)."""
    p = int(buf[0])
    k = p
    d_sig = 0.0
    iu = iv = ia = -1
    if buf[3] > 0.5:              # known sigma
        ls = math.log(buf[8])
    else:
        d_sig = buf[10] * x[k]
        ls = buf[9] + d_sig
        iu = k
        k += 1
    c = 0.0
    if buf[2] > 0.5:              # intercept
        c = math.exp(d_sig) * buf[11] * x[k]
        iv = k
        k += 1
    d_alp = 0.0
    alpha = buf[6]
    if buf[4] > 0.5:              # learned alpha
        d_alp = x[k]
        alpha = math.exp(buf[14] + d_alp)
        ia = k
    return ls, d_sig, c, d_alp, alpha, iu, iv, ia


@numba.njit(cache=True, error_model="numpy")
def logp_and_grad(x, buf, grad):
    """Log density at the sampler's coordinates ``x``; writes the gradient into ``grad``.

    ``x`` = [z (p), log-sigma offset u (learned sigma), intercept offset v (with intercept),
    log alpha - log alpha_hat (learned alpha)].
    """
    p = int(buf[0])
    kind = int(buf[1])
    fit_intercept = buf[2] > 0.5
    sigma_known = buf[3] > 0.5
    n = buf[5]
    alpha0 = buf[6]
    z = x[:p]
    ls, d_sig, c, d_alp, alpha, iu, iv, ia = _coordinates(x, buf)
    for i in range(grad.shape[0]):
        grad[i] = 0.0
    if kind != 0 and not alpha > 0.0:
        return -np.inf            # alpha underflowed: outside the support
    inv_var = math.exp(-2.0 * ls)
    # c moves with sigma (c = s c_scale v), so n c^2 / sigma^2 does not depend on log sigma
    logp = -0.5 * n * (_LOG_2PI + 2.0 * ls) - 0.5 * n * c * c * inv_var
    dls = -n
    dla = 0.0
    if fit_intercept and not sigma_known:
        logp += d_sig             # Jacobian of c = s c_scale v
        dls += 1.0
    mats = _matrices(buf, p, int(buf[16]), buf[17] > 0.5)
    if buf[15] > 0.5:
        lp, g_s, g_a = _general(buf, z, d_sig, d_alp, inv_var, alpha, mats, grad)
        dla += g_a
    else:
        lp, g_s = _linear(buf, z, d_sig, ls, inv_var, alpha, mats[6], mats[4], mats[5], grad)
    logp += lp
    dls += g_s
    if not sigma_known:
        grad[iu] = dls * buf[10]
    if fit_intercept:
        grad[iv] = -n * c * math.exp(d_sig) * buf[11] * inv_var
    if ia >= 0:
        r = alpha / alpha0
        # Half-Cauchy(alpha0) on alpha, and the Jacobian of alpha = exp(log alpha)
        logp += math.log(2.0 / (math.pi * alpha0)) - math.log1p(r * r) + math.log(alpha)
        dla += 1.0 - 2.0 * r * r / (1.0 + r * r)
        grad[ia] = dla
    return logp


LOGP_SIG = numba.types.int64(numba.types.uint64, numba.types.CPointer(numba.types.double),
                              numba.types.CPointer(numba.types.double),
                              numba.types.CPointer(numba.types.double), numba.types.voidptr)
_EXPAND_SIG = numba.types.int64(numba.types.uint64, numba.types.uint64,
                                numba.types.CPointer(numba.types.double),
                                numba.types.CPointer(numba.types.double), numba.types.voidptr)


@numba.njit(cache=True)
def store_logp(value, grad, res):
    """Write ``value`` for nutpie; its status code: 0, or 3 (4) for a non-finite gradient
    (log density). Shared by the kernels' ``logp_cfunc``."""
    res[0] = value
    for i in range(grad.shape[0]):
        if not math.isfinite(grad[i]):
            return 3
    if not math.isfinite(value):
        return 4
    return 0


@numba.cfunc(LOGP_SIG, cache=True)
def logp_cfunc(dim, x_, out_, logp_, data_):
    """nutpie's C callback: ``int logp(dim, x, grad_out, logp_out, user_data)``."""
    head = numba.carray(data_, (HEADER,), numba.float64)
    p = int(head[0])
    buf = numba.carray(data_, (buffer_size(p, int(head[16]), head[17] > 0.5),), numba.float64)
    x = numba.carray(x_, (dim,))
    out = numba.carray(out_, (dim,))
    res = numba.carray(logp_, (1,))
    return store_logp(logp_and_grad(x, buf, out), out, res)


@numba.cfunc(_EXPAND_SIG, cache=True)
def expand_cfunc(dim, expanded, x_, out_, data_):
    """nutpie's C callback that stores a draw: the sampler's coordinates as they are."""
    x = numba.carray(x_, (dim,))
    out = numba.carray(out_, (expanded,))
    for i in range(dim):
        out[i] = x[i]
    return 0
