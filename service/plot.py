"""The service's PNGs: the forest plot of a fit (posterior HDI per coefficient, the MAP
marked) and the figure of a regularization path."""

import io

from matplotlib.figure import Figure

__all__ = ["MARGIN", "ROW_HEIGHT", "forest_png", "path_png"]

# Inches per coefficient row and for the axis, legend and title; at 100 dpi a plot of
# k rows is 100 * (ROW_HEIGHT * k + MARGIN) pixels high.
ROW_HEIGHT = 0.45
MARGIN = 1.7


def forest_png(summary, names, hdi_prob, max_coefs=50) -> bytes:
    """PNG bytes from the core's ``summary()`` rows ``names``.

    At most ``max_coefs`` rows are drawn: beyond that, the ``max_coefs``
    coefficients with the largest absolute posterior mean (in feature order),
    and the title says so. The image height grows with the rows drawn, so this
    bounds the drawing time and the size of the PNG.
    """
    rows = summary.loc[list(names)]
    title = None
    if len(rows) > max_coefs:
        top = rows["mean"].abs().to_numpy().argsort(kind="stable")[::-1][:max_coefs]
        title = f"{max_coefs} of {len(rows)} coefficients: those with the largest |posterior mean|"
        rows = rows.iloc[sorted(top)]
    # Figure, not pyplot: no global figure registry shared by the HTTP threads.
    fig = Figure(figsize=(6.5, ROW_HEIGHT * len(rows) + MARGIN), dpi=100)
    ax = fig.add_subplot()
    pos = list(range(len(rows)))[::-1]
    ax.hlines(pos, rows["hdi_low"], rows["hdi_high"], color="tab:blue", lw=2.5,
              label=f"{hdi_prob:.0%} HDI")
    ax.plot(rows["mean"], pos, "o", color="tab:blue", ms=4, zorder=3, label="posterior mean")
    if rows["map"].notna().any():       # a horseshoe has no MAP: no empty legend entry
        ax.plot(rows["map"], pos, "D", mfc="white", mec="tab:red", mew=1.5, ms=6, label="MAP")
    ax.axvline(0, color="0.6", lw=0.8, ls="--")
    ax.set_yticks(pos, rows.index)
    ax.set_xlabel("coefficient")
    if title:
        ax.set_title(title, fontsize="small")
    ax.legend(loc="best", fontsize="small", frameon=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def path_png(result) -> bytes:
    """PNG bytes of a stored regularization path (its ``to_dict()``): the core's own figure,
    ``RegularizationPath.from_dict(result).plot()``."""
    from bayesreg import RegularizationPath

    fig = RegularizationPath.from_dict(result).plot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
