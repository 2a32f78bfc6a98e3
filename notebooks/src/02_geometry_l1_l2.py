# %% [markdown]
# # The geometry of L1 and L2: why the lasso gives exact zeros
#
# Penalized least squares can be read two ways. As a **penalty**, the MAP of `bayesreg`
# minimizes scikit-learn's objective
#
# $$\frac{1}{2n}\lVert y - Xw - b\rVert^2 + \alpha\,\mathrm{pen}(w),\qquad
#   \mathrm{pen}_{\text{lasso}}(w) = \lVert w\rVert_1,\quad
#   \mathrm{pen}_{\text{ridge}}(w) = \tfrac12\lVert w\rVert_2^2 .$$
#
# As a **constraint**, the same solution $\hat w(\alpha)$ minimizes the loss alone over the
# region $\mathrm{pen}(w) \le t$ with $t = \mathrm{pen}(\hat w(\alpha))$ (Lagrange duality:
# every $\alpha$ has its $t$). The region is a **diamond** for L1 and a **disc** for L2. With two
# features we can draw everything: the elliptical contours of the loss, centred at the
# least-squares fit, grow until they first touch the region, and the touching point is the
# solution. A diamond has corners on the axes, and a growing ellipse very often meets a corner
# first; a corner is a point where one coefficient is exactly zero. A disc has no corners, so
# ridge shrinks but (almost surely) never zeroes.
#
# Every solution below is `BayesianRegression(method="map")`, the exact MAP of the Laplace
# (lasso) or Gaussian (ridge) prior.

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

from bayesreg import BayesianRegression

plt.rcParams.update({"figure.dpi": 80, "axes.grid": True, "grid.alpha": 0.3})
print("fast mode" if FAST else "full settings")

# %% [markdown]
# ## A two-feature problem
#
# 100 observations of two correlated features (correlation 0.6); the truth is
# $w = (1.5, 0.4)$ with unit noise. We centre X and y so that the intercept plays no role in the
# pictures (the estimator still fits it, unpenalized).

# %%
rng = np.random.default_rng(2)
n = 100
X = rng.multivariate_normal([0, 0], [[1.0, 0.6], [0.6, 1.0]], size=n)
X -= X.mean(axis=0)
y = X @ np.array([1.5, 0.4]) + rng.normal(0, 1.0, n)
y -= y.mean()

w_ols = np.linalg.lstsq(X, y, rcond=None)[0]


def loss(w1, w2):
    """(1/2n) ||y - X w||^2 on a grid of (w1, w2)."""
    w1, w2 = np.asarray(w1, float), np.asarray(w2, float)
    r = y.reshape((-1,) + (1,) * w1.ndim) - np.multiply.outer(X[:, 0], w1) - np.multiply.outer(X[:, 1], w2)
    return (r**2).sum(axis=0) / (2 * n)


def fit_map(prior, alpha):
    return BayesianRegression(prior=prior, alpha=alpha, method="map").fit(X, y).coef_


print("least squares:", w_ols.round(3))

# %% [markdown]
# ## The MAP path
#
# We solve both problems on a grid of penalties. The lasso's second coefficient reaches
# **exactly** 0.0 at a finite $\alpha$ and stays there; ridge's coefficients only approach 0.

# %%
alphas = np.logspace(-3, 1.5, 50 if FAST else 200)
path = {prior: np.array([fit_map(prior, a) for a in alphas]) for prior in ("lasso", "ridge")}

one_zero = (path["lasso"][:, 1] == 0.0) & (path["lasso"][:, 0] != 0.0)
alpha_show = float(np.exp(np.log(alphas[one_zero]).mean()))  # middle of the one-zero stretch
w_lasso, w_ridge = fit_map("lasso", alpha_show), fit_map("ridge", alpha_show)
print(f"alpha = {alpha_show:.3f}: lasso {w_lasso.round(4)}, ridge {w_ridge.round(4)}")

# The point of the notebook, checked: at the same alpha lasso has an exact zero, ridge has none.
assert w_lasso[1] == 0.0 and w_lasso[0] != 0.0
assert np.all(w_ridge != 0.0)
# Ridge never produces an exact zero anywhere on the path.
assert np.all(path["ridge"] != 0.0)

# %% [markdown]
# ## Where the contours first touch the region
#
# Left: the L1 diamond $|w_1| + |w_2| \le t$ with $t = \lVert \hat w_{\text{lasso}}\rVert_1$.
# Right: the L2 disc $w_1^2 + w_2^2 \le t^2$ with $t = \lVert \hat w_{\text{ridge}}\rVert_2$, at
# the same $\alpha$. Thin lines are loss contours around the least-squares point (cross); the
# thick contour is the level set through the MAP, the one that *just touches* the region. On the
# left it touches at the corner on the $w_1$ axis, so $\hat w_2 = 0$; on the right it touches
# the smooth boundary at a point with both coordinates non-zero.

# %%
g1, g2 = np.meshgrid(np.linspace(-0.6, 2.2, 300), np.linspace(-1.0, 1.4, 300))
L = loss(g1, g2)
levels = np.quantile(L, np.linspace(0.002, 0.5, 12))

