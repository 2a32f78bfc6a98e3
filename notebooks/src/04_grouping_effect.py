# %% [markdown]
# # The grouping effect: two copies of one feature
#
# Measure everyone's height twice, once in centimetres and once in inches, each with a little
# measurement noise, and add five features of pure noise. The two height columns are almost
# perfectly correlated (about 0.999): the data say a lot about their **combined** effect and
# almost nothing about how to split it between them.
#
# * The **lasso** MAP typically picks one of the two and drops the other, and which one it picks
#   flips from one bootstrap resample to the next: a coin toss presented as a sparse answer.
# * The **elastic net** (Zou & Hastie 2005) adds an L2 term that makes the objective strictly
#   convex; it keeps both, with nearly equal standardized weights (the *grouping effect*).
# * The **posterior** shows what the data actually say: a long thin ridge along
#   $w_{\text{in}} + 2.54\,w_{\text{cm}} \approx \text{const}$, every split of the same total.
#
# All fits use `standardize=True`, so the penalty treats a centimetre and an inch alike.

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
import pandas as pd

from bayesreg import BayesianRegression

plt.rcParams.update({"figure.dpi": 80, "axes.grid": True, "grid.alpha": 0.3})
N_BOOT = 100 if FAST else 400
DRAWS, TUNE, CHAINS = (300, 300, 2) if FAST else (1000, 1000, 4)
print("fast mode" if FAST else "full settings", dict(bootstrap=N_BOOT, draws=DRAWS, chains=CHAINS))

# %% [markdown]
# ## The data
#
# 100 people, true height $h \sim N(172, 9^2)$ cm; measured `height_in` $= h/2.54 + N(0, 0.1^2)$
# and `height_cm` $= h + N(0, 0.25^2)$; weight $= -60 + 0.75\,h + N(0, 6^2)$ kg; `noise1..5`
# are independent standard normals. A true effect of 0.75 kg per cm is
# $w_{\text{in}} + 2.54\,w_{\text{cm}} = 1.905$ kg per inch, however it is split.

# %%
rng = np.random.default_rng(4)
n = 100
h = rng.normal(172, 9, n)
X = pd.DataFrame({"height_in": h / 2.54 + rng.normal(0, 0.1, n),
                  "height_cm": h + rng.normal(0, 0.25, n)})
for j in range(1, 6):
    X[f"noise{j}"] = rng.normal(0, 1, n)
y = -60 + 0.75 * h + rng.normal(0, 6, n)
TOTAL = 0.75 * 2.54
print(f"corr(height_in, height_cm) = {np.corrcoef(X.height_in, X.height_cm)[0, 1]:.4f}")

ALPHA, L1_RATIO = 0.3, 0.5
lasso = BayesianRegression(prior="lasso", alpha=ALPHA, standardize=True, method="map")
enet = BayesianRegression(prior="elastic_net", alpha=ALPHA, l1_ratio=L1_RATIO, standardize=True,
                          method="map")
pd.DataFrame({"lasso MAP": lasso.fit(X, y).coef_, "elastic net MAP": enet.fit(X, y).coef_},
             index=X.columns).round(3)

# %% [markdown]
# ## Bootstrap: which height does each method keep?
#
# Refit both on `N_BOOT` resamples (rows drawn with replacement) and record the pair of height
# coefficients. Each point is one resample; the dashed line is
# $w_{\text{in}} + 2.54\,w_{\text{cm}} = 1.905$, the truth's total. The lasso's points sit on
# the two axes (one coefficient exactly zero) and jump between them; the elastic net's form one
# cloud in between, both coefficients non-zero.

# %%
boot_rng = np.random.default_rng(5)
coefs = {"lasso": [], "elastic net": []}
for _ in range(N_BOOT):
    i = boot_rng.integers(0, n, n)
    coefs["lasso"].append(lasso.fit(X.iloc[i], y[i]).coef_[:2])
    coefs["elastic net"].append(enet.fit(X.iloc[i], y[i]).coef_[:2])
coefs = {k: np.array(v) for k, v in coefs.items()}

L = coefs["lasso"]
choice = pd.Series({
    "inches only": np.mean((L[:, 0] != 0) & (L[:, 1] == 0)),
    "centimetres only": np.mean((L[:, 0] == 0) & (L[:, 1] != 0)),
    "both": np.mean((L[:, 0] != 0) & (L[:, 1] != 0)),
    "neither": np.mean((L[:, 0] == 0) & (L[:, 1] == 0)),
}, name="lasso: share of resamples")
E = coefs["elastic net"]
sd = X[["height_in", "height_cm"]].std(ddof=0).to_numpy()
ratio = (E[:, 0] * sd[0]) / (E[:, 1] * sd[1])  # standardized weights, inches over cm
print(choice.round(3).to_string())
print(f"elastic net: both non-zero in {np.mean((E != 0).all(axis=1)):.0%} of resamples; "
      f"median ratio of standardized weights (in / cm) {np.median(ratio):.3f}")

