"""The typed results of MC dropout: a fit's summary and the one-pass predictive summary."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

__all__ = ["DropoutResult", "PredictiveSummary"]


def _json_number(value):
    """A float for JSON: NaN and infinities (a diverged evaluation) as None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class DropoutResult:
    """What a fit of :class:`~bayesreg.dropout.MCDropoutRegressor` learned, and how well.

    ``train_rmse`` and ``log_likelihood_train`` are the root mean squared error of the MC
    predictive mean and the mean per-point log-likelihood of the MC predictive mixture on the
    training data, from one set of ``mc_samples`` passes (None unless ``fit`` was called with
    ``evaluate=True``). ``final_loss`` is the last epoch's mean training loss (standardized
    scale, with the weight decay). ``tau``, ``dropout``, ``weight_decay`` and ``hidden`` are
    the values used; ``n_features`` and ``n_samples`` the training data's shape. ``timing``
    holds ``train_s`` (training) and ``evaluate_s`` (the evaluation; None without it), in
    seconds of wall time.
    """

    train_rmse: float | None
    log_likelihood_train: float | None
    final_loss: float
    tau: float
    dropout: float
    weight_decay: float
    hidden: tuple[int, ...]
    n_features: int
    n_samples: int
    epochs: int
    mc_samples: int
    timing: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-safe: numbers as floats or ints, non-finite ones as None (the HTTP resource's
        ``result``, with ``timing`` beside it)."""
        out = {key: _json_number(getattr(self, key)) for key in (
            "train_rmse", "log_likelihood_train", "final_loss", "tau", "dropout", "weight_decay")}
        out["hidden"] = [int(h) for h in self.hidden]
        for key in ("n_features", "n_samples", "epochs", "mc_samples"):
            out[key] = int(getattr(self, key))
        out["timing"] = {k: _json_number(v) for k, v in self.timing.items()}
        return out


def _deprecated_alias(old, new):
    def get(self):
        warnings.warn(f"{old} is deprecated and will be removed; use {new}", FutureWarning,
                      stacklevel=2)
        return getattr(self, new)

    return property(get, doc=f"Deprecated alias of ``{new}``.")


class PredictiveSummary(NamedTuple):
    """MC-dropout predictive summaries of one set of passes, arrays of shape ``(n,)``.

    ``mean`` and ``sd`` as :meth:`~MCDropoutRegressor.predict` with ``return_std=True``; the
    other four as the fields of :meth:`~MCDropoutRegressor.predict_interval` (HDIs of the
    network's mean function and of a new observation; with the deprecated ``prob=``, central
    intervals). ``lower`` and
    ``upper`` are deprecated aliases of ``obs_low`` and ``obs_high``.
    """

    mean: np.ndarray
    sd: np.ndarray
    mean_low: np.ndarray
    mean_high: np.ndarray
    obs_low: np.ndarray
    obs_high: np.ndarray

    lower = _deprecated_alias("PredictiveSummary.lower", "obs_low")
    upper = _deprecated_alias("PredictiveSummary.upper", "obs_high")

    def to_dict(self) -> dict:
        return {k: np.asarray(v).tolist() for k, v in self._asdict().items()}