fig, axes = plt.subplots(1, 2, figsize=(11, 5))
theta = np.linspace(0, 2 * np.pi, 400)
for ax, name, w in ((axes[0], "lasso (L1)", w_lasso), (axes[1], "ridge (L2)", w_ridge)):
    ax.contour(g1, g2, L, levels=levels, colors="0.6", linewidths=0.7)
    ax.contour(g1, g2, L, levels=[float(loss(w[0], w[1]).squeeze())], colors="C3", linewidths=2)
    if name.startswith("lasso"):
        t = np.abs(w).sum()
        region = np.array([[t, 0], [0, t], [-t, 0], [0, -t], [t, 0]])
    else:
        t = np.linalg.norm(w)
        region = t * np.c_[np.cos(theta), np.sin(theta)]
    ax.fill(region[:, 0], region[:, 1], color="C0", alpha=0.25)
    ax.plot(region[:, 0], region[:, 1], color="C0")
    ax.plot(*w_ols, "kx", ms=10, mew=2, label="least squares")
    ax.plot(*w, "o", color="C3", ms=8, label=f"MAP ({w[0]:.2f}, {w[1]:.2f})")
    ax.axhline(0, color="k", lw=0.6)
    ax.axvline(0, color="k", lw=0.6)
    ax.set(title=f"{name}, alpha = {alpha_show:.3f}", xlabel="$w_1$", ylabel="$w_2$", aspect="equal")
    ax.legend(loc="lower right")
plt.tight_layout()

# %% [markdown]
# The constrained reading is not a cartoon: minimizing the loss by brute force over the
# boundary of the diamond (and of the disc) lands on the penalized MAP.

# %%
phi = np.linspace(0, 2 * np.pi, 20001)
t1 = np.abs(w_lasso).sum()
diamond = t1 * np.c_[np.cos(phi), np.sin(phi)] / (np.abs(np.cos(phi)) + np.abs(np.sin(phi)))[:, None]
disc = np.linalg.norm(w_ridge) * np.c_[np.cos(phi), np.sin(phi)]
best_diamond = diamond[np.argmin(loss(diamond[:, 0], diamond[:, 1]))]
best_disc = disc[np.argmin(loss(disc[:, 0], disc[:, 1]))]
print("diamond boundary minimizer", best_diamond.round(4), " lasso MAP", w_lasso.round(4))
print("disc boundary minimizer   ", best_disc.round(4), " ridge MAP", w_ridge.round(4))
assert np.allclose(best_diamond, w_lasso, atol=2e-3)
assert np.allclose(best_disc, w_ridge, atol=2e-3)

# %% [markdown]
# ## The whole path, in the plane and against $\alpha$
#
# As $\alpha$ grows the region shrinks and the solution travels from the least-squares point to
# the origin. The lasso path runs straight into the $w_1$ axis, then **along** it: once on the
# corner it stays there for a whole range of $\alpha$. The ridge path bends towards the origin
# without ever meeting an axis.

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
ax = axes[0]
ax.contour(g1, g2, L, levels=levels, colors="0.7", linewidths=0.7)
ax.plot(*path["lasso"].T, "-", color="C3", lw=2, label="lasso MAP path")
ax.plot(*path["ridge"].T, "-", color="C0", lw=2, label="ridge MAP path")
ax.plot(*w_ols, "kx", ms=10, mew=2, label="least squares")
ax.axhline(0, color="k", lw=0.6)
ax.axvline(0, color="k", lw=0.6)
ax.set(xlabel="$w_1$", ylabel="$w_2$", aspect="equal", title="paths in the $(w_1, w_2)$ plane")
ax.legend()
ax = axes[1]
for j, ls in ((0, "-"), (1, "--")):
    ax.plot(alphas, path["lasso"][:, j], ls, color="C3", label=f"lasso $w_{j + 1}$")
    ax.plot(alphas, path["ridge"][:, j], ls, color="C0", label=f"ridge $w_{j + 1}$")
ax.axvline(alpha_show, color="0.5", lw=0.8)
ax.set(xscale="log", xlabel=r"$\alpha$", ylabel="coefficient", title="coefficients against the penalty")
ax.legend()
plt.tight_layout()

# %% [markdown]
# ## Why corners give zeros
#
# At a point with $w_2 = 0$ the L1 penalty is not differentiable: its subgradient in $w_2$ is
# the whole interval $[-\alpha, \alpha]$. The optimality (KKT) condition for $w_2 = 0$ is
#
# $$\Big|\tfrac1n x_2^\top (y - X\hat w)\Big| \le \alpha,$$
#
# an *inequality*, which holds on an interval of $\alpha$ values: the loss's pull on $w_2$ is
# absorbed by the kink. The ridge penalty's gradient in $w_2$ is $\alpha w_2$, which vanishes at
# $w_2 = 0$; the condition becomes the *equation* $\frac1n x_2^\top r = 0$, met only by accident.
# Geometrically: at a corner the diamond has a whole cone of outward normals, so many ellipse
# orientations touch it there; the disc has one normal at each point.

# %%
r = y - X @ w_lasso
pull = abs(X[:, 1] @ r) / n
print(f"|x2' r| / n = {pull:.4f}  <=  alpha = {alpha_show:.4f}")
assert pull <= alpha_show + 1e-8
# The stretch of alpha where lasso keeps w2 at exactly 0 while w1 is active:
print(f"w2 == 0 exactly for alpha in [{alphas[one_zero].min():.3f}, {alphas[one_zero].max():.3f}]")

# %% [markdown]
# **What we saw.** At the same $\alpha$, lasso's MAP is a corner of the diamond ($\hat w_2$ is
# exactly zero) while ridge's MAP is a smooth point of the disc (both non-zero). Seen the
# Bayesian way, the diamond is a level set of the Laplace prior and the disc of the Gaussian:
# the Laplace density's peak at zero is what makes its *mode* sparse. Its *posterior mean and
# median* are not sparse; notebooks 04 and 05 look at the full posterior.
