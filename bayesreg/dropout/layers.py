"""The layer math of MC dropout: the dropout layer, the network's passes, the mixture quantile.

Pure NumPy functions (``inverted_dropout`` also works on PyTensor tensors: the training graph
calls it). Prediction uses no compiled program: a pass is a few matrix products per layer with
masks from a Generator the caller owns, so any number of threads predict at once.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr, ndtri

from .._validation import InputError

__all__ = ["hdi", "inverted_dropout", "mixture_normal_quantile", "network", "sample_passes"]

# Upper bound on the number of floats in the widest (T_chunk * n, width)
# activation matrix of one forward pass over a chunk of MC passes: ~8 MB
# (float64) per matrix, a few of them alive at once, per prediction in flight;
# large enough that one matrix product per layer and chunk keeps BLAS efficient.
_MAX_CHUNK_ELEMENTS = 1_000_000


def inverted_dropout(x, keep_mask, p, rescale=True):
    r"""Apply a dropout mask to activations ``x``; the layer used in the network.

    Works elementwise on NumPy arrays and on PyTensor tensors alike (the model
    graph calls exactly this function).

    .. math::

        \tilde x = \frac{m \odot x}{1 - p}, \qquad m_j \sim \mathrm{Bernoulli}(1 - p),

    so that :math:`\mathbb E_m[\tilde x] = x`: the training-time expected
    activation equals the activation of the plain network used at test time
    (no rescaling needed at prediction). With ``rescale=False`` the layer is
    the original (non-inverted) dropout, whose training-time expectation is
    :math:`(1 - p)\,x`; the plain network then has to be scaled by
    :math:`1 - p` at test time ("weight scaling"), otherwise its activations
    are :math:`1/(1-p)` times too large.

    Parameters
    ----------
    x : array or tensor
        Activations.
    keep_mask : array or tensor, broadcastable to ``x``
        1 (or True) where a unit is kept, 0 where dropped.
    p : float
        Drop probability in ``[0, 1)``.
    rescale : bool
        Scale survivors by ``1 / (1 - p)`` (inverted dropout).
    """
    if rescale:
        return x * keep_mask / (1.0 - p)
    return x * keep_mask


def mixture_normal_quantile(means, sd, q, tol=1e-10, max_iter=200):
    r"""Quantile ``q`` of equal-weight Gaussian mixtures, one per column.

    Column ``i`` of ``means`` (shape ``(T, n)``) defines
    :math:`F_i(x) = \frac1T\sum_t \Phi\big((x - \mu_{ti})/s\big)`; this solves
    :math:`F_i(x) = q` for all ``i`` at once, vectorized over the columns, by
    Newton's method on :math:`F_i` (its derivative is the mixture density
    :math:`f_i`) safeguarded by bisection. The root is bracketed by
    :math:`[\min_t \mu_{ti} + s\,\Phi^{-1}(q),\ \max_t \mu_{ti} + s\,\Phi^{-1}(q)]`
    (each component's own ``q``-quantile lies there, and :math:`F_i` is a
    mean of the component CDFs); every evaluation of :math:`F_i` shrinks the
    bracket, and a Newton step that would leave it is replaced by its
    midpoint. The start is the ``q``-quantile of the normal with the mixture's
    mean and variance. A column stops when its step, or its bracket, is
    narrower than ``tol * (1 + |x|)`` and is then dropped from the iteration:
    a column typically needs 3 to 8 evaluations of its ``T`` component CDFs
    where plain bisection needs about 40 (multimodal mixtures with ``s`` far
    below the spread of the means need more, up to bisection's count).
    """
    means = np.asarray(means, dtype=np.float64)
    if means.ndim != 2:
        raise InputError("means", f"means must be 2-D (T, n), got shape {means.shape}", prefix=False)
    if not 0.0 < q < 1.0:
        raise InputError("q", f"q must be in (0, 1), got {q!r}", prefix=False)
    if not sd > 0:
        raise InputError("sd", f"sd must be > 0, got {sd!r}", prefix=False)
    z = ndtri(q)
    lo = means.min(axis=0) + sd * z
    hi = means.max(axis=0) + sd * z
    x = np.clip(means.mean(axis=0) + np.sqrt(sd**2 + means.var(axis=0)) * z, lo, hi)
    density = 1.0 / (sd * math.sqrt(2.0 * math.pi))
    active = np.arange(means.shape[1])  # columns still iterating, and their means
    m = means
    for _ in range(max_iter):
        xa, la, ha = x[active], lo[active], hi[active]
        u = (xa[None, :] - m) / sd
        cdf = ndtr(u).mean(axis=0)
        u *= u
        u *= -0.5
        pdf = np.exp(u, out=u).mean(axis=0) * density
        below = cdf < q
        la, ha = np.where(below, xa, la), np.where(below, ha, xa)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            new = xa - (cdf - q) / pdf
        inside = (new > la) & (new < ha)  # False for NaN and inf too
        new = np.where(inside, new, 0.5 * (la + ha))
        limit = tol * (1.0 + np.abs(new))
        done = (np.abs(new - xa) <= limit) | (ha - la <= limit)
        x[active], lo[active], hi[active] = new, la, ha
        if done.all():
            break
        if done.any():  # converged columns drop out: cost follows each column's own count
            active, m = active[~done], m[:, ~done]
    return x


def hdi(samples, prob):
    r"""Highest-density intervals ``(low, high)`` of the columns of ``samples`` (shape (T, n)).

    For each column, the shortest interval between two of its sorted values that holds
    :math:`k = \lfloor \text{prob}\, T\rfloor + 1` of them (the first such, in ascending
    order): ArviZ's ``az.hdi`` estimator, vectorized over the columns (``az.hdi`` loops over
    them in Python). For a unimodal distribution it estimates the HDI; for a multimodal one,
    the shortest single interval of that mass.
    """
    ordered = np.sort(samples, axis=0)
    T = ordered.shape[0]
    k = int(np.floor(prob * T))
    start = np.argmin(ordered[k:] - ordered[:T - k], axis=0)
    columns = np.arange(ordered.shape[1])
    return ordered[start, columns], ordered[start + k, columns]


def network(h, coefs, intercepts, p, rng=None):
    r"""Output of the ReLU network for standardized rows ``h`` (a fresh array, changed in place).

    With ``rng``, every unit of every row gets its own keep mask
    :math:`m \sim \mathrm{Bernoulli}(1-p)` drawn from it, layer by layer;
    the inverted-dropout factor :math:`1/(1-p)` is applied after the
    product, :math:`(m\odot h / (1-p))\,W = ((m\odot h)\,W) / (1-p)`, so
    the weights are never copied. Without ``rng``, the plain network.
    """
    keep = 1.0 - p
    dropping = rng is not None and p > 0
    scale = h.dtype.type(1.0 / keep)
    last = len(coefs) - 1
    for k, (W, b) in enumerate(zip(coefs, intercepts)):
        if dropping:
            # float32 uniforms: half the cost of float64, P(keep) off by < 6e-8
            h *= rng.random(h.shape, dtype=np.float32) < keep
        h = h @ W
        if dropping:
            h *= scale
        h += b
        if k < last:
            np.maximum(h, 0.0, out=h)
    return h[:, 0]


def sample_passes(Xs, T, seed, coefs, intercepts, p):
    """(T, n) stochastic passes for standardized rows ``Xs``, T chunked to bound memory.

    Row ``t * n + i`` of a chunk's tiled input is pass ``t`` of point ``i``:
    one matrix product per layer for the whole chunk. The masks come from a
    Generator seeded by ``seed`` and owned by this call, so concurrent
    calls neither share state nor wait for each other (NumPy releases the
    GIL in the products and in the random fills).
    """
    rng = np.random.default_rng(seed)
    n = Xs.shape[0]
    width = max(W.shape[0] for W in coefs)
    chunk = max(1, min(T, _MAX_CHUNK_ELEMENTS // max(1, n * width)))
    out = np.empty((T, n), dtype=np.float64)
    for start in range(0, T, chunk):
        t = min(chunk, T - start)
        passes = network(np.tile(Xs, (t, 1)), coefs, intercepts, p, rng)
        out[start:start + t] = passes.reshape(t, n)
    return out
