"""Forest plot of a fit: posterior HDI per coefficient with the MAP marked."""

import io

import matplotlib

matplotlib.use("Agg")  # no display on a server; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402


def forest_png(summary, names, hdi_prob) -> bytes:
    """PNG bytes from the core's ``summary()`` rows ``names``."""
    rows = summary.loc[list(names)]
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(rows) + 1.4), dpi=100)
    try:
        pos = list(range(len(rows)))[::-1]
        ax.hlines(pos, rows["hdi_low"], rows["hdi_high"], color="tab:blue", lw=2.5,
                  label=f"{hdi_prob:.0%} HDI")
        ax.plot(rows["mean"], pos, "o", color="tab:blue", ms=4, zorder=3, label="posterior mean")
        ax.plot(rows["map"], pos, "D", mfc="white", mec="tab:red", mew=1.5, ms=6, label="MAP")
        ax.axvline(0, color="0.6", lw=0.8, ls="--")
        ax.set_yticks(pos, rows.index)
        ax.set_xlabel("coefficient")
        ax.legend(loc="best", fontsize="small", frameon=False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)
