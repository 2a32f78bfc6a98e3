# %% [markdown]
# # Dropout: the scaling problem, an ensemble of thinned networks, and MC-dropout uncertainty
#
# Dropout (Srivastava et al. 2014) switches each unit off with probability $p$ at every training
# step. Three questions:
#
# 1. **Scaling.** A layer of 100 units with $p = 0.5$ has about 50 units active during training
#    but all 100 at test time, so the next layer receives inputs about twice as large as it was
#    trained on. Weight scaling and *inverted* dropout fix this.
# 2. **Ensembles.** Each mask defines a thinned network; training with dropout trains all of them
#    with shared weights. Averaging many thinned networks (Monte Carlo) versus one deterministic
#    pass with scaled weights: how close are they?
# 3. **Uncertainty.** Gal & Ghahramani (2016) read the spread of the thinned networks' predictions
#    as an approximate posterior predictive ("MC dropout"). We set its bands beside an exact
#    Bayesian posterior, `BayesianRegression` on RBF features, on 1-D data with a gap.
#
# The network is `bayesreg.dropout.MCDropoutRegressor` (ReLU MLP with inverted dropout, Adam).

# %%
import os
import sys
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")
ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "bayesreg" / "__init__.py").exists())
sys.path.insert(0, str(ROOT))
FAST = os.environ.get("BAYESREG_NOTEBOOK_FAST", "0") == "1"

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from bayesreg import BayesianRegression
from bayesreg.dropout import MCDropoutRegressor, inverted_dropout

plt.rcParams.update({"figure.dpi": 80, "axes.grid": True, "grid.alpha": 0.3})
EPOCHS, MC = (800, 300) if FAST else (2000, 4000)
N_MASKS = 2000 if FAST else 20000
print("fast mode" if FAST else "full settings", dict(epochs=EPOCHS, mc_samples=MC, masks=N_MASKS))

# %% [markdown]
# ## 1. The scaling problem
#
# Take a hidden layer of 100 units with fixed non-negative activations $h_j$ (ReLU outputs) and
# one unit of the next layer, $z = \sum_j v_j h_j$. During training each $h_j$ is kept with
# probability $1 - p = 0.5$. We draw many masks and look at the number of active units and at the
# input $z$ the next unit receives:
#
# * **plain dropout** ($\tilde h = m \odot h$): $\mathbb E[z_{\text{train}}] = (1-p)\,z$, half of
#   the test-time $z$ of the full network. Left unfixed, test-time inputs are twice as large as
#   anything seen in training. The classical fix, **weight scaling**, multiplies the weights by
#   $1 - p$ at test time.
# * **inverted dropout** ($\tilde h = m \odot h / (1-p)$, `inverted_dropout`): survivors are
#   scaled up during training, $\mathbb E[z_{\text{train}}] = z$, and the test-time network is
#   used as is. This is what `MCDropoutRegressor` does.

# %%
rng = np.random.default_rng(0)
units, p = 100, 0.5
h = rng.uniform(0, 1, units)              # activations of the layer
v = rng.normal(0.1, 0.05, units)          # weights into one next-layer unit
z_test = v @ h                            # the full network at test time

masks = rng.random((N_MASKS, units)) >= p  # keep with probability 1 - p
active = masks.sum(axis=1)
z_plain = inverted_dropout(h, masks, p, rescale=False) @ v
z_inverted = inverted_dropout(h, masks, p, rescale=True) @ v

fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
axes[0].hist(active, bins=np.arange(30, 71) - 0.5, color="C0", alpha=0.8)
axes[0].axvline(units, color="C3", lw=2)
axes[0].annotate("test time: all 100", (units, 0), xytext=(72, axes[0].get_ylim()[1] * 0.8), color="C3")
axes[0].set(xlim=(28, 104), xlabel="active units", title=f"active units during training (p = {p})")
for ax, z, name in ((axes[1], z_plain, "plain dropout"), (axes[2], z_inverted, "inverted dropout")):
    ax.hist(z, bins=60, color="C0", alpha=0.8, label="training-time input $z$")
    ax.axvline(z.mean(), color="k", ls="--", label=f"training mean {z.mean():.2f}")
    ax.axvline(z_test, color="C3", lw=2, label=f"test, unscaled {z_test:.2f}")
    if name == "plain dropout":
        ax.axvline((1 - p) * z_test, color="C2", lw=2, label=f"test, weights x (1-p) {(1 - p) * z_test:.2f}")
    ax.set(xlabel="input to the next unit", title=name)
    ax.legend(fontsize=8, loc="upper left")
plt.tight_layout()

print(f"active units: mean {active.mean():.1f} of {units}")
print(f"plain dropout: train mean {z_plain.mean():.3f}, test {z_test:.3f} (ratio {z_test / z_plain.mean():.2f})")
print(f"inverted dropout: train mean {z_inverted.mean():.3f}, test {z_test:.3f}")
assert abs(active.mean() - 50) < 1
assert abs(z_test / z_plain.mean() - 2) < 0.05           # unscaled test inputs are twice too large
assert abs(z_inverted.mean() / z_test - 1) < 0.02        # inverted dropout: no test-time fix needed

