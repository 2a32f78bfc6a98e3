"""``MCDropoutRegressor``: the scikit-learn estimator, its predictions, save and load."""

from __future__ import annotations

import json
import math
import numbers
import time
import warnings

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import RANGES as CORE_RANGES
from .._validation import InputError, Range, check_param, check_X, check_Xy
from .layers import hdi, mixture_normal_quantile, network, sample_passes
from .result import DropoutResult, PredictiveSummary
from .training import glorot_init, train

__all__ = ["HDI_PROB", "MCDropoutRegressor", "interval_mass"]

# Upper bound on T * rows of pass values held at once by predict & co. (~8 MB;
# the mixture quantiles keep a few temporaries of that size).
_MAX_BLOCK_PASSES = 1_000_000
# The fitted state that save() writes besides the arrays, and load() restores.
_FITTED_SCALARS = ("weight_decay_", "y_mean_", "y_scale_", "n_features_in_", "dropout_",
                   "tau_", "_pred_seed")


#: The ranges of MCDropoutRegressor's numeric parameters: what ``check_params`` enforces and
#: what the service publishes (the service caps some further: epochs, batch size, passes).
RANGES = {
    "dropout": Range(0, 1, high_open=True),
    "tau": Range(0, low_open=True),
    "length_scale": Range(0),
    "epochs": Range(1, kind="int"),
    "batch_size": Range(1, kind="int"),
    "learning_rate": Range(0, low_open=True),
    "mc_samples": Range(1, kind="int"),
    "weight_decay": Range(0),
    "learning_rate_decay": Range(0),
}


def _check_real(name, value, low=None, high=None, low_open=False, high_open=False):
    return check_param(name, value, low=low, high=high, low_open=low_open, high_open=high_open)


def _check_int(name, value, low):
    return check_param(name, value, kind="int", low=low)


def _check_hidden(hidden):
    if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
        raise InputError("hidden", f"hidden must be a tuple of positive ints, got {hidden!r}; "
                         f"use ({hidden},)", prefix=False)
    try:
        hidden_t = tuple(hidden)
    except TypeError:
        raise InputError("hidden", f"hidden must be a tuple of positive ints, got {hidden!r}",
                         prefix=False) from None
    for h in hidden_t:
        if isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 1:
            raise InputError("hidden", f"hidden must be a tuple of positive ints, got {hidden!r}",
                             prefix=False)
    return tuple(int(h) for h in hidden_t)


#: The default mass of MC dropout's intervals (HDIs), in Python and over HTTP.
HDI_PROB = 0.95


def interval_mass(hdi_prob, prob, method):
    """``(mass, central)`` of an interval request to ``method``: ``hdi_prob`` asks for HDIs
    (none given: :data:`HDI_PROB`, with a ``FutureWarning`` that the default changed); the
    deprecated ``prob`` (a ``FutureWarning`` at the
    caller's caller) for the central intervals that ``method`` returned before. Shared by
    :class:`MCDropoutRegressor` and the HTTP client's ``DropoutFit``."""
    if prob is None:
        if hdi_prob is None:
            # the default changed (central before, HDIs now): loud until callers choose
            warnings.warn(f"{method}() now returns highest-density intervals at hdi_prob="
                          f"{HDI_PROB} by default; it returned central intervals before. Pass "
                          f"hdi_prob= to choose (and silence this), or the deprecated prob= "
                          f"for the former central intervals", FutureWarning, stacklevel=3)
            hdi_prob = HDI_PROB
        return CORE_RANGES["hdi_prob"].check("hdi_prob", hdi_prob), False
    if hdi_prob is not None:
        raise InputError("prob", "give hdi_prob, or the deprecated prob, not both")
    warnings.warn(f"{method}(prob=) is deprecated and will be removed; it gives the former "
                  f"central intervals: use hdi_prob= for highest-density intervals",
                  FutureWarning, stacklevel=3)
    return CORE_RANGES["hdi_prob"].check("prob", prob), True


