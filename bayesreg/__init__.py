"""bayesreg: regularized regression seen the Bayesian way.

The exact MAP (ridge, lasso, elastic net) beside the full posterior of the one model whose
mode it is. See :class:`BayesianRegression` and :mod:`bayesreg.priors`.
"""

import importlib

# Names are imported on first use (PEP 562), so that ``import bayesreg`` and the command
# line's ``--help`` do not pay for PyMC, PyTensor and ArviZ (seconds) before they are needed.
_WHERE = {
    "Client": ".client",
    "InputError": "._validation",
    "load_diabetes": ".datasets",
    "MCDropoutRegressor": ".dropout",
    "BayesianRegression": ".estimator",
    "PredictiveInterval": ".estimator",
    "Prior": ".priors",
    "alpha_from_gaussian_sd": ".priors",
    "alpha_from_laplace_scale": ".priors",
    "alpha_from_park_casella": ".priors",
    "alpha_from_sklearn_ridge": ".priors",
    # the pipeline's typed results (its steps are bayesreg.pipeline's functions)
    "Diagnostics": ".results",
    "DropoutResult": ".dropout",
    "MapResult": ".results",
    "Posterior": ".results",
    "SamplerSettings": ".results",
    "SuffStats": ".model",
    # the posterior regularization path and PSIS-LOO
    "LooResult": ".loo",
    "RegularizationPath": ".path",
    "regularization_path": ".path",
}


def __getattr__(name):
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_WHERE))


__version__ = "0.1.0"

__all__ = [
    "BayesianRegression",
    "Client",
    "Diagnostics",
    "DropoutResult",
    "InputError",
    "LooResult",
    "MapResult",
    "MCDropoutRegressor",
    "Posterior",
    "PredictiveInterval",
    "Prior",
    "RegularizationPath",
    "SamplerSettings",
    "SuffStats",
    "alpha_from_gaussian_sd",
    "alpha_from_laplace_scale",
    "alpha_from_park_casella",
    "alpha_from_sklearn_ridge",
    "load_diabetes",
    "regularization_path",
]
