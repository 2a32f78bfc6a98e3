"""Boundary validation: every check names the argument, what is allowed and what was received."""

from __future__ import annotations

import numbers
import unicodedata
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = ["BOUNDS", "Bounds", "InputError", "InputTypeError", "check_Xy", "check_X",
           "check_feature_names", "check_names", "check_param", "check_sigma",
           "check_sigma_resolved", "check_alpha", "check_noise_dof", "check_exact_prior",
           "resolve_feature_names", "resolve_seed", "Range", "RANGES", "SEED_MAX", "MIN_DIAGNOSTIC_DRAWS"]


class Bounds(NamedTuple):
    r"""Largest magnitudes accepted, chosen so that no computation overflows float64.

    With :math:`M \approx 1.8\times10^{308}` the largest double and up to :math:`10^8` rows:

    * ``data``: :math:`|x_{ij}|, |y_i| \le 10^{100}`, so X'X, X'y and y'y are at most
      :math:`n\,10^{200} \le 10^{208}`.
    * ``alpha``: :math:`\alpha \le 10^{100}`: the ridge term :math:`n\alpha e_j^2` added to the
      diagonal of X'X (:math:`e_j^2 \le 10^{200}`, a column's mean square, when standardizing)
      stays :math:`\le 10^{8+100+200} < M`. Far below the bound every coefficient is
      already 0 (lasso) or negligible (ridge).
    * ``sigma_low``, ``sigma_high``: a known :math:`\sigma \in [10^{-50}, 10^{100}]`:
      :math:`\sigma^2 \le 10^{200}` and :math:`\mathrm{rss}/\sigma^2 \le n\,10^{200}/10^{-100}
      = 10^{308} < M`; rescaled by the spread of y (at most :math:`10^{100}`), sigma's square stays
      a normal double (:math:`\ge 10^{-300}`).

    Data whose scale is tiny (columns or y below about :math:`10^{-100}`) can still underflow;
    rescale such data.
    """

    data: float = 1e100
    alpha: float = 1e100
    sigma_low: float = 1e-50
    sigma_high: float = 1e100


#: the bounds every input is checked against (the HTTP service publishes the same)
BOUNDS = Bounds()

#: why each bound exists, for the messages
REASONS = {
    "data": "larger magnitudes overflow X'X and y'y in float64; rescale the data",
    "alpha": "larger penalties overflow n*alpha*x^2 in float64, and far below it every "
             "coefficient is already 0 or negligible",
    "sigma": "sigma^2 and rss/sigma^2 must stay finite in float64 for data within +-1e100",
}


class InputError(ValueError):
    """A bad argument. ``field`` names the argument, so callers (the HTTP service) can point at it."""

    def __init__(self, field: str, message: str, *, prefix: bool = True):
        super().__init__(f"{field}: {message}" if prefix else message)
        self.field = field
        self.message = message


class InputTypeError(InputError, TypeError):
    """Non-numeric data: both a ValueError (our contract) and a TypeError (NumPy's and sklearn's)."""


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_param(name, value, *, kind="real", low=None, high=None, low_open=False,
                high_open=False, choices=None):
    """Validate one scalar hyper-parameter and return it as a Python number or string."""
    if choices is not None:
        if not isinstance(value, str) or value not in choices:
            raise InputError(name, f"must be one of {sorted(choices)}; got {_describe(value)}")
        return value
    if kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise InputError(name, f"must be a boolean; got {_describe(value)}")
        return bool(value)
    integral = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    real = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if kind == "int" and not integral:
        raise InputError(name, f"must be an integer; got {_describe(value)}")
    if kind == "real" and not real:
        raise InputError(name, f"must be a real number; got {_describe(value)}")
    try:
        value = int(value) if kind == "int" else float(value)
    except OverflowError:  # a Python int beyond float64, e.g. 10**400
        raise InputError(name, f"must be a finite number; got an integer too large for float64 "
                               f"({_describe(value)})") from None
    if not np.isfinite(value):
        raise InputError(name, f"must be a finite number; got {value}")
    lo_bad = low is not None and (value <= low if low_open else value < low)
    hi_bad = high is not None and (value >= high if high_open else value > high)
    if lo_bad or hi_bad:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise InputError(name, f"must be in the range {left}{lo}, {hi}{right}; got {value}")
    return value