def _standardization(X, y, standardize):
    """``(x_mean, x_scale, y_mean, y_scale)``: training mean and population sd, or the identity.

    Columns (and a y) with zero spread are left unscaled."""
    if not standardize:
        return np.zeros(X.shape[1]), np.ones(X.shape[1]), 0.0, 1.0
    x_mean, x_scale = X.mean(axis=0), X.std(axis=0)
    y_mean, y_scale = float(y.mean()), float(y.std())
    return x_mean, np.where(x_scale > 0, x_scale, 1.0), y_mean, y_scale if y_scale > 0 else 1.0


def _interval_class():
    """The estimator's :class:`~bayesreg.estimator.PredictiveInterval`, with ``lower`` and
    ``upper`` as deprecated aliases of ``obs_low`` and ``obs_high`` (MC dropout's former
    interval fields). Built on first use: ``bayesreg.estimator`` imports ArviZ and PyMC."""
    cls = globals().get("_AliasedInterval")
    if cls is None:
        from ..estimator import PredictiveInterval
        from .result import _deprecated_alias

        cls = type("_AliasedInterval", (PredictiveInterval,), {
            "__slots__": (), "__module__": __name__,
            "lower": _deprecated_alias("PredictiveInterval.lower", "obs_low"),
            "upper": _deprecated_alias("PredictiveInterval.upper", "obs_high")})
        cls.__name__ = "PredictiveInterval"  # its repr; pickle finds it by __qualname__
        globals()["_AliasedInterval"] = cls
    return cls


