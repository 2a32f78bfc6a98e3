"""Training of the MC-dropout network: Glorot initialization and minibatch Adam on PyTensor.

The compiled Adam step takes the parameters, the optimizer's moments *and the dropout masks*
as inputs: it holds no state, so one compilation serves every estimator with the same number
of layers and dtype (cached per process). The masks are drawn in NumPy from the fit's own
Generator, so each estimator has its own random stream. A compiled function's input and
output storage belong to it (two threads calling one function fail: "expected an ndarray,
not None"), so each fit runs its own copy of the cached program (``Function.copy``: new
storage, no new compile; 16 ms against 1 to 3 s of compiling): fits in threads run side by
side, with no lock, and a seeded fit gives the same numbers alone or beside others.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np
import pytensor
import pytensor.tensor as pt

from .layers import inverted_dropout

__all__ = ["glorot_init", "step_function", "train"]

# Adam's constants (Kingma & Ba's defaults, as in Keras).
_BETA1, _BETA2, _EPS = 0.9, 0.999, 1e-8


def _forward(x, params, masks, p):
    """The training network: inverted dropout with the given keep masks before every layer."""
    n_layers = len(params) // 2
    h = x
    for k in range(n_layers):
        W, b = params[2 * k], params[2 * k + 1]
        h = pt.dot(inverted_dropout(h, masks[k], p), W) + b
        if k < n_layers - 1:
            h = pt.maximum(h, 0.0)
    return h[:, 0]


def _adam_graph(n_layers, dtype):
    """Inputs and outputs of one Adam step on MSE + weight decay, for a minibatch and masks."""
    params = []
    for k in range(n_layers):
        params += [pt.matrix(f"W{k}", dtype=dtype), pt.vector(f"b{k}", dtype=dtype)]
    masks = [pt.matrix(f"mask{k}", dtype=dtype) for k in range(n_layers)]
    xb, yb = pt.matrix("xb", dtype=dtype), pt.vector("yb", dtype=dtype)
    p, lr, wd = (pt.scalar(name, dtype=dtype) for name in ("p", "lr", "wd"))
    step = pt.scalar("step", dtype=dtype)  # Adam step count, 1-based
    ms = [pt.tensor(f"m{i}", dtype=dtype, shape=q.type.shape) for i, q in enumerate(params)]
    vs = [pt.tensor(f"v{i}", dtype=dtype, shape=q.type.shape) for i, q in enumerate(params)]
    loss = (pt.mean((yb - _forward(xb, params, masks, p)) ** 2)
            + wd * sum(pt.sum(params[2 * k] ** 2) for k in range(n_layers)))
    grads = pytensor.grad(loss, params)
    corr = lr * pt.sqrt(1.0 - _BETA2**step) / (1.0 - _BETA1**step)
    new_p, new_m, new_v = [], [], []
    for q, g, m, v in zip(params, grads, ms, vs):
        m2 = _BETA1 * m + (1.0 - _BETA1) * g
        v2 = _BETA2 * v + (1.0 - _BETA2) * g**2
        # Python-float constants upcast float32 graphs; cast back so outputs can be fed in
        new_m.append(pt.cast(m2, dtype))
        new_v.append(pt.cast(v2, dtype))
        new_p.append(pt.cast(q - corr * m2 / (pt.sqrt(v2) + _EPS), dtype))
    inputs = [xb, yb, *masks, p, lr, wd, step, *params, *ms, *vs]
    return inputs, [loss, *new_p, *new_m, *new_v]


@lru_cache(maxsize=None)
def _compiled_step(n_layers, dtype):
    """The Adam step for ``n_layers`` layers, compiled once per process (about a second)."""
    inputs, outputs = _adam_graph(n_layers, dtype)
    with warnings.catch_warnings():
        # PyTensor warns once that it "could not link to a BLAS installation" when pip
        # installed it: NumPy's and SciPy's wheels carry OpenBLAS only under prefixed
        # symbols (scipy_dgemm_), which PyTensor's C code cannot link, and a pip install has
        # no other BLAS. Its C products are then plain loops. Measured on the project's VM
        # (one training step, batch 128, against PyTensor's numba backend, which calls
        # SciPy's BLAS): equal at 50 hidden units (Gal's and the UCI benchmark's width);
        # 2.9x slower at 400; the numba build costs 3 to 12 s of compile instead of 1.2 s.
        # Prediction (the T passes) runs in NumPy, with its BLAS. So the warning names no
        # action a user can take, and it is silenced here, for this compile only.
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS",
                                category=UserWarning)
        return pytensor.function(inputs, outputs, on_unused_input="ignore")


def step_function(n_layers, dtype):
    """A private copy of the cached compiled step: its own storage, safe beside other fits."""
    return _compiled_step(n_layers, dtype).copy()


def glorot_init(widths, rng, dtype):
    """Glorot-uniform weights and zero biases (the Keras defaults Gal used), ``[W0, b0, ...]``."""
    params = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        lim = math.sqrt(6.0 / (fan_in + fan_out))
        params.append(rng.uniform(-lim, lim, size=(fan_in, fan_out)).astype(dtype))
        params.append(np.zeros(fan_out, dtype=dtype))
    return params


def train(Xs, ys, params, *, p, weight_decay, epochs, batch_size, learning_rate,
          learning_rate_decay, order_rng, mask_rng, progress=None):
    """Minibatch Adam from ``params``; returns ``(params, mean loss per epoch)``.

    Every epoch visits the rows in an order drawn from ``order_rng``; every example of every
    step gets fresh keep masks from ``mask_rng`` on the inputs and on every hidden layer.
    ``progress(epochs_done, epochs)`` is called after every epoch.
    """
    n = Xs.shape[0]
    n_par = len(params)
    dt = Xs.dtype.type
    fn = step_function(n_par // 2, Xs.dtype.name)
    widths = [W.shape[0] for W in params[0::2]]
    ms = [np.zeros_like(q) for q in params]
    vs = [np.zeros_like(q) for q in params]
    bs = min(int(batch_size), n)
    keep, p_c, wd_c = 1.0 - p, dt(p), dt(weight_decay)
    step = 0
    losses = np.empty(int(epochs))
    for epoch in range(int(epochs)):
        lr = dt(learning_rate / (1.0 + learning_rate_decay * epoch))
        perm = order_rng.permutation(n)
        total = 0.0
        for start in range(0, n, bs):
            idx = perm[start:start + bs]
            step += 1
            # float32 uniforms: half the cost of float64, P(keep) off by < 6e-8
            masks = [(mask_rng.random((len(idx), w), dtype=np.float32) < keep).astype(Xs.dtype)
                     for w in widths]
            out = fn(Xs[idx], ys[idx], *masks, p_c, lr, wd_c, dt(step), *params, *ms, *vs)
            total += float(out[0]) * len(idx)
            params = out[1:1 + n_par]
            ms = out[1 + n_par:1 + 2 * n_par]
            vs = out[1 + 2 * n_par:]
        losses[epoch] = total / n
        if progress is not None:
            progress(epoch + 1, int(epochs))
    return [np.asarray(q) for q in params], losses