fig, axes = plt.subplots(1, 2, figsize=(12, 5), sharex=True, sharey=True)
line = np.linspace(-0.5, 2.5, 10)
for ax, (name, C), color in zip(axes, coefs.items(), ("C3", "C2")):
    ax.plot(line, (TOTAL - line) / 2.54, "k--", lw=1, label=r"$w_{in} + 2.54\,w_{cm} = 1.905$")
    ax.scatter(C[:, 0], C[:, 1], s=12, alpha=0.5, color=color, label=f"{name} MAP, one per resample")
    ax.axhline(0, color="k", lw=0.6)
    ax.axvline(0, color="k", lw=0.6)
    ax.set(title=f"{name} over {N_BOOT} bootstrap resamples", xlabel="$w_{in}$ (kg per inch)",
           ylabel="$w_{cm}$ (kg per cm)")
    ax.legend(loc="upper right")
plt.tight_layout()

# The lasso mostly keeps one height and the chosen one flips; the elastic net keeps both, alike.
assert choice["inches only"] + choice["centimetres only"] > 0.6
assert min(choice["inches only"], choice["centimetres only"]) > 0.1
assert np.mean((E != 0).all(axis=1)) > 0.95
assert 0.8 < np.median(ratio) < 1.25

# %% [markdown]
# ## The posterior view
#
# Now the full posterior of the same two models (NUTS), on the full data. The scatter of
# posterior draws of $(w_{\text{in}}, w_{\text{cm}})$ is a thin ridge along the dashed line:
# the likelihood pins down $w_{\text{in}} + 2.54\,w_{\text{cm}}$ and leaves the split to the
# prior. Under the Laplace prior the ridge is *not* cut down to one axis: the lasso's posterior
# spreads over all splits, and its MAP (red diamond) is just the one point of the ridge where
# the prior density peaks. The elastic-net posterior is the same ridge, shortened by the
# Gaussian part of its prior and centred on the even split.
# The sparse lasso answer is a property of the mode, not of the posterior.

# %%
post = {}
for name, prior in (("lasso", "lasso"), ("elastic net", "elastic_net")):
    est = BayesianRegression(prior=prior, alpha=ALPHA, l1_ratio=L1_RATIO, standardize=True,
                             draws=DRAWS, tune=TUNE, chains=CHAINS, seed=6).fit(X, y)
    w = est.posterior_.posterior["coef"].sel(feature=["height_in", "height_cm"])
    post[name] = (w.values.reshape(-1, 2), est.coef_[:2], est.diagnostics_)
    print(name, "diagnostics:", {k: est.diagnostics_[k] for k in ("divergences", "max_r_hat")})

fig, axes = plt.subplots(1, 2, figsize=(12, 5), sharex=True, sharey=True)
for ax, (name, (W, w_map, _)), color in zip(axes, post.items(), ("C3", "C2")):
    ax.scatter(W[:, 0], W[:, 1], s=3, alpha=0.25, color=color, label="posterior draws")
    ax.plot(line, (TOTAL - line) / 2.54, "k--", lw=1, label=r"$w_{in} + 2.54\,w_{cm} = 1.905$")
    ax.plot(*w_map, "D", color="k", mfc="C3", ms=9, label="MAP")
    ax.axhline(0, color="k", lw=0.6)
    ax.axvline(0, color="k", lw=0.6)
    ax.set(title=f"{name}: joint posterior of the pair", xlabel="$w_{in}$ (kg per inch)",
           ylabel="$w_{cm}$ (kg per cm)")
    ax.legend(loc="upper right")
plt.tight_layout()

rows = []
for name, (W, w_map, _) in post.items():
    combo = W[:, 0] + 2.54 * W[:, 1]
    rows.append({"model": name, "corr(w_in, w_cm)": np.corrcoef(W.T)[0, 1],
                 "sd of w_in": W[:, 0].std(), "sd of w_cm * 2.54": (2.54 * W[:, 1]).std(),
                 "mean of w_in + 2.54 w_cm": combo.mean(), "sd of w_in + 2.54 w_cm": combo.std()})
summary = pd.DataFrame(rows).set_index("model")
summary.round(3)

# %%
# (the elastic net's Gaussian part shortens its ridge, hence the looser bounds)
bounds = {"lasso": (-0.9, 3.0), "elastic net": (-0.75, 1.5)}
for name, row in summary.iterrows():
    max_corr, factor = bounds[name]
    # A ridge: the two coefficients trade off against each other ...
    assert row["corr(w_in, w_cm)"] < max_corr, name
    # ... and their combination is known better than either coefficient ...
    assert row["sd of w_in + 2.54 w_cm"] < row["sd of w_in"] / factor, name
    # ... and it is close to the truth's 1.905 kg per inch.
    assert abs(row["mean of w_in + 2.54 w_cm"] - TOTAL) < 4 * row["sd of w_in + 2.54 w_cm"], name
# Unlike its MAP, the lasso posterior does not sit on an axis: it has mass on both heights.
W = post["lasso"][0]
assert np.mean(W[:, 0] > 0) > 0.2 and np.mean(W[:, 1] > 0) > 0.2

# %% [markdown]
# **What we saw.** With two copies of one measurement the data identify only their sum. The
# lasso's MAP answers a question the data cannot: *which* copy matters, and its answer changes
# with a resample. The elastic net's L2 part breaks the tie evenly and stably. The posterior,
# for either prior, shows the honest picture: a ridge of equally good splits, with the combined
# effect well determined. When features come in near-duplicate groups, read the group's total,
# not the individual coefficients.