# %% [markdown]
# ## 2. Dropout as an ensemble
#
# The data: $y = x\sin x + \varepsilon$, $\varepsilon \sim N(0, 0.3^2)$, 100 points with $x$ drawn
# on $[-3,-1] \cup [1,3]$, so there is a **gap** in $(-1, 1)$ and nothing beyond $|x| = 3$. We
# train a 50-unit ReLU network with dropout $p = 0.1$ (on the input and the hidden layer) and
# precision $\tau = 10$ (noise sd about 0.3) for `EPOCHS` epochs of Adam with step size $10^{-2}$
# (at the default $10^{-3}$ this small full-batch problem is still underfit after 3000 steps).
#
# Left: 20 thinned networks (one mask each, `sample_predictions`), the average of `MC` of them,
# and the single deterministic pass with dropout off (inverted dropout makes that the weight-scaling
# rule). For a linear network they would agree exactly; with ReLUs the average of the thinned
# networks is not the network of the averaged weights. Here they differ visibly: with a single
# input, one pass in ten drops the input itself, and the network trained to do well *on average
# over masks* is not the same as the plain network with scaled weights. Right: the
# error of each against the true function on in-range test points, and how the MC average settles
# as the number of thinned networks grows.

# %%
def f(x):
    return x * np.sin(x)


NOISE = 0.3
data_rng = np.random.default_rng(1)
x_train = np.r_[data_rng.uniform(-3, -1, 50), data_rng.uniform(1, 3, 50)]
y_train = f(x_train) + NOISE * data_rng.normal(size=x_train.size)
grid = np.linspace(-4.5, 4.5, 301)
in_range = (np.abs(grid) > 1) & (np.abs(grid) < 3)
gap = np.abs(grid) < 1

net = MCDropoutRegressor(hidden=(50,), dropout=0.1, tau=10.0, epochs=EPOCHS, learning_rate=1e-2,
                         mc_samples=MC, seed=2).fit(x_train[:, None], y_train)
passes = net.sample_predictions(grid[:, None])            # (MC, len(grid))
mc_mean = passes.mean(axis=0)
det = net.predict_deterministic(grid[:, None])

rmse = lambda pred: float(np.sqrt(np.mean((pred[in_range] - f(grid[in_range])) ** 2)))  # noqa: E731
running = np.cumsum(passes, axis=0) / np.arange(1, len(passes) + 1)[:, None]
Ts = np.unique(np.geomspace(1, len(passes), 30).astype(int))
dist_to_final = [float(np.sqrt(np.mean((running[t - 1] - mc_mean) ** 2))) for t in Ts]

fig, axes = plt.subplots(1, 2, figsize=(14, 4.5))
ax = axes[0]
ax.axvspan(-1, 1, color="0.9", label="gap (no data)")
ax.plot(grid, passes[:20].T, color="C0", lw=0.6, alpha=0.6)
ax.plot([], [], color="C0", lw=0.6, label="20 thinned networks")
ax.plot(grid, mc_mean, color="C3", lw=2.5, label=f"MC average of {len(passes)}")
ax.plot(grid, det, color="k", ls="--", lw=2, label="deterministic (weight scaling)")
ax.plot(grid, f(grid), color="C2", lw=1.5, label="truth")
ax.plot(x_train, y_train, "k.", ms=4)
ax.set(xlabel="x", ylabel="y", ylim=(-4, 5), title="thinned networks and their average")
ax.legend(fontsize=8, loc="upper center", ncol=2)
ax = axes[1]
ax.loglog(Ts, dist_to_final, "o-", color="C3", label="RMS(average of T - average of all)")
ax.axhline(float(np.sqrt(np.mean((det - mc_mean)[in_range] ** 2))), color="k", ls="--",
           label="RMS(deterministic - MC average), in range")
ax.plot(Ts, passes.std(axis=0)[in_range].mean() / np.sqrt(Ts), ":", color="0.4", label=r"sd of one pass / $\sqrt{T}$")
ax.set(xlabel="number of thinned networks T", title="how the MC average settles")
ax.legend(fontsize=8)
plt.tight_layout()

print(f"in-range RMSE vs truth: MC average {rmse(mc_mean):.3f}, deterministic {rmse(det):.3f}")
print(f"in range, mean |MC average - deterministic| = {np.abs(mc_mean - det)[in_range].mean():.3f}; "
      f"mean sd of one thinned network = {passes.std(axis=0)[in_range].mean():.3f}")
