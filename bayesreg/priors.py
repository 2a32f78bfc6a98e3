r"""The one prior convention of bayesreg, and its mappings to other conventions.

Every prior is stated in scikit-learn's ElasticNet objective

.. math::

    \frac{1}{2n}\lVert y - Xw - b\rVert^2
        + \alpha\Big(\rho\lVert w\rVert_1 + \frac{1-\rho}{2}\lVert w\rVert_2^2\Big),

with penalty ``alpha`` :math:`\alpha \ge 0` and ``l1_ratio`` :math:`\rho\in[0,1]`
(ridge is :math:`\rho=0`, lasso :math:`\rho=1`). The Bayesian model whose mode, for
any :math:`\sigma`, is that objective's minimizer is

.. math::

    y \mid w, b, \sigma \sim N(Xw + b, \sigma^2), \qquad
    p(w \mid \sigma^2) \propto \exp\Big(-\frac{n\alpha}{\sigma^2}
        \big(\rho\lVert w\rVert_1 + \tfrac{1-\rho}{2}\lVert w\rVert_2^2\big)\Big),

so each :math:`w_j` is Laplace with scale :math:`\sigma^2/(n\alpha)` for lasso and Normal
with variance :math:`\sigma^2/(n\alpha)` for ridge (the conjugate normal-inverse-gamma
form). The intercept is unpenalized (flat prior). A learned :math:`\sigma` has the
Jeffreys prior :math:`p(\sigma^2)\propto 1/\sigma^2` (as in Park & Casella 2008).
A learned :math:`\alpha` has the hyperprior :math:`\alpha\sim\text{Half-Cauchy}(\alpha_0)`,
with the user's ``alpha`` as its scale (and so its median).

Mappings (``n`` samples, noise sd ``sigma``):

=========================================  ==========================================
other convention                           bayesreg's ``alpha``
=========================================  ==========================================
Gaussian prior sd ``tau`` (ridge)          ``sigma**2 / (n * tau**2)``
Laplace prior scale ``b`` (lasso)          ``sigma**2 / (n * b)``
glmnet ``lambda`` (``alpha_glmnet = rho``) ``lambda`` (the same objective; glmnet scales y
                                           to unit variance internally, so for rho < 1
                                           they agree when sd(y) = 1, with the 1/n sd)
Park & Casella ``lambda`` (scale sigma/l)  ``lambda * sigma / n``
scikit-learn ``Ridge(alpha=a)``            ``a / n`` (Ridge has no 1/(2n) factor)
=========================================  ==========================================
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import special

from ._validation import RANGES, InputError, check_param

__all__ = [
    "PRIORS",
    "Prior",
    "alpha_from_gaussian_sd",
    "alpha_from_laplace_scale",
    "alpha_from_park_casella",
    "alpha_from_sklearn_ridge",
    "log_normalizer",
]

#: prior name -> the l1_ratio it fixes (None: the user's l1_ratio)
PRIORS = {"ridge": 0.0, "lasso": 1.0, "elastic_net": None}


@dataclass(frozen=True)
class Prior:
    """A regularizing prior as plain data: its name, ``alpha`` and the effective ``l1_ratio``."""

    name: str
    alpha: float
    l1_ratio: float

    @classmethod
    def create(cls, name: str, alpha: float, l1_ratio: float = 0.5) -> "Prior":
        """Validate and build a prior; ``l1_ratio`` only matters for ``elastic_net``."""
        name = check_param("prior", name, choices=PRIORS)
        alpha = check_param("alpha", alpha, low=0.0)
        l1_ratio = RANGES["l1_ratio"].check("l1_ratio", l1_ratio)
        fixed = PRIORS[name]
        return cls(name, alpha, l1_ratio if fixed is None else fixed)

    @property
    def kind(self) -> str:
        """The shape of the density: 'flat' (alpha = 0), 'normal', 'laplace' or 'mixed'."""
        if self.alpha == 0.0:
            return "flat"
        if self.l1_ratio == 0.0:
            return "normal"
        if self.l1_ratio == 1.0:
            return "laplace"
        return "mixed"

    def penalty(self, w) -> float:
        r""":math:`\alpha(\rho\lVert w\rVert_1 + \frac{1-\rho}{2}\lVert w\rVert^2)`."""
        w = np.asarray(w, dtype=float)
        rho = self.l1_ratio
        return self.alpha * (rho * np.abs(w).sum() + 0.5 * (1 - rho) * (w @ w))

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        if self.name == "elastic_net":
            return f"ElasticNet(alpha: {self.alpha:g}, l1_ratio: {self.l1_ratio:g})"
        return f"{self.name.capitalize()}(alpha: {self.alpha:g})"


def log_normalizer(a, b):
    r"""Log of :math:`\int_{-\infty}^{\infty} \exp(-a|w| - b w^2/2)\,dw` for ``a, b >= 0``, not both 0.

    Laplace (``b = 0``): :math:`\log(2/a)`; Normal (``a = 0``): :math:`\tfrac12\log(2\pi/b)`;
    otherwise :math:`\log 2 + \tfrac12\log\frac{\pi}{2b} + \log\operatorname{erfcx}(a/\sqrt{2b})`,
    where ``erfcx`` keeps it finite for large ``a``.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mixed = (np.log(2.0) + 0.5 * np.log(np.pi / (2 * b))
                 + np.log(special.erfcx(a / np.sqrt(2 * b))))
        out = np.where(b == 0, np.log(2.0 / a), np.where(a == 0, 0.5 * np.log(2 * np.pi / b), mixed))
    return out[()] if out.ndim == 0 else out


def alpha_from_gaussian_sd(tau: float, sigma: float, n: int) -> float:
    """``alpha`` of the ridge prior w_j ~ N(0, tau^2) when the noise sd is ``sigma``."""
    _positive(tau=tau, sigma=sigma, n=n)
    return sigma**2 / (n * tau**2)


def alpha_from_laplace_scale(b: float, sigma: float, n: int) -> float:
    """``alpha`` of the lasso prior w_j ~ Laplace(0, b) when the noise sd is ``sigma``."""
    _positive(b=b, sigma=sigma, n=n)
    return sigma**2 / (n * b)


def alpha_from_park_casella(lam: float, sigma: float, n: int) -> float:
    """``alpha`` of Park & Casella's Bayesian lasso, Laplace scale ``sigma / lam``."""
    _positive(lam=lam, sigma=sigma, n=n)
    return lam * sigma / n


def alpha_from_sklearn_ridge(ridge_alpha: float, n: int) -> float:
    """``alpha`` equivalent to scikit-learn's ``Ridge(alpha=ridge_alpha)``, whose loss has no 1/(2n)."""
    _positive(n=n)
    if not ridge_alpha >= 0:  # NaN fails this test too
        raise InputError("ridge_alpha", f"must be >= 0; got {ridge_alpha!r}")
    return ridge_alpha / n


def _positive(**values):
    for name, value in values.items():
        if not value > 0:
            raise InputError(name, f"must be > 0; got {value!r}")