def __getattr__(name):  # PEP 562: an unpickled interval finds its class in a fresh process
    if name == "_AliasedInterval":
        return _interval_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class MCDropoutRegressor(RegressorMixin, BaseEstimator):
    r"""Regression with uncertainty from Monte Carlo dropout (Gal & Ghahramani 2016).

    A ReLU multilayer perceptron with inverted dropout on its inputs and on
    every hidden layer, trained with minibatch Adam; at prediction dropout
    stays on and ``mc_samples`` stochastic passes :math:`\hat y_t(x)` are
    averaged.

    **Model.** With keep masks :math:`m^{(k)}_j \sim \mathrm{Bernoulli}(1-p)`,

    .. math::

        h^{(0)} = x,\qquad
        h^{(k)} = \mathrm{ReLU}\Big(\tfrac{m^{(k)}\odot h^{(k-1)}}{1-p} W_k + b_k\Big),
        \qquad \hat y = \tfrac{m^{(L)}\odot h^{(L-1)}}{1-p} W_{L} + b_{L}.

    ``hidden=()`` gives a linear model with dropout on its inputs.

    **Training loss** (on standardized data when ``standardize``), for a
    minibatch :math:`B`, exactly as in Gal's Keras code (Keras
    ``mean_squared_error`` plus an ``l2(lambda)`` penalty on every weight
    matrix, none on the biases):

    .. math::

        \mathcal L = \frac1{|B|}\sum_{i\in B}\big(y_i - \hat y_i\big)^2
          + \lambda \sum_{k} \lVert W_k\rVert_F^2,
        \qquad \lambda = \frac{l^2 (1-p)}{2 N \tau},

    with :math:`N` the number of training points and :math:`l` =
    ``length_scale``. ``weight_decay`` overrides :math:`\lambda` (``0.0``
    switches the penalty off). Masks are redrawn for every example and step.
    Adam uses :math:`\beta_1=0.9, \beta_2=0.999, \epsilon=10^{-8}`; the step
    size at epoch :math:`e` (0-based) is
    ``learning_rate / (1 + learning_rate_decay * e)``.

    **Predictive.** The MC predictive is the equal-weight Gaussian mixture
    :math:`\frac1T\sum_t \mathcal N(\hat y_t(x), \tau^{-1})`, with mean
    :math:`\bar y = \frac1T\sum_t\hat y_t` and variance

    .. math::

        \operatorname{Var}[y\mid x] = \tau^{-1} + \frac1T\sum_t \hat y_t^2 - \bar y^2 .

    ``tau`` is the model precision **in the units of the original y**
    (as in the UCI protocol of Gal & Ghahramani): the predictive noise
    variance is ``1/tau`` on the original scale, whatever ``standardize``
    does internally, and the same ``tau`` enters :math:`\lambda`.

    Parameters
    ----------
    hidden : tuple of int, default (50,)
        Widths of the hidden layers; ``()`` for a linear model.
    dropout : float in [0, 1), default 0.05
        Drop probability :math:`p` (inputs and every hidden layer).
    tau : float > 0, default 1.0
        Model precision (original units of y).
    length_scale : float >= 0, default 1e-2
        Prior length-scale :math:`l` of the weight-decay formula.
    epochs : int >= 1, default 400
    batch_size : int >= 1, default 128
        Capped at the number of training points; the last minibatch of an
        epoch may be smaller.
    learning_rate : float > 0, default 1e-3
        Adam step size.
    mc_samples : int >= 1, default 10000
        Number :math:`T` of stochastic passes at prediction.
    standardize : bool, default True
        Standardize X (columns with zero spread are left unscaled) and y with
        training mean and population standard deviation; predictions are
        mapped back to the original scale.
    seed : int >= 0, numpy Generator or None
        Seeds initialization, minibatch order, dropout masks at training, and
        the masks at prediction; the estimator's own random streams, so fits
        in threads neither share nor wait for one (a seeded fit gives the
        same numbers alone or beside others). A fitted model predicts
        deterministically: every prediction call with the same X reuses the
        same masks, so ``predict``, ``predict_interval`` and
        ``log_likelihood`` agree.
    random_state : deprecated
        Former name of ``seed``, used when ``seed`` is None (a ``FutureWarning`` at
        ``fit`` when set).
    weight_decay : float >= 0 or None, default None
        Override of :math:`\lambda`; ``None`` uses the formula above.
    learning_rate_decay : float >= 0, default 0.0
        Inverse-time decay of the step size per epoch (0 = constant).
    dtype : {"float64", "float32"}, default "float64"
        Floating point type of the compiled graphs.

    Attributes
    ----------
    coefs_ : list of ndarray
        Weight matrices :math:`W_k` (on the standardized scale).
    intercepts_ : list of ndarray
        Bias vectors :math:`b_k`.
    weight_decay_ : float
        The :math:`\lambda` used.
    loss_curve_ : ndarray
        Mean training loss per epoch.
    x_mean_, x_scale_, y_mean_, y_scale_ : standardization statistics.
    n_features_in_ : int
    result_ : DropoutResult
        The fit's summary (see :meth:`to_dict`), saved with the estimator: it cannot be
        recomputed from the weights.
    """

    def __init__(
        self,
        hidden=(50,),
        dropout=0.05,
        tau=1.0,
        length_scale=1e-2,
        epochs=400,
        batch_size=128,
        learning_rate=1e-3,
        mc_samples=10000,
        standardize=True,
        seed=None,
        weight_decay=None,
        learning_rate_decay=0.0,
        dtype="float64",
        random_state=None,
    ):
        self.hidden = hidden
        self.dropout = dropout
        self.tau = tau
        self.length_scale = length_scale
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.mc_samples = mc_samples
        self.standardize = standardize
        self.seed = seed
        self.weight_decay = weight_decay
        self.learning_rate_decay = learning_rate_decay
        self.dtype = dtype
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # each row gets its own dropout masks: reordering or subsetting rows changes the draws
        tags.non_deterministic = True
        return tags

    # ------------------------------------------------------------------
    def check_params(self):
        """Check every parameter, as :meth:`fit` does first: raises :class:`InputError` naming
        the first bad one; returns ``(hidden, p, tau, length_scale, seed)`` with the seed
        resolved from the alias. Public so that a front end (the service) refuses a request at
        its door by these rules, not a copy of them."""
        hidden = _check_hidden(self.hidden)
        p = RANGES["dropout"].check("dropout", self.dropout)
        tau = RANGES["tau"].check("tau", self.tau)
        ls = RANGES["length_scale"].check("length_scale", self.length_scale)
        for name in ("epochs", "batch_size", "learning_rate", "mc_samples",
                     "learning_rate_decay"):
            RANGES[name].check(name, getattr(self, name))
        if not isinstance(self.standardize, (bool, np.bool_)):
            raise InputError("standardize", f"standardize must be a bool, got {self.standardize!r}",
                             prefix=False)
        if self.weight_decay is not None:
            RANGES["weight_decay"].check("weight_decay", self.weight_decay)
        if self.dtype not in ("float64", "float32"):
            raise InputError("dtype", f"dtype must be 'float64' or 'float32', got {self.dtype!r}",
                             prefix=False)
        return hidden, p, tau, ls, self._resolve_seed()

    def _resolve_seed(self):
        """The SeedSequence of a fit: from ``seed``, else from the deprecated ``random_state``.

        ``seed`` wins when both are set (scikit-learn's test utilities set ``random_state`` on
        any estimator that has it)."""
        name, seed = "seed", self.seed
        if self.random_state is not None:
            ignored = "; ignored, as seed is set" if seed is not None else ""
            warnings.warn("MCDropoutRegressor(random_state=) is deprecated and will be removed; "
                          f"use seed={ignored}", FutureWarning, stacklevel=4)
            if seed is None:
                name, seed = "random_state", self.random_state
        if not (seed is None or isinstance(seed, np.random.Generator)
                or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool)
                    and seed >= 0)):
            raise InputError(name, f"{name} must be None, a non-negative int or a numpy "
                             f"Generator, got {seed!r}", prefix=False)
        if isinstance(seed, np.random.Generator):
            return np.random.SeedSequence(int(seed.integers(2**63)))
        return np.random.SeedSequence(seed)

    def fit(self, X, y, progress=None, evaluate=False):
        """Train the network with dropout by minibatch Adam.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        progress : callable or None
            Called as ``progress(epochs_done, epochs_total)`` after every epoch
            (it does not touch the random streams, so results are unchanged).
        evaluate : bool, default False
            Also evaluate the fit on its training data for :attr:`result_` (``train_rmse``,
            ``log_likelihood_train``, None without it): one set of ``mc_samples`` passes
            over the training rows, the cost of one :meth:`predict`, so not paid unasked
            (500 rows, 50 units, the default 10,000 passes: 4.9 s, against 0.4 s for
            400 epochs of training).

        Returns
        -------
        self
        """
        hidden, p, tau, ls, seed_seq = self.check_params()
        if y is None:
            raise InputError("y", "requires y to be passed, but the target y is None")
        X, y = check_Xy(X, y)
        n, d = X.shape
        x_mean, x_scale, y_mean, y_scale = _standardization(X, y, self.standardize)
        Xs = ((X - x_mean) / x_scale).astype(self.dtype)
        ys = ((y - y_mean) / y_scale).astype(self.dtype)
        wd = ls**2 * (1.0 - p) / (2.0 * n * tau) if self.weight_decay is None else float(
            self.weight_decay)
        init_ss, order_ss, mask_ss, pred_ss = seed_seq.spawn(4)
        start = time.perf_counter()
        params, losses = train(
            Xs, ys, glorot_init((d, *hidden, 1), np.random.default_rng(init_ss), self.dtype),
            p=p, weight_decay=wd, epochs=self.epochs, batch_size=self.batch_size,
            learning_rate=self.learning_rate, learning_rate_decay=self.learning_rate_decay,
            order_rng=np.random.default_rng(order_ss), mask_rng=np.random.default_rng(mask_ss),
            progress=progress)
        if not np.all(np.isfinite(params[-2])):
            raise FloatingPointError("training diverged (non-finite weights); lower learning_rate")
        trained = time.perf_counter()
        self.coefs_, self.intercepts_ = params[0::2], params[1::2]
        self.loss_curve_, self.weight_decay_ = losses, wd
        self.x_mean_, self.x_scale_, self.y_mean_, self.y_scale_ = x_mean, x_scale, y_mean, y_scale
        self.n_features_in_, self.hidden_, self.dropout_, self.tau_ = d, hidden, p, tau
        self._pred_seed = int(pred_ss.generate_state(1)[0])
        rmse, loglik = self._evaluate(X, y) if evaluate else (None, None)
        self.result_ = DropoutResult(
            train_rmse=rmse, log_likelihood_train=loglik, final_loss=float(losses[-1]), tau=tau,
            dropout=p, weight_decay=wd, hidden=hidden, n_features=d, n_samples=n,
            epochs=int(self.epochs), mc_samples=int(self.mc_samples),
            timing={"train_s": trained - start,
                    "evaluate_s": time.perf_counter() - trained if evaluate else None})
        return self

    def _evaluate(self, X, y):
        """RMSE of the MC mean and mean log-likelihood of the mixture, from one set of passes
        (the draws of :meth:`predict` and :meth:`log_likelihood`, so the same numbers)."""
        sq, ll = 0.0, 0.0
        for sl, s in self._blocks(X):
            sq += float(((y[sl] - s.mean(axis=0)) ** 2).sum())
            ll += float(self._log_density(s, y[sl]).sum())
        return math.sqrt(sq / len(y)), ll / len(y)

    def to_dict(self):
        """The fit's :class:`DropoutResult` as a JSON-safe dict (what the service stores)."""
        check_is_fitted(self, "result_")
        return self.result_.to_dict()

    # ------------------------------------------------------------------
    def save(self, path):
        """Write the fitted estimator to one ``.npz`` file at ``path`` (the name is kept as given).

        The file holds the weight arrays, the standardization statistics, the
        loss curve, and a JSON string of ``get_params()`` and the fitted scalars
        (among them the prediction seed): what :meth:`load` needs to restore an
        estimator whose predictions are bit-for-bit the same, and the fit's ``result_``. No
        pickles: a file from an untrusted source cannot run code. A ``seed``
        Generator is stored as ``None`` (it only matters for a new ``fit``).
        """
        check_is_fitted(self, "coefs_")
        params = self.get_params()
        params["hidden"] = [int(h) for h in params["hidden"]]
        seed = self.seed if self.random_state is None else self.random_state
        generator = isinstance(seed, np.random.Generator)
        params["seed"] = None if seed is None or generator else int(seed)
        params["random_state"] = None
        fitted = {}
        for name in _FITTED_SCALARS:
            value = getattr(self, name)
            fitted[name] = int(value) if isinstance(value, numbers.Integral) else float(value)
        fitted["hidden_"] = [int(h) for h in self.hidden_]
        # The fit's result (its final loss, training scores, timing) cannot be recomputed from
        # the weights, unlike a regression's summary (recomputed from its draws): a saved
        # estimator keeps it, so `save` loses nothing the fit computed.
        result = self.result_.to_dict() if hasattr(self, "result_") else None
        meta = {"format": "bayesreg.MCDropoutRegressor", "version": 2,
                "params": params, "fitted": fitted, "result": result}
        arrays = {"x_mean": self.x_mean_, "x_scale": self.x_scale_, "loss_curve": self.loss_curve_}
        for k, (W, b) in enumerate(zip(self.coefs_, self.intercepts_)):
            arrays[f"W{k}"], arrays[f"b{k}"] = W, b
        with open(path, "wb") as fh:  # a file object: np.savez would append ".npz" to a name
            np.savez(fh, meta=np.asarray(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path):
        """Read an estimator written by :meth:`save` (also version 1 files, whose seed was
        saved as ``random_state`` and which held no ``result_``)."""
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != "bayesreg.MCDropoutRegressor":
                raise InputError("path", f"{path} is not a saved MCDropoutRegressor",
                                 prefix=False)
            params = dict(meta["params"], hidden=tuple(meta["params"]["hidden"]))
            if "seed" not in params:
                params["seed"] = params.pop("random_state", None)
            params["random_state"] = None
            est = cls(**params)
            fitted = meta["fitted"]
            n_layers = len(fitted["hidden_"]) + 1
            est.coefs_ = [data[f"W{k}"].copy() for k in range(n_layers)]
            est.intercepts_ = [data[f"b{k}"].copy() for k in range(n_layers)]
            est.x_mean_, est.x_scale_ = data["x_mean"].copy(), data["x_scale"].copy()
            est.loss_curve_ = data["loss_curve"].copy()
        for name in _FITTED_SCALARS:
            setattr(est, name, fitted[name])
        est.hidden_ = tuple(fitted["hidden_"])
        if meta.get("result") is not None:  # not in version 1 files
            r = meta["result"]
            est.result_ = DropoutResult(**dict(r, hidden=tuple(r["hidden"])))
        return est

    # ------------------------------------------------------------------
    def _prep_X(self, X):
        check_is_fitted(self, "coefs_")
        X = check_X(X, self.n_features_in_, type(self).__name__)
        return ((X - self.x_mean_) / self.x_scale_).astype(self.dtype)

    def _blocks(self, X, n_samples=None, seed=None):
        """Yield ``(row slice, (T, rows) passes)`` over row blocks of X.

        Blocks hold at most ``_MAX_BLOCK_PASSES`` values so that summaries
        (mean, variance, quantiles, log-likelihood) of many test points never
        materialize the full (T, n) matrix. Block 0 uses the mask seed itself,
        block b > 0 a seed spawned from (seed, b), so draws do not repeat
        across blocks and a given X always gets the same draws.
        """
        Xs = self._prep_X(X)
        T = _check_int("n_samples", self.mc_samples if n_samples is None else n_samples, 1)
        seed = self._mask_seed(seed)
        rows = max(1, _MAX_BLOCK_PASSES // T)
        for b, start in enumerate(range(0, Xs.shape[0], rows)):
            sl = slice(start, min(start + rows, Xs.shape[0]))
            bseed = seed if b == 0 else int(np.random.SeedSequence([seed, b]).generate_state(1)[0])
            yield sl, self._sample_rows(Xs[sl], T, bseed)

    def _mask_seed(self, seed):
        """The seed of the masks: the one fixed at ``fit`` for None, else one derived from
        ``seed``."""
        if seed is None:
            return self._pred_seed
        return int(np.random.SeedSequence(seed).generate_state(1)[0])

    def _noise(self, mask_seed, block, shape):
        """One draw of the observation noise N(0, 1/tau) per pass, for row block ``block``:
        its own stream, seeded apart from the masks' (``[mask_seed, block, 1]``)."""
        rng = np.random.default_rng([mask_seed, block, 1])
        return rng.standard_normal(shape) / math.sqrt(self.tau_)

    def _sample_rows(self, Xs, T, seed):
        """(T, rows) passes on the original scale of y for standardized rows ``Xs``."""
        passes = sample_passes(Xs, T, seed, self.coefs_, self.intercepts_, self.dropout_)
        return passes * self.y_scale_ + self.y_mean_

    def sample_predictions(self, X, n_samples=None, seed=None, random_state=None, noise=False):
        r"""Draw ``n_samples`` stochastic forward passes :math:`\hat y_t(x_i)`.

        All passes are computed as batched tensor operations (masks of shape
        ``(T_chunk * n, width)``, one GEMM per layer for a whole chunk of
        passes), in chunks that bound memory. The result itself is a dense
        ``(T, n)`` array; :meth:`predict` and friends summarize block by
        block instead and use exactly the same draws.

        Parameters
        ----------
        X : array-like of shape (n, n_features)
        n_samples : int, default ``mc_samples``
        seed : int or None
            Seed for the masks; ``None`` uses the seed fixed at ``fit``, so
            repeated calls return identical draws.
        random_state : deprecated
            Former name of ``seed``.
        noise : bool, default False
            Add to each pass one draw of the observation noise
            :math:`\varepsilon_t \sim \mathcal N(0, \tau^{-1})`: draws from the predictive
            mixture of a new observation, the draws whose HDI is the observation band of
            :meth:`predict_interval`.

        Returns
        -------
        ndarray of shape (n_samples, n)
            Passes on the original scale of y (with ``noise``, plus the noise).
        """
        if random_state is not None:
            warnings.warn("sample_predictions(random_state=) is deprecated and will be removed; "
                          "use seed=", FutureWarning, stacklevel=2)
            seed = random_state if seed is None else seed
        mask_seed = self._mask_seed(seed)
        parts = [s + self._noise(mask_seed, b, s.shape) if noise else s
                 for b, (_, s) in enumerate(self._blocks(X, n_samples, seed))]
        return np.concatenate(parts, axis=1)

    def predict(self, X, return_std=False):
        r"""MC-dropout predictive mean (and sd) on the original scale of y.

        .. math::

            \bar y(x) = \frac1T\sum_{t=1}^T \hat y_t(x),\qquad
            \mathrm{sd}(x) = \Big(\tau^{-1} + \frac1T\sum_t (\hat y_t(x) - \bar y(x))^2\Big)^{1/2}

        with :math:`T` = ``mc_samples``. The variance is computed in the
        two-pass form above, algebraically equal to
        :math:`\tau^{-1} + \overline{\hat y^2} - \bar y^2` but free of
        cancellation.
        """
        means, sds = [], []
        for _, s in self._blocks(X):
            means.append(s.mean(axis=0))
            if return_std:
                sds.append(np.sqrt(1.0 / self.tau_ + s.var(axis=0)))
        if not return_std:
            return np.concatenate(means)
        return np.concatenate(means), np.concatenate(sds)

    def predict_deterministic(self, X):
        """Prediction of the plain network with dropout switched off.

        Because dropout is inverted (survivors scaled by ``1/(1-p)`` during
        training), this is the classical weight-scaling rule with no extra
        factor.
        """
        out = network(self._prep_X(X), self.coefs_, self.intercepts_, self.dropout_)
        return np.asarray(out, dtype=np.float64) * self.y_scale_ + self.y_mean_

    def predict_interval(self, X, prob=None, *, hdi_prob=None):
        r"""HDIs of the network's mean function and of a new observation, at mass ``hdi_prob``.

        Returns the :class:`~bayesreg.PredictiveInterval` of
        :meth:`BayesianRegression.predict_interval <bayesreg.BayesianRegression.predict_interval>`,
        the same fields, the same kind of interval and the same name for its mass:

        * ``mean``: the MC predictive mean, as :meth:`predict`;
        * ``mean_low``, ``mean_high``: the HDI of the ``T`` passes :math:`\hat y_t(x)`
          (the shortest interval holding :math:`\lfloor \text{hdi\_prob}\,T\rfloor + 1`
          of them, as ``az.hdi``), the epistemic spread of the network's mean function;
        * ``obs_low``, ``obs_high``: the HDI of the predictive mixture
          :math:`\frac1T\sum_t\mathcal N(\hat y_t(x), \tau^{-1})`, from one noise draw per
          pass (:meth:`sample_predictions` with ``noise=True``), as BayesianRegression draws
          one noise per posterior draw. The mixture is skewed or multimodal wherever the
          passes are, and its HDI is then shorter than its central interval.

        ``hdi_prob`` (keyword-only) defaults to :data:`HDI_PROB` (0.95).

        Changed: this method used to be ``predict_interval(X, prob=0.95)`` and return central
        (equal-tailed) intervals; with no mass given it now returns HDIs, with a
        ``FutureWarning`` saying so (pass ``hdi_prob=`` to choose and silence it). A mass given as the
        second positional argument, or as ``prob=``, is the deprecated ``prob`` (a
        ``FutureWarning``): it returns the former central intervals, the same numbers (the
        quantiles of the passes, and the exact quantiles of the mixture,
        :func:`mixture_normal_quantile`). ``lower`` and ``upper`` remain as deprecated
        aliases of ``obs_low`` and ``obs_high`` (a ``FutureWarning``), on a subclass of
        :class:`~bayesreg.PredictiveInterval` that adds only them.
        """
        mass, central = interval_mass(hdi_prob, prob, "predict_interval")
        s = self._summaries(X, [(mass, central)])[0]
        return _interval_class()(s.mean, s.mean_low, s.mean_high, s.obs_low, s.obs_high)

    def predict_summary(self, X, prob=None, *, hdi_prob=None, central=False):
        r"""Mean, sd and the intervals of :meth:`predict_interval` (HDIs at ``hdi_prob``, or
        with the deprecated ``prob``, positional as before or by keyword, the former central
        intervals), from one set of passes.

        ``central=True`` gives the former central (equal-tailed) intervals at mass
        ``hdi_prob`` without a warning (see :meth:`predict_summaries`).

        The same numbers as :meth:`predict` with ``return_std=True`` and
        :meth:`predict_interval` (they see the same draws), for the cost of
        one of them: the ``T`` passes are run once per row block and every
        summary is taken from them.

        Returns
        -------
        PredictiveSummary
            Named tuple of arrays ``(mean, sd, mean_low, mean_high, obs_low, obs_high)``.
        """
        mass, was_central = interval_mass(hdi_prob, prob, "predict_summary")
        central = check_param("central", central, kind="bool") or was_central
        return self._summaries(X, [(mass, central)])[0]

    def predict_summaries(self, X, bands):
        """One :class:`PredictiveSummary` per ``(mass, central)`` in ``bands``, all from one
        set of ``T`` passes: HDIs at ``mass`` (None: :data:`HDI_PROB`), or with ``central``
        the central (equal-tailed) intervals, without a warning. For a front end that keeps
        a deprecated field of its own (the HTTP service's flat central fields) beside the
        HDIs and reports the deprecation itself."""
        checked = []
        for mass, central in bands:
            mass = CORE_RANGES["hdi_prob"].check("hdi_prob", HDI_PROB if mass is None else mass)
            checked.append((mass, check_param("central", central, kind="bool")))
        return self._summaries(X, checked)

    def _bands(self, s, b, mass, central):
        """``(mean_low, mean_high, obs_low, obs_high)`` of passes ``s`` of row block ``b``."""
        if central:
            noise, a = 1.0 / math.sqrt(self.tau_), 0.5 * (1.0 - mass)
            return (*np.quantile(s, [a, 1.0 - a], axis=0), mixture_normal_quantile(s, noise, a),
                    mixture_normal_quantile(s, noise, 1.0 - a))
        return (*hdi(s, mass), *hdi(s + self._noise(self._pred_seed, b, s.shape), mass))

    def _summaries(self, X, bands):
        parts = [[] for _ in bands]
        for b, (_, s) in enumerate(self._blocks(X)):
            mean, sd = s.mean(axis=0), np.sqrt(1.0 / self.tau_ + s.var(axis=0))
            for part, (mass, central) in zip(parts, bands):
                part.append((mean, sd, *self._bands(s, b, mass, central)))
        return [PredictiveSummary(*(np.concatenate(c) for c in zip(*part))) for part in parts]

    def _log_density(self, s, y):
        """log of the mixture density at ``y`` (shape (rows,)) for passes ``s`` (T, rows)."""
        tau = self.tau_
        return (logsumexp(-0.5 * tau * (y[None, :] - s) ** 2, axis=0) - math.log(s.shape[0])
                - 0.5 * math.log(2 * math.pi) + 0.5 * math.log(tau))

    def log_likelihood(self, X, y):
        r"""Mean per-point test log-likelihood under the MC predictive mixture.

        .. math::

            \frac1n\sum_i \Big[\operatorname{logsumexp}_t\big(-\tfrac\tau2 (y_i-\hat y_t(x_i))^2\big)
              - \log T - \tfrac12\log 2\pi + \tfrac12\log\tau\Big]

        with y and :math:`\hat y_t` on the original scale.
        """
        Xa, y = check_Xy(X, y)
        total = sum(float(self._log_density(s, y[sl]).sum()) for sl, s in self._blocks(Xa))
        return total / len(y)