assert rmse(mc_mean) < 0.25 and rmse(det) < 0.5       # both fit where there are data ...
assert rmse(mc_mean) < rmse(det)                       # ... the MC average better
# one pass vs T passes: expected ratio sqrt((1 - 1/N) / (1/T - 1/N)), about 5.6 at T = 28 of 300;
# a single pass varies a lot, hence the margin
assert dist_to_final[-1] < 1e-9 and dist_to_final[0] > 3 * dist_to_final[len(Ts) // 2]

# %% [markdown]
# ## 3. MC-dropout bands beside the full posterior
#
# MC dropout's predictive is the mixture $\frac1T\sum_t N(\hat y_t(x), \tau^{-1})$;
# `predict_interval` returns its 95% HDI (the HDI of the passes, each with one noise draw), as
# `BayesianRegression` does. Beside it, the Bayesian linear model
# on 15 Gaussian radial basis functions (centres from -3.5 to 3.5, width 0.7) with a ridge prior
# and unknown noise, `BayesianRegression(prior="ridge", method="exact")`: the closed-form
# posterior, and its 95% HDI of a new observation. The settings are those of the project's
# benchmark `benchmarks/dropout_vs_posterior.py`.
#
# Look at the gap. The posterior knows it has no data there: with nothing pinning the RBF weights,
# their prior spread shows and the band widens. The MC-dropout band keeps about the width it has
# where there are data: the thinned networks agree with each other in the gap, so the spread
# between them says little about what was never observed.

# %%
def rbf(x, centres=np.linspace(-3.5, 3.5, 15), ls=0.7):
    return np.exp(-0.5 * ((np.asarray(x)[:, None] - centres[None, :]) / ls) ** 2)


blr = BayesianRegression(prior="ridge", alpha=1e-3, method="exact", hdi_prob=0.95,
                         seed=3).fit(rbf(x_train), y_train)
band_b = blr.predict_interval(rbf(grid))
band_d = net.predict_interval(grid[:, None], hdi_prob=0.95)

fig, axes = plt.subplots(1, 2, figsize=(14, 4.5), sharey=True)
for ax, (name, lo, hi, mean), color in zip(axes, (
        ("MC dropout, 95% predictive interval", band_d.obs_low, band_d.obs_high, band_d.mean),
        ("Bayesian ridge on RBF features, 95% HDI (new y)", band_b.obs_low, band_b.obs_high, band_b.mean)),
        ("C3", "C0")):
    ax.axvspan(-1, 1, color="0.9")
    ax.fill_between(grid, lo, hi, color=color, alpha=0.3)
    ax.plot(grid, mean, color=color, lw=2, label="predictive mean")
    ax.plot(grid, f(grid), color="C2", lw=1.5, label="truth")
    ax.plot(x_train, y_train, "k.", ms=4)
    ax.set(title=name, xlabel="x", ylim=(-5, 6))
    ax.legend(loc="upper center")
plt.tight_layout()

width = {"MC dropout": band_d.obs_high - band_d.obs_low, "Bayesian RBF": band_b.obs_high - band_b.obs_low}
covered = {"MC dropout": (f(grid) >= band_d.obs_low) & (f(grid) <= band_d.obs_high),
           "Bayesian RBF": (f(grid) >= band_b.obs_low) & (f(grid) <= band_b.obs_high)}
for k in width:
    print(f"{k:13s} mean width: in range {width[k][in_range].mean():.2f}, gap {width[k][gap].mean():.2f}; "
          f"truth inside the band: in range {covered[k][in_range].mean():.0%}, gap {covered[k][gap].mean():.0%}")
assert width["Bayesian RBF"][gap].mean() > 1.5 * width["Bayesian RBF"][in_range].mean()
assert covered["Bayesian RBF"][gap].mean() > 0.9
assert width["MC dropout"][gap].mean() < 1.5 * width["MC dropout"][in_range].mean()

# %% [markdown]
# A calibrated band for a new observation is about $2 \times 1.96 \times 0.3 \approx 1.2$ wide
# where the function is known; both methods are close to that in range. In the gap they part
# ways: the posterior widens and still covers the truth, MC dropout stays narrow and confident
# about a curve it has never seen. (With other widths, depths, dropout rates or activations the
# MC-dropout band does change in the gap; how much is not controlled by anything in the data.)
#
# ## 4. The UCI benchmark
#
# The project's benchmarks (`benchmarks/uci_dropout.py`, `benchmarks/dropout_vs_posterior.py`)
# write their results under `benchmarks/results/`. The tables below are read from those files when
# this notebook runs; nothing here is typed in by hand.

# %%
results = ROOT / "benchmarks" / "results"
for fname in ("dropout_uci.md", "dropout_vs_posterior.md"):
    path = results / fname
    if path.exists():
        text = path.read_text()
        # demote the file's headings below this notebook's
        text = "\n".join("###" + ln if ln.startswith("#") else ln for ln in text.splitlines())
        display(Markdown(f"**From `benchmarks/results/{fname}`:**\n\n" + text))
    else:
        display(Markdown(f"`benchmarks/results/{fname}` does not exist yet: run the benchmark "
                         f"to produce it. No numbers are shown rather than invented ones."))

# %% [markdown]
# **What we saw.** Without rescaling, a dropout network sees inputs twice as large at test time
# as in training ($p = 0.5$); inverted dropout makes training and test expectations agree. The
# deterministic network is a cheap approximation to the average of the thinned networks; for a
# ReLU network with input dropout it is visibly worse here than the MC average. Read as a posterior, the spread of the thinned networks gives
# sensible bands where there are data and over-confident ones where there are none, where an
# exact Bayesian posterior widens as it should.
