"""bayesreg: regularized regression seen the Bayesian way.

The exact MAP (ridge, lasso, elastic net) beside the full posterior of the one model whose
mode it is. See :class:`BayesianRegression` and :mod:`bayesreg.priors`.
"""

from ._validation import InputError
from .datasets import load_diabetes
from .dropout import MCDropoutRegressor
from .estimator import BayesianRegression, PredictiveInterval
from .priors import (
    Prior,
    alpha_from_gaussian_sd,
    alpha_from_laplace_scale,
    alpha_from_park_casella,
    alpha_from_sklearn_ridge,
)

__version__ = "0.1.0"

__all__ = [
    "BayesianRegression",
    "InputError",
    "MCDropoutRegressor",
    "PredictiveInterval",
    "Prior",
    "alpha_from_gaussian_sd",
    "alpha_from_laplace_scale",
    "alpha_from_park_casella",
    "alpha_from_sklearn_ridge",
    "load_diabetes",
]
