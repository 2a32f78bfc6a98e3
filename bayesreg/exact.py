r"""The closed-form conjugate posterior of ridge (normal-inverse-gamma), no sampling.

With centred data, prior precision :math:`n\alpha\,e_j^2/\sigma^2` on :math:`w_j` (``e_j = 1``
unless standardized), flat intercept and Jeffreys :math:`p(\sigma^2)\propto 1/\sigma^2`:

.. math::

    A = X_c^\top X_c + n\alpha E^2,\quad \hat w = A^{-1}X_c^\top y_c,\quad
    \mathrm{SSR} = y_c^\top y_c - \hat w^\top X_c^\top y_c
                 = \lVert y_c - X_c\hat w\rVert^2 + n\alpha\lVert E\hat w\rVert^2 .

The second form, summed from the residuals, is what is computed: the first cancels to
rounding when the noise is far below the spread of ``y``.

Given :math:`\sigma`: :math:`w \sim N(\hat w, \sigma^2 A^{-1})`. With :math:`\sigma` learned:
:math:`\sigma^2 \sim \mathrm{IG}(\nu/2, \mathrm{SSR}/2)` with :math:`\nu = n - 1` (``n`` without
intercept; ``p`` fewer under the flat prior ``alpha = 0``, whose density brings no
:math:`\sigma^{-p}`), and every linear functional of ``w`` is Student-t with :math:`\nu` degrees
of freedom.
The intercept :math:`b = \bar y + c - \bar x^\top w` with :math:`c \mid \sigma \sim N(0, \sigma^2/n)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize, stats

from ._validation import InputError

__all__ = ["ConjugateRidge"]


@dataclass
class ConjugateRidge:
    """Exact posterior of ridge regression; marginals as frozen scipy distributions."""

    w_hat: np.ndarray
    a_inv: np.ndarray        # (p, p) covariance per unit sigma^2; after load, its diagonal (p,)
    intercept_hat: float
    intercept_var: float     # per unit sigma^2
    sigma: float | None      # known noise sd, or None when learned
    nu: float
    ssr: float
    x_mean: np.ndarray
    y_mean: float
    n: int
    fit_intercept: bool

    @classmethod
    def fit(cls, Xc, yc, x_mean, y_mean, alpha, e, sigma, fit_intercept, gram=None,
            xty=None, data=None) -> "ConjugateRidge":
        """The posterior from centred data; ``gram`` = Xc'Xc and ``xty`` = Xc'yc if already known.

        ``data``: the raw ``(X, y)`` when ``Xc`` is not kept, for the residuals.
        """
        n = yc.shape[0]
        gram = Xc.T @ Xc if gram is None else gram.copy()
        p = gram.shape[0]
        gram[np.diag_indices(p)] += n * alpha * e**2
        improper = InputError("alpha", "the posterior is improper: X'X is singular and alpha = 0; "
                                       "use alpha > 0")
        if alpha == 0 and np.linalg.matrix_rank(gram) < p:
            raise improper  # Cholesky may still succeed on a rounding-level pivot
        try:
            chol = linalg.cho_factor(gram, lower=True)
        except linalg.LinAlgError:
            raise improper from None
        xty = Xc.T @ yc if xty is None else xty
        w_hat = linalg.cho_solve(chol, xty)
        a_inv = linalg.cho_solve(chol, np.eye(p))
        # a proper Gaussian prior brings sigma^-p that integrating w cancels; a flat one does not
        nu = n - (1 if fit_intercept else 0) - (p if alpha == 0 else 0)
        if Xc is not None:
            resid = yc - Xc @ w_hat
            rss = float(resid @ resid)
        else:
            from .model import residual_stats

            rss = residual_stats(data[0], data[1], x_mean, y_mean, w_hat)[0]
        ssr = max(rss + n * alpha * float(np.sum((e * w_hat) ** 2)), 1e-300)
        if sigma is None and nu <= 0:
            raise InputError("y", f"{n} samples are too few to learn sigma: the posterior needs "
                                  f"n - {n - nu} > 0 (give sigma, or alpha > 0)")
        b_hat = y_mean - float(x_mean @ w_hat) if fit_intercept else 0.0
        b_var = (1.0 / n + float(x_mean @ a_inv @ x_mean)) if fit_intercept else 0.0
        return cls(w_hat, a_inv, b_hat, b_var, sigma, nu, ssr, x_mean, y_mean, n, fit_intercept)

    @classmethod
    def from_stats(cls, stats, alpha, e, sigma) -> "ConjugateRidge":
        """The posterior from :class:`bayesreg.model.SuffStats` (penalty scale ``e``)."""
        if stats.xtx is None:
            return cls.fit(stats.Xc, stats.yc, stats.x_mean, stats.y_mean, alpha, e, sigma,
                           stats.fit_intercept)
        return cls.fit(None, stats.yc, stats.x_mean, stats.y_mean, alpha, e, sigma,
                       stats.fit_intercept, stats.xtx, stats.xty, data=stats.data)

    def summary_rows(self, map_values: dict, feature_names, hdi_prob) -> dict:
        """One dict of statistics per row of ``map_values`` (as
        :func:`bayesreg.diagnostics.map_rows`), from the exact marginals."""
        marginals = dict(zip(feature_names, self.coef_marginals()))
        marginals["intercept"] = self.intercept_marginal()
        out = {}
        for name, (_, _, map_value) in map_values.items():
            dist = marginals.get(name)
            if name == "sigma" and self.sigma is None:
                mean, sd, median, (lo, hi) = self.sigma_summary(hdi_prob)
                ppos = 1.0
            elif dist is None:  # a known sigma, or no intercept: a point mass
                mean = median = lo = hi = map_value
                sd, ppos = 0.0, float(map_value > 0)
            else:  # symmetric unimodal: the HDI is the central interval
                mean, sd, median = dist.mean(), dist.std(), dist.median()
                lo, hi = dist.interval(hdi_prob)
                ppos = dist.sf(0.0)
            out[name] = {"map": map_value, "mean": mean, "sd": sd, "median": median,
                         "hdi_low": lo, "hdi_high": hi, "mcse_mean": 0.0, "ess_bulk": np.nan,
                         "ess_tail": np.nan, "r_hat": np.nan, "prob_positive": ppos}
        return out

    def _marginal(self, loc, var_per_sigma2):
        if self.sigma is not None:
            return stats.norm(loc, np.sqrt(var_per_sigma2) * self.sigma)
        return stats.t(self.nu, loc, np.sqrt(var_per_sigma2 * self.ssr / self.nu))

    def coef_marginals(self):
        variances = np.diag(self.a_inv) if self.a_inv.ndim == 2 else self.a_inv
        return [self._marginal(m, v) for m, v in zip(self.w_hat, variances)]

    def intercept_marginal(self):
        return self._marginal(self.intercept_hat, self.intercept_var) if self.fit_intercept else None

    def sigma2_marginal(self):
        return None if self.sigma is not None else stats.invgamma(self.nu / 2, scale=self.ssr / 2)

    def sigma_summary(self, hdi_prob):
        """Mean, sd, median and HDI of sigma = sqrt(sigma^2), sigma^2 ~ IG(nu/2, SSR/2)."""
        s2 = self.sigma2_marginal()
        a, beta = self.nu / 2, self.ssr / 2
        from scipy.special import gammaln

        mean = np.exp(0.5 * np.log(beta) + gammaln(a - 0.5) - gammaln(a)) if a > 0.5 else np.inf
        sd = np.sqrt(max(beta / (a - 1) - mean**2, 0.0)) if a > 1 else np.inf
        median = np.sqrt(s2.median())

        def width(lo):  # narrowest interval of the monotone transform sqrt
            return np.sqrt(s2.ppf(lo + hdi_prob)) - np.sqrt(s2.ppf(lo))

        lo = optimize.minimize_scalar(width, bounds=(1e-12, 1 - hdi_prob - 1e-12),
                                      method="bounded", options={"xatol": 1e-10}).x
        hdi = (np.sqrt(s2.ppf(lo)), np.sqrt(s2.ppf(lo + hdi_prob)))
        return mean, sd, median, hdi

    def draws(self, n_draws, rng):
        """Independent draws of (coef, intercept, sigma) from the exact posterior."""
        p = self.w_hat.size
        if self.sigma is None:
            sigma = np.sqrt(self.sigma2_marginal().rvs(n_draws, random_state=rng))
        else:
            sigma = np.full(n_draws, self.sigma)
        chol = np.linalg.cholesky(self.a_inv + 1e-300 * np.eye(p))
        coef = self.w_hat + sigma[:, None] * (rng.standard_normal((n_draws, p)) @ chol.T)
        if self.fit_intercept:
            c = sigma * rng.standard_normal(n_draws) / np.sqrt(self.n)
            intercept = self.y_mean + c - coef @ self.x_mean
        else:
            intercept = np.zeros(n_draws)
        return coef, intercept, sigma