@dataclass(frozen=True)
class Range:
    """The allowed values of one numeric parameter: one rule, used by the checks below and
    published as JSON Schema by the service."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    kind: str = "real"
    reason: str | None = None  # why the bound is where it is, added to an out-of-range message

    def check(self, name, value):
        try:
            return check_param(name, value, kind=self.kind, low=self.low, high=self.high,
                               low_open=self.low_open, high_open=self.high_open)
        except InputError as exc:
            if self.reason is None or not exc.message.startswith("must be in the range"):
                raise
            raise InputError(name, f"{exc.message}: {self.reason}") from None

    def schema(self) -> dict:
        """The same rule as JSON Schema keywords (the reason as ``x-reason``)."""
        out = {"type": "integer" if self.kind == "int" else "number"}
        if self.reason is not None:
            out["x-reason"] = self.reason
        for bound, open_, closed_key, open_key in ((self.low, self.low_open, "minimum",
                                                    "exclusiveMinimum"),
                                                   (self.high, self.high_open, "maximum",
                                                    "exclusiveMaximum")):
            if bound is not None:
                out[open_key if open_ else closed_key] = bound
        return out


#: The largest seed (NumPy's and nutpie's seeds are 32-bit).
SEED_MAX = 2**32 - 1

#: The fewest draws per chain: ArviZ's rank-normalized split r_hat and ESS need 4.
MIN_DIAGNOSTIC_DRAWS = 4

#: The ranges of BayesianRegression's numeric parameters (alpha and sigma: see BOUNDS; draws,
#: tune and chains have only a lower bound here, the service caps them further).
RANGES = {
    "l1_ratio": Range(0, 1),
    "hdi_prob": Range(0, 1, low_open=True, high_open=True),
    "target_accept": Range(0, 1, low_open=True, high_open=True),
    "seed": Range(0, SEED_MAX, kind="int"),
    "draws": Range(MIN_DIAGNOSTIC_DRAWS, kind="int",
                   reason=f"rank-normalized split r_hat and ESS (ArviZ) need at least "
                          f"{MIN_DIAGNOSTIC_DRAWS} draws per chain, and HDIs from fewer mean "
                          f"nothing"),
    "tune": Range(1, kind="int"),
    "chains": Range(1, kind="int"),
    # the horseshoe priors' scales (bayesreg.horseshoe); expected_nonzero <= p - 1 at fit
    "global_scale": Range(0, low_open=True),
    "expected_nonzero": Range(1, kind="int"),
    "slab_df": Range(0, low_open=True),
    "slab_scale": Range(0, low_open=True),
}


def _cell(name: str, index) -> str:
    """The name of one cell, as a reader writes it: ``X[2][0]``, ``y[5]``."""
    return name + "".join(f"[{int(i)}]" for i in index)


def _ragged_row(values):
    """``(i, width, got)`` of the first row of a list of rows whose length differs from row 0's."""
    if not isinstance(values, (list, tuple)) or not values:
        return None
    lengths = [len(row) if isinstance(row, (list, tuple)) else None for row in values]
    if lengths[0] is None:
        return None
    for i, got in enumerate(lengths):
        if got != lengths[0]:
            return i, lengths[0], got
    return None


def _to_floats(values, name: str, ndim: int) -> np.ndarray:
    """``values`` as a float array, or an InputError saying what is not a number."""
    if hasattr(values, "dtypes") and ndim == 2:  # pandas DataFrame: name the offending column
        from pandas.api.types import is_bool_dtype, is_complex_dtype, is_numeric_dtype

        bad = [str(c) for c, t in values.dtypes.items()
               if not (is_numeric_dtype(t) or is_bool_dtype(t)) or is_complex_dtype(t)]
        if bad:
            raise InputError(name, f"non-numeric column(s) {bad}")
    if hasattr(values, "tocsr") or hasattr(values, "sparse"):  # scipy.sparse or pandas sparse
        raise InputTypeError(name, "sparse input is not supported; pass a dense array "
                                   "(e.g. X.toarray())")
    try:
        raw = np.asarray(values)
        if np.iscomplexobj(raw):
            raise InputError(name, "Complex data not supported; pass real numbers")
        return raw.astype(float, copy=False)
    except OverflowError:  # a Python int beyond float64, e.g. 10**400
        raise InputError(name, "holds an integer outside the floating-point range") from None
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        ragged = _ragged_row(values) if ndim == 2 else None
        if ragged is not None:
            i, width, got = ragged
            got = "a single value" if got is None else got
            raise InputError(f"{name}[{i}]", f"must have {width} values like row 0 ({name} "
                                             f"must be rectangular); got {got}") from None
        raise InputTypeError(name, f"must contain only numbers ({exc})") from None


