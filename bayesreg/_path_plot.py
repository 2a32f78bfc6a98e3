"""The figure of a :class:`~bayesreg.path.RegularizationPath`: MAP paths, posterior bands,
elpd_loo. A ``matplotlib.figure.Figure``, not pyplot: no global figure registry is touched, so
it is safe in threads and under the Agg backend (as the service renders)."""

from __future__ import annotations

import numpy as np

__all__ = ["path_figure"]


def path_figure(path, max_features=12):
    """Three panels against alpha (log scale, decreasing to the right as glmnet draws it)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 4.6), dpi=100)
    ax_map, ax_post, ax_elpd = fig.subplots(1, 3, sharex=True)
    shown = _shown(path, max_features)
    colors = {name: f"C{k % 10}" for k, name in enumerate(shown)}
    _map_panel(ax_map, path, shown, colors)
    _posterior_panel(ax_post, path, shown, colors)
    _elpd_panel(ax_elpd, path)
    for ax in (ax_map, ax_post, ax_elpd):
        ax.set_xscale("log")
        ax.set_xlabel("alpha")
        for x, style in ((path.best_alpha, "-"), (path.alpha_1se, "--")):
            if x is not None:
                ax.axvline(x, color="0.4", lw=0.8, ls=style)
    ax_map.invert_xaxis()  # shared: all three run from strong to weak penalty
    if len(path.feature_names) > len(shown):
        fig.suptitle(f"{len(shown)} of {len(path.feature_names)} coefficients: the largest "
                     f"at the smallest alpha's MAP", fontsize="small")
    fig.tight_layout()
    return fig


def _shown(path, max_features):
    last = np.abs(path.coef_map[-1])
    order = np.argsort(-last, kind="stable")[:max_features]
    return [path.feature_names[j] for j in sorted(order)]


def _map_panel(ax, path, shown, colors):
    for name in shown:
        j = path.feature_names.index(name)
        ax.plot(path.alphas, path.coef_map[:, j], color=colors[name], label=name)
    ax.axhline(0, color="0.6", lw=0.6)
    ax.set_ylabel("coefficient")
    ax.set_title("MAP (the penalized solution)")
    ax.legend(fontsize="x-small", frameon=False, ncol=2)


def _posterior_panel(ax, path, shown, colors):
    table = path.table
    ax.axhline(0, color="0.6", lw=0.6)
    ax.set_title(f"posterior median, {path.hdi_prob:.0%} HDI")
    if table["median"].isna().all():
        ax.text(0.5, 0.5, "no posterior (method='map')", transform=ax.transAxes,
                ha="center", va="center", color="0.4")
        return
    for name in shown:
        rows = table[table["feature"] == name]
        ax.fill_between(rows["alpha"], rows["hdi_low"], rows["hdi_high"],
                        color=colors[name], alpha=0.18, lw=0)
        ax.plot(rows["alpha"], rows["median"], color=colors[name])


def _elpd_panel(ax, path):
    ax.set_title("PSIS-LOO: elpd_loo ± se")
    if path.elpd_loo is None:
        ax.text(0.5, 0.5, "no LOO (method='map')", transform=ax.transAxes,
                ha="center", va="center", color="0.4")
        return
    ax.errorbar(path.alphas, path.elpd_loo, yerr=path.elpd_loo_se, fmt="o-", ms=3,
                color="C3", capsize=2)
    ax.set_ylabel("elpd_loo")
    marks = [(path.best_alpha, "best_alpha", "-"), (path.alpha_1se, "alpha_1se", "--")]
    for x, label, style in marks:
        if x is not None:
            ax.plot([], [], color="0.4", ls=style, label=f"{label} = {x:.3g}")
    ax.legend(fontsize="x-small", frameon=False)
