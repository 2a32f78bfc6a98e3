"""Monte Carlo dropout regression (Gal & Ghahramani, 2016) on PyTensor.

A multilayer perceptron trained with dropout is read as a variational
approximation to a Bayesian neural network; keeping dropout switched on at
prediction time and averaging ``T`` stochastic forward passes gives an
approximate posterior predictive distribution.

The package reads in three steps: :mod:`~bayesreg.dropout.layers` (the dropout layer,
the network's passes in NumPy, the mixture quantile), :mod:`~bayesreg.dropout.training`
(Glorot initialization and the compiled Adam step), :mod:`~bayesreg.dropout.regressor`
(the scikit-learn estimator, its predictions, save and load); the typed results are in
:mod:`~bayesreg.dropout.result`.

References
----------
Y. Gal and Z. Ghahramani (2016). Dropout as a Bayesian approximation:
representing model uncertainty in deep learning. ICML.

N. Srivastava, G. Hinton, A. Krizhevsky, I. Sutskever, R. Salakhutdinov (2014).
Dropout: a simple way to prevent neural networks from overfitting. JMLR 15.

S. Wager, S. Wang, P. Liang (2013). Dropout training as adaptive
regularization. NeurIPS.
"""

from .layers import inverted_dropout, mixture_normal_quantile
from .regressor import MCDropoutRegressor
from .result import DropoutResult, PredictiveSummary

__all__ = [
    "DropoutResult",
    "MCDropoutRegressor",
    "PredictiveInterval",
    "PredictiveSummary",
    "inverted_dropout",
    "mixture_normal_quantile",
]


def __getattr__(name):
    # PEP 562: the one PredictiveInterval lives in bayesreg.estimator, which imports ArviZ
    # and PyMC (about 1.5 s); importing MC dropout alone does not pay for them. Here it
    # carries MC dropout's former fields lower and upper as deprecated aliases.
    if name == "PredictiveInterval":
        from .regressor import _interval_class

        return _interval_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
