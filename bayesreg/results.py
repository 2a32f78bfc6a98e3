"""The typed results of the pipeline's steps, each with a JSON-safe ``to_dict()``.

:class:`MapResult` (from :func:`bayesreg.pipeline.solve_map`), :class:`Posterior` (from
:func:`bayesreg.pipeline.sample` or :func:`bayesreg.pipeline.conjugate_ridge`) with its
:class:`Diagnostics`, and the :class:`SamplerSettings` they are drawn with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["MapResult", "Diagnostics", "Posterior", "SamplerSettings", "num"]


def num(value):
    """A JSON-safe number: float (or bool), with NaN and infinities as None."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    value = float(value)
    return value if np.isfinite(value) else None


@dataclass(frozen=True)
class SamplerSettings:
    """How to draw the posterior.

    ``draws`` and ``tune`` are per chain; ``seed`` None draws one; ``target_accept`` None
    is 0.8 up to 100 sampled coordinates and 0.65 above; ``sampler`` is "nutpie" or "pymc";
    ``hdi_prob`` is the mass of the summary's intervals.
    """

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    seed: int | None = None
    target_accept: float | None = None
    sampler: str = "nutpie"
    hdi_prob: float = 0.94


@dataclass(frozen=True)
class MapResult:
    """The MAP on the original scale of the data.

    ``sigma`` is the mode of sigma given the MAP coefficients (the known sigma if given),
    ``alpha`` the penalty it was solved at, ``kkt`` the largest scaled KKT violation (0 when
    exact), ``scale`` the columns' penalty scale (ones unless standardized), and ``rss``,
    ``xtr`` the residual statistics ``(r'r, X_c'r)`` there (None after a reload).
    """

    coef: np.ndarray
    intercept: float
    sigma: float
    alpha: float
    kkt: float
    sigma_known: bool = False
    scale: np.ndarray | None = field(default=None, repr=False)
    rss: float | None = field(default=None, repr=False)
    xtr: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return {"coef": [num(c) for c in self.coef], "intercept": num(self.intercept),
                "sigma": num(self.sigma)}


@dataclass(frozen=True)
class Diagnostics:
    """Convergence of the draws: divergent transitions, the largest rank-normalized r_hat,
    the smallest bulk ESS (None where undefined), human-readable warnings, and a note (the
    exact posterior's, which has no sampling)."""

    divergences: int
    max_r_hat: float | None
    min_ess_bulk: float | None
    warnings: tuple[str, ...] = ()
    note: str | None = None

    def to_dict(self) -> dict:
        out = {"divergences": int(self.divergences), "max_r_hat": num(self.max_r_hat),
               "min_ess_bulk": num(self.min_ess_bulk), "warnings": list(self.warnings)}
        if self.note is not None:
            out["note"] = self.note
        return out

    @classmethod
    def from_dict(cls, d: dict | None) -> "Diagnostics | None":
        if d is None:
            return None
        return cls(d["divergences"], d["max_r_hat"], d["min_ess_bulk"], tuple(d["warnings"]),
                   d.get("note"))


@dataclass(frozen=True)
class Posterior:
    """A posterior beside its MAP: the draws (``idata``, ArviZ InferenceData with ``coef``
    by ``feature``, ``intercept``, ``sigma`` and with a learned alpha ``alpha``), the
    summary table at ``hdi_prob``, the diagnostics, and for ridge's closed form the exact
    posterior (``exact``, a :class:`bayesreg.exact.ConjugateRidge`).

    ``map`` is the MAP the summary compares with (with a learned alpha, the MAP at its
    posterior median). ``timing`` holds seconds spent compiling, sampling and re-solving
    the MAP.
    """

    idata: Any
    summary: Any                    # pandas.DataFrame, columns diagnostics.SUMMARY_COLUMNS
    diagnostics: Diagnostics
    map: MapResult
    hdi_prob: float
    exact: Any = None
    timing: dict = field(default_factory=dict)

    @property
    def feature_names(self) -> list[str]:
        return [str(f) for f in self.idata.posterior["feature"].values]

    def summary_at(self, hdi_prob: float):
        """The summary table with intervals of another probability mass."""
        if hdi_prob == self.hdi_prob:
            return self.summary.copy()
        from .diagnostics import summarize

        return summarize(self.idata.posterior, self.map, self.feature_names, hdi_prob,
                         self.exact)

    def to_dict(self) -> dict:
        """``{"map", "posterior", "diagnostics"}``: the MAP, one summary row per coefficient
        (feature order), the intercept, sigma (and alpha), and the diagnostics; NaN -> None."""
        s = self.summary

        def row(name):
            return {"name": name, **{k: num(v) for k, v in s.loc[name].items()}}

        post = {"coef": [row(n) for n in self.feature_names],
                "intercept": row("intercept"), "sigma": row("sigma")}
        for name in ("alpha", "tau", "c"):     # learned alpha; a horseshoe's tau and slab
            if name in self.idata.posterior:
                post[name] = row(name)
        return {"map": self.map.to_dict(), "posterior": post,
                "diagnostics": self.diagnostics.to_dict()}
