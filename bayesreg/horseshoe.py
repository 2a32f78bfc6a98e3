r"""The horseshoe and regularized-horseshoe priors: spec, sampler frame, PyMC model, the step.

In the project's convention (coefficients scaled by sigma, a flat intercept, the Jeffreys
prior p(sigma^2) ∝ 1/sigma^2 on a learned sigma):

.. math::

    w_j \mid \lambda_j, \tau, \sigma \sim N(0, \sigma^2\tau^2\tilde\lambda_j^2),\qquad
    \lambda_j \sim \text{Half-Cauchy}(1),\qquad \tau \sim \text{Half-Cauchy}(\tau_0),

with :math:`\tilde\lambda_j = \lambda_j` (``"horseshoe"``; Carvalho, Polson & Scott 2010) or
:math:`\tilde\lambda_j^2 = c^2\lambda_j^2 / (c^2 + \tau^2\lambda_j^2)` and
:math:`c^2 \sim \text{Inv-Gamma}(\nu/2, \nu s^2/2)` (``"regularized_horseshoe"``; Piironen &
Vehtari 2017, ``slab_df`` :math:`\nu` = 4 and ``slab_scale`` :math:`s` = 2 by default), ``c``
on the scale of ``w / sigma``. With ``standardize`` the prior is on the coefficients of the
standardized columns, ``w_j * sd_j``.

The global scale :math:`\tau_0` is ``global_scale``; or, from a guess ``expected_nonzero``
:math:`p_0` of the number of non-zero coefficients, Piironen & Vehtari's
:math:`\tau_0 = p_0 / (p - p_0) / \sqrt n` (their :math:`\sigma` is factored out here); or,
when neither is given, :data:`DEFAULT_GLOBAL_SCALE` = 1: the scale of Carvalho, Polson & Scott
and of brms's ``horseshoe()`` (also sigma-scaled). It claims no sparsity level: it puts the
prior median of :math:`|w_j| / \sigma` at the scale of one noise sd per unit of x, and the
Half-Cauchy tails of :math:`\tau` and :math:`\lambda_j` let the data shrink it. rstanarm's
``hs()`` default 0.01 asserts strong sparsity whose meaning depends on the units of X; a user
who has a guess of the sparsity should say so with ``expected_nonzero``.

A horseshoe has no finite mode (the density is infinite at w_j = 0), so these priors are
sampled only (``method="nuts"``), non-centred (:mod:`bayesreg.hs_kernel`), and their point
estimate is the posterior median.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ._validation import RANGES, InputError, check_expected_nonzero, check_param

__all__ = ["HORSESHOE_PRIORS", "DEFAULT_GLOBAL_SCALE", "TARGET_ACCEPT", "Horseshoe",
           "HorseshoeFrame", "horseshoe_frame", "build_horseshoe_model", "horseshoe_draws",
           "sample_horseshoe", "no_mode"]

HORSESHOE_PRIORS = ("horseshoe", "regularized_horseshoe")
#: tau0 when neither global_scale nor expected_nonzero is given (see the module's docstring)
DEFAULT_GLOBAL_SCALE = 1.0
#: NUTS's default target acceptance for these priors (see sample_horseshoe)
TARGET_ACCEPT = 0.99
#: the reference point of the sufficient statistics: ridge at this alpha on standardized columns
_REFERENCE_ALPHA = 1e-3


@dataclass(frozen=True)
class Horseshoe:
    """A horseshoe prior as plain data (see the module's docstring for the density)."""

    name: str
    global_scale: float | None = None
    expected_nonzero: int | None = None
    slab_df: float = 4.0
    slab_scale: float = 2.0

    @classmethod
    def create(cls, name, global_scale=None, expected_nonzero=None, slab_df=4.0,
               slab_scale=2.0) -> "Horseshoe":
        """Validate and build; ``expected_nonzero`` is checked against the width at fit
        (:meth:`tau0`)."""
        name = check_param("prior", name, choices=HORSESHOE_PRIORS)
        if global_scale is not None and expected_nonzero is not None:
            raise InputError("global_scale", "give global_scale or expected_nonzero, not both "
                                             "(expected_nonzero sets the global scale)")
        if global_scale is not None:
            global_scale = RANGES["global_scale"].check("global_scale", global_scale)
        if expected_nonzero is not None:
            expected_nonzero = RANGES["expected_nonzero"].check("expected_nonzero",
                                                                expected_nonzero)
        slab_df = RANGES["slab_df"].check("slab_df", slab_df)
        slab_scale = RANGES["slab_scale"].check("slab_scale", slab_scale)
        return cls(name, global_scale, expected_nonzero, slab_df, slab_scale)

    @property
    def regularized(self) -> bool:
        return self.name == "regularized_horseshoe"

    def tau0(self, n: int, p: int) -> float:
        """The scale of tau's Half-Cauchy prior for ``n`` rows and ``p`` columns."""
        if self.global_scale is not None:
            return self.global_scale
        if self.expected_nonzero is None:
            return DEFAULT_GLOBAL_SCALE
        p0 = self.expected_nonzero
        check_expected_nonzero(p0, p)
        return p0 / (p - p0) / np.sqrt(n)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        scale = (f"expected_nonzero: {self.expected_nonzero}" if self.expected_nonzero
                 else f"global_scale: {self.global_scale or DEFAULT_GLOBAL_SCALE:g}")
        slab = (f", slab_df: {self.slab_df:g}, slab_scale: {self.slab_scale:g}"
                if self.regularized else "")
        return f"{self.name}({scale}{slab})"


@dataclass
class HorseshoeFrame:
    """What the log density needs, on rescaled data (layout in :mod:`bayesreg.hs_kernel`).

    ``sigma`` is the known noise sd (rescaled) or None; ``m`` the reference point, ``r0``
    and ``q = -X'r`` the residual statistics there; ``M`` the Gram matrix, or ``X`` the
    centred data when it has fewer rows than columns; ``g`` each column's rescaling of the
    prior's scale.
    """

    KERNEL: ClassVar[str] = "hs_kernel"

    p: int
    regularized: bool
    fit_intercept: bool
    sigma: float | None
    n: float
    logsig_loc: float
    logsig_scale: float
    r0: float
    tau0: float
    slab_shape: float
    slab_rate: float
    m: np.ndarray
    q: np.ndarray
    g: np.ndarray
    M: np.ndarray | None = None
    X: np.ndarray | None = None
    names: list = field(default_factory=list)
    y_scale: float = 1.0
    x_scale: np.ndarray | None = None

    @property
    def dim(self) -> int:
        return len(self.names)

    def to_buffer(self) -> np.ndarray:
        """The float64 buffer :mod:`bayesreg.hs_kernel` reads."""
        from .hs_kernel import HEADER, buffer_size

        p, rows = self.p, 0 if self.X is None else self.X.shape[0]
        buf = np.zeros(buffer_size(p, rows))
        buf[:HEADER] = [p, self.regularized, self.fit_intercept, self.sigma is not None, self.n,
                        self.sigma or 0.0, self.logsig_loc, self.logsig_scale, self.r0,
                        self.tau0, self.slab_shape, self.slab_rate, rows]
        o = HEADER
        mats = (self.m, self.q, self.g) + ((self.M,) if rows == 0 else (self.X, self.X.T))
        for mat in mats:
            buf[o:o + mat.size] = np.ascontiguousarray(mat).ravel()
            o += mat.size
        return buf


def _names(p, regularized, sigma_known, fit_intercept) -> list:
    names = [f"z{j}" for j in range(p)] + [f"log_lambda{j}" for j in range(p)] + ["log_tau"]
    names += ["log_c2"] if regularized else []
    names += [] if sigma_known else ["u"]
    return names + (["v"] if fit_intercept else [])


def horseshoe_frame(stats, spec: Horseshoe, reference, *, standardize=False) -> HorseshoeFrame:
    """The sampler's frame on rescaled data (y by its root mean square, column j by its
    scale), around ``reference`` (a :class:`~bayesreg.results.MapResult` with the residual
    statistics at its coefficients; see :func:`reference_point`)."""
    n, p = stats.n, stats.p
    y_scale = float(np.sqrt(stats.yty / n)) or 1.0
    x_scale = stats.scales()
    per_unit = x_scale if standardize else np.ones(p)
    ref = reference
    if ref.sigma_known:
        sigma_hat = ref.sigma / y_scale
    else:
        dof = n - p - int(stats.fit_intercept)
        sigma_hat = np.sqrt(ref.rss / dof) / y_scale if dof >= 1 else 0.5
    X = None if stats.Xc is None else stats.Xc / x_scale
    return HorseshoeFrame(
        p=p, regularized=spec.regularized, fit_intercept=bool(stats.fit_intercept),
        sigma=ref.sigma / y_scale if ref.sigma_known else None, n=float(n),
        logsig_loc=float(np.log(max(sigma_hat, 1e-8))),
        logsig_scale=float(1.0 / np.sqrt(2.0 * max(n - min(p, n - 1), 1))),
        r0=float(ref.rss / y_scale**2), tau0=float(spec.tau0(n, p)),
        slab_shape=spec.slab_df / 2, slab_rate=spec.slab_df * spec.slab_scale**2 / 2,
        m=ref.coef * x_scale / y_scale, q=-np.asarray(ref.xtr) / (x_scale * y_scale),
        g=x_scale / per_unit,
        M=None if X is not None else stats.gram() / np.outer(x_scale, x_scale),
        X=X, names=_names(p, spec.regularized, ref.sigma_known, stats.fit_intercept),
        y_scale=y_scale, x_scale=x_scale)


def reference_point(stats, sigma=None):
    """Where the residual sum of squares is expanded: ridge with a small penalty on
    standardized columns (near least squares, defined for any width), with the residual
    statistics summed in one pass (:func:`bayesreg.pipeline.solve_map`)."""
    from .pipeline import solve_map
    from .priors import Prior

    return solve_map(stats, Prior("ridge", _REFERENCE_ALPHA, 0.0), sigma=sigma, standardize=True)


def _lambda_tilde(lam, tau, c2, xp=np):
    """lambda~ (regularized when ``c2`` is given)."""
    if c2 is None:
        return lam
    return xp.sqrt(c2 * lam**2 / (c2 + tau**2 * lam**2))


def build_horseshoe_model(frame: HorseshoeFrame):
    """The PyMC model of :class:`HorseshoeFrame`: the definition of the sampled posterior.

    Free variables, in the kernel's order: ``z`` (Normal), ``lambda`` (Half-Cauchy(1)),
    ``tau`` (Half-Cauchy(tau0)), ``c2`` (Inv-Gamma, regularized), ``u`` (log sigma's
    offset, learned sigma; a flat prior on log sigma is the Jeffreys prior) and ``v`` (the
    centred intercept ``c = sigma v / sqrt(n)``, flat) ; PyMC log-transforms the positive ones.
    """
    import pymc as pm
    import pytensor.tensor as pt

    f = frame
    with pm.Model(coords={"coef": np.arange(f.p)}) as model:
        z = pm.Normal("z", 0.0, 1.0, dims="coef")
        lam = pm.HalfCauchy("lambda", 1.0, dims="coef")
        tau = pm.HalfCauchy("tau", f.tau0)
        c2 = (pm.InverseGamma("c2", alpha=f.slab_shape, beta=f.slab_rate)
              if f.regularized else None)
        if f.sigma is not None:
            log_sigma = np.log(f.sigma)
        else:
            log_sigma = f.logsig_loc + f.logsig_scale * pm.Flat("u")
        sigma = pt.exp(log_sigma)
        dw = sigma * tau * _lambda_tilde(lam, tau, c2, pt) * f.g * z - f.m
        Adw = pt.dot(f.M, dw) if f.X is None else pt.dot(f.X.T, pt.dot(f.X, dw))
        quad = f.r0 + 2 * pt.dot(f.q, dw) + pt.dot(dw, Adw)
        if f.fit_intercept:
            quad = quad + (sigma * pm.Flat("v")) ** 2
            if f.sigma is None:
                pm.Potential("intercept_jacobian", log_sigma)
        pm.Potential("loglik", -0.5 * f.n * (np.log(2 * np.pi) + 2 * log_sigma)
                     - quad / (2 * sigma**2))
    return model


def horseshoe_draws(x, frame: HorseshoeFrame, stats) -> dict:
    """Draws of the sampler's coordinates (chain, draw, dim) on the original scale: coef,
    intercept, sigma, tau, lambda (and the slab's c)."""
    f, p = frame, frame.p
    lam, tau = np.exp(x[..., p:2 * p]), np.exp(x[..., 2 * p])
    k, out = 2 * p + 1, {}
    c2 = None
    if f.regularized:
        c2 = np.exp(x[..., k])
        k += 1
    if f.sigma is not None:
        sigma = np.full(x.shape[:2], f.sigma)
    else:
        sigma = np.exp(f.logsig_loc + f.logsig_scale * x[..., k])
        k += 1
    lt = _lambda_tilde(lam, tau[..., None], None if c2 is None else c2[..., None])
    w = (sigma * tau)[..., None] * lt * f.g * x[..., :p] * f.y_scale / f.x_scale
    out["coef"] = w
    if f.fit_intercept:
        c = sigma * x[..., k] / np.sqrt(f.n)
        out["intercept"] = stats.y_mean + c * f.y_scale - w @ stats.x_mean
    else:
        out["intercept"] = np.zeros(x.shape[:2])
    out.update(sigma=sigma * f.y_scale, tau=tau, **{"lambda": lam})
    if c2 is not None:
        out["c"] = np.sqrt(c2)
    return out


def no_mode(p: int, sigma_known: bool, sigma=None):
    """The :class:`~bayesreg.results.MapResult` of a posterior without a finite mode: NaN
    (JSON null), so the summary's ``map`` column is empty."""
    from .results import MapResult

    nan = float("nan")
    return MapResult(np.full(p, nan), nan, float(sigma) if sigma_known else nan, nan, nan,
                     sigma_known=sigma_known)


def _sample_pymc(frame: HorseshoeFrame, *, draws, tune, chains, seed, target_accept):
    """PyMC's NUTS on :func:`build_horseshoe_model`, as the kernel's coordinates."""
    import pymc as pm

    with build_horseshoe_model(frame):
        idata = pm.sample(draws=draws, tune=tune, chains=chains, cores=1, random_seed=seed,
                          target_accept=target_accept, progressbar=False,
                          compute_convergence_checks=False)
    post = idata.posterior
    parts = [post["z"].values, np.log(post["lambda"].values), np.log(post["tau"].values)[..., None]]
    for name in ("c2", "u", "v"):
        if name in post:
            value = post[name].values
            parts.append((np.log(value) if name == "c2" else value)[..., None])
    return np.concatenate(parts, axis=-1), idata.sample_stats


def sample_horseshoe(stats, spec: Horseshoe, settings, *, sigma=None, standardize=False,
                     feature_names=None, progress=None, should_stop=None):
    """The pipeline's step for a horseshoe prior: NUTS on the posterior (no MAP), summarized
    beside an empty ``map`` column. Returns a :class:`~bayesreg.results.Posterior`.

    ``settings.target_accept`` None is :data:`TARGET_ACCEPT`: the funnel between tau, the
    lambdas and the coefficients near zero needs small steps (see the README for the
    divergences measured at 0.8, 0.95 and 0.99).
    """
    from .diagnostics import diagnose, summarize
    from .pipeline import check_noise, default_names as names_for, make_idata, run_sampler
    from .priors import Prior
    from .results import Posterior

    reference = reference_point(stats, sigma)
    check_noise(stats, Prior("ridge", _REFERENCE_ALPHA, 0.0), reference)
    frame = horseshoe_frame(stats, spec, reference, standardize=standardize)
    target = TARGET_ACCEPT if settings.target_accept is None else settings.target_accept
    x, sample_stats, timing = run_sampler(frame, settings, target, _sample_pymc, progress,
                                          should_stop)
    names = names_for(feature_names, stats.p)
    idata = make_idata(horseshoe_draws(x, frame, stats), names, sample_stats)
    point = no_mode(stats.p, sigma is not None, sigma)
    summary = summarize(idata.posterior, point, names, settings.hdi_prob)
    return Posterior(idata, summary, diagnose(idata, summary), point, settings.hdi_prob,
                     timing=timing)