def _check_shape(arr: np.ndarray, name: str, ndim: int) -> np.ndarray:
    if arr.ndim != ndim:
        if ndim == 2 and arr.ndim == 1:
            raise InputError(name, f"must be 2-D (n_samples, n_features); got a 1-D array of "
                                   f"shape {arr.shape}. Reshape your data with X.reshape(-1, 1) for one "
                                   "feature or X.reshape(1, -1) for one sample")
        if ndim == 1 and arr.ndim == 2 and arr.shape[1] == 1:
            from sklearn.exceptions import DataConversionWarning

            warnings.warn(f"A column-vector {name} was passed when a 1d array was expected; "
                          "it was flattened with ravel()", DataConversionWarning, stacklevel=5)
            arr = arr.ravel()
        else:
            raise InputError(name, f"must be {ndim}-D; got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise InputError(name, f"is empty: 0 sample(s) (shape={arr.shape}) while a minimum of 1 "
                               "is required.")
    if ndim == 2 and arr.shape[1] == 0:
        raise InputError(name, f"has 0 feature(s) (shape={arr.shape}) while a minimum of 1 is "
                               "required.")
    return arr


def _check_cells(arr: np.ndarray, name: str) -> None:
    """Every cell finite and within ``BOUNDS.data``; else an InputError naming the first bad
    cell (``X[i][j]``), its value, and how many are bad in all."""
    bad = ~np.isfinite(arr)
    if bad.any():
        where = np.argwhere(bad)[0]
        value = float(arr[tuple(where)])
        kind = "NaN" if np.isnan(value) else ("inf" if value > 0 else "-inf")
        raise InputError(_cell(name, where), f"must be a finite number; got {kind} "
                                             f"({int(bad.sum())} non-finite value(s) in {name} "
                                             "in all); remove or impute them")
    big = np.abs(arr) > BOUNDS.data
    if big.any():
        where = np.argwhere(big)[0]
        cell = _cell(name, where)
        raise InputError(cell, f"|{cell}| = {abs(float(arr[tuple(where)])):g} exceeds "
                               f"{BOUNDS.data:g} ({int(big.sum())} value(s) of {name} in all): "
                               f"{REASONS['data']}")


def _as_float_matrix(values, name: str, ndim: int) -> np.ndarray:
    arr = _check_shape(_to_floats(values, name, ndim), name, ndim)
    _check_cells(arr, name)
    return arr


def check_X(X, n_features: int | None = None, owner: str = "the model") -> np.ndarray:
    """Return X as a finite 2-D float array, checking its width if ``n_features`` is given."""
    arr = _as_float_matrix(X, "X", 2)
    if n_features is not None and arr.shape[1] != n_features:
        raise InputError("X", f"X has {arr.shape[1]} features, but {owner} is expecting "
                              f"{n_features} features as input", prefix=False)
    return arr


def check_Xy(X, y) -> tuple[np.ndarray, np.ndarray]:
    """Return (X, y) as finite float arrays of matching length."""
    X_arr = check_X(X)
    y_arr = _as_float_matrix(y, "y", 1)
    if X_arr.shape[0] != y_arr.shape[0]:
        raise InputError("y", f"has {y_arr.shape[0]} samples but X has {X_arr.shape[0]}; "
                              "they must match")
    return X_arr, y_arr


def check_alpha(alpha: float) -> float:
    """``alpha`` (already checked >= 0 and finite) within :data:`BOUNDS`."""
    if alpha > BOUNDS.alpha:
        raise InputError("alpha", f"must be <= {BOUNDS.alpha:g}; got {alpha:g}: {REASONS['alpha']}")
    return alpha


def check_sigma(sigma: float) -> float:
    """A known ``sigma`` (already checked > 0 and finite) within :data:`BOUNDS`."""
    if not BOUNDS.sigma_low <= sigma <= BOUNDS.sigma_high:
        raise InputError("sigma", f"must be in the range [{BOUNDS.sigma_low:g}, "
                                  f"{BOUNDS.sigma_high:g}]; got {sigma:g}: {REASONS['sigma']}")
    return sigma


def check_sigma_resolved(sigma: float, y) -> None:
    """A known ``sigma`` must not be below the rounding of y.

    float64 holds each y_i only to about eps |y_i|, so a smaller noise claims a precision the
    data cannot carry; it also puts sigma / spread(y) below eps / 2, where the sampler's
    precisions (n alpha / sigma^2, squared for the Laplace prior) overflow.
    """
    level = np.finfo(float).eps * float(np.max(np.abs(y)))
    if sigma < level:
        raise InputError("sigma", f"must be at least the rounding level of y, eps x max|y| = "
                                  f"{level:.3g}; got {sigma:g}: float64 holds y no more "
                                  f"precisely, so a smaller noise means nothing (leave sigma "
                                  f"null to learn it)")


