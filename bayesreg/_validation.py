"""Boundary validation: every check names the argument, what is allowed and what was received."""

from __future__ import annotations

import numbers
import warnings

import numpy as np

__all__ = ["InputError", "InputTypeError", "check_Xy", "check_X", "check_param"]


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
    value = int(value) if kind == "int" else float(value)
    if not np.isfinite(value):
        raise InputError(name, f"must be finite; got {value}")
    lo_bad = low is not None and (value <= low if low_open else value < low)
    hi_bad = high is not None and (value >= high if high_open else value > high)
    if lo_bad or hi_bad:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise InputError(name, f"must be in the range {left}{lo}, {hi}{right}; got {value}")
    return value


def _as_float_matrix(values, name: str, ndim: int) -> np.ndarray:
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
        arr = raw.astype(float, copy=False)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputTypeError(name, f"must contain only numbers ({exc})") from None
    if arr.ndim != ndim:
        if ndim == 2 and arr.ndim == 1:
            raise InputError(name, f"must be 2-D (n_samples, n_features); got a 1-D array of "
                                   f"shape {arr.shape}. Reshape your data with X.reshape(-1, 1) for one "
                                   "feature or X.reshape(1, -1) for one sample")
        if ndim == 1 and arr.ndim == 2 and arr.shape[1] == 1:
            from sklearn.exceptions import DataConversionWarning

            warnings.warn(f"A column-vector {name} was passed when a 1d array was expected; "
                          "it was flattened with ravel()", DataConversionWarning, stacklevel=4)
            arr = arr.ravel()
        else:
            raise InputError(name, f"must be {ndim}-D; got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise InputError(name, f"is empty: 0 sample(s) (shape={arr.shape}) while a minimum of 1 "
                               "is required.")
    if ndim == 2 and arr.shape[1] == 0:
        raise InputError(name, f"has 0 feature(s) (shape={arr.shape}) while a minimum of 1 is "
                               "required.")
    bad = ~np.isfinite(arr)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(arr[where]) else "inf"
        loc = f"[{where[0]}]" if ndim == 1 else f"[{where[0]}][{where[1]}]"
        raise InputError(name, f"contains {kind} at {name}{loc} ({int(bad.sum())} non-finite "
                               "value(s) in all); remove or impute them")
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