def check_exact_prior(prior) -> None:
    """``method="exact"`` is the conjugate ridge posterior: refuse any prior with an L1 part.

    The one statement of the rule, for both entry points: the estimator's door check and the
    public pipeline step :func:`bayesreg.pipeline.conjugate_ridge`."""
    if prior.l1_ratio != 0.0:
        raise InputError("method", f"'exact' is the conjugate ridge posterior; prior "
                                   f"{prior.name!r} has no closed form (use 'nuts')")


def resolve_seed(seed) -> int:
    """``seed`` as an int, or a fresh one from the OS's entropy when it is None (an unseeded
    fit; the estimator records it as ``seed_`` so the fit can be repeated)."""
    return int(np.random.SeedSequence().entropy % (SEED_MAX + 1)) if seed is None else int(seed)


def check_noise_dof(n: int, p: int, fit_intercept: bool, flat: bool) -> None:
    """Refuse to learn sigma from too few rows: its posterior needs n - k > 0 degrees of freedom.

    ``k`` counts the intercept and, under the flat prior (``alpha = 0``), the ``p`` coefficients:
    the rule of the conjugate ridge posterior (:mod:`bayesreg.exact`), which holds for any prior.
    At ``n - k <= 0`` the posterior of sigma is improper and a sampler wanders off (sigma 1e8).
    """
    k = int(bool(fit_intercept)) + (p if flat else 0)
    if n - k <= 0:
        terms = " - ".join(t for t in ("1 (the intercept)" if fit_intercept else "",
                                       f"{p} (the coefficients, flat prior alpha = 0)" if flat
                                       else "") if t)
        raise InputError("y", f"{n} sample(s) are too few to learn sigma: its posterior is "
                              f"proper only with n - {terms} > 0; give more rows"
                              + (", a known sigma, or alpha > 0" if flat else " or a known sigma"))


def check_expected_nonzero(p0, p: int) -> None:
    """A horseshoe's guess ``expected_nonzero`` (None, or already an int >= 1) must leave a
    zero among the ``p`` coefficients: the global-scale rule p0 / (p - p0) needs p0 < p."""
    if p0 is not None and not 1 <= p0 <= p - 1:
        raise InputError("expected_nonzero", f"must be in the range [1, p - 1] = [1, {p - 1}] "
                                             f"for X with {p} columns; got {p0}")


def _bad_char(name: str, controls: bool):
    """The first character of ``name`` that a feature name may not hold, and why; or None."""
    for i, ch in enumerate(name):
        if 0xD800 <= ord(ch) <= 0xDFFF:
            return i, ch, "a lone surrogate (not Unicode text: it cannot be encoded as UTF-8)"
        if controls and unicodedata.category(ch) == "Cc":
            return i, ch, "a control character (U+0000-U+001F, U+007F-U+009F)"
    return None


def check_feature_names(names, p: int, controls: bool = False) -> list[str] | None:
    """User-given feature names as strings: one per column of X, all different, and text that
    can be saved (:func:`check_names`); None stays None (the columns get default names)."""
    if names is None:
        return None
    names = [str(f) for f in names]
    if len(names) != p:
        raise InputError("feature_names", f"must have one name per column of X ({p}); got "
                                          f"{len(names)} names")
    first = {}
    for j, name in enumerate(names):
        i = first.setdefault(name, j)
        if i != j:
            raise InputError("feature_names", f"names must be unique; got {_describe(name)} as "
                                              f"both feature_names[{i}] and feature_names[{j}]")
    check_names(names, controls=controls)
    return names


def resolve_feature_names(X, feature_names, p: int) -> list[str]:
    """The names of X's ``p`` columns: ``feature_names`` if given (checked), else a
    DataFrame's column names when they are ``p`` distinct storable strings, else
    ``x0 ... x{p-1}``. Shared by the estimator and the regularization path."""
    if feature_names is not None:
        return check_feature_names(feature_names, p)
    if hasattr(X, "columns"):
        names = [str(c) for c in X.columns]
        if len(set(names)) == p:
            check_names(names, field="X.columns")
            return names
    return [f"x{j}" for j in range(p)]


def check_names(names, field: str = "feature_names", controls: bool = False) -> None:
    """Feature names must be text that can be saved: no lone surrogates (``save`` could not
    encode them), and with ``controls`` no control characters either (the HTTP service stores
    names in NumPy string arrays, which drop trailing NULs, and echoes them in JSON and plots)."""
    for j, name in enumerate(names):
        bad = _bad_char(name, controls)
        if bad is not None:
            i, ch, what = bad
            raise InputError(f"{field}[{j}]", f"must not contain {what}; got {_describe(name)} "
                                              f"with U+{ord(ch):04X} at position {i}")
