# %% [markdown]
# # Bias and variance: ten points, a parabola and a degree-20 polynomial
#
# Ten noisy points from a parabola. A straight line **underfits** (it cannot bend: bias), a
# parabola fits, and a polynomial of degree 20 (more coefficients than points) passes through
# every point and swings wildly in between: it **overfits** (it follows the noise: variance).
#
# A Gaussian prior on the coefficients, the ridge penalty, tames the degree-20 model without
# removing a single term. With `BayesianRegression(prior="ridge", method="exact")` we get the
# conjugate closed-form posterior, so besides the MAP we get a posterior predictive band. Then
# we measure bias$^2$ and variance over many simulated data sets as the penalty $\alpha$ varies:
# the total error is U-shaped, and the bottom of the U is the useful amount of regularization.

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
N_SIM, N_ALPHA = (30, 9) if FAST else (300, 25)
print("fast mode" if FAST else "full settings", dict(simulations=N_SIM, alphas=N_ALPHA))

# %% [markdown]
# ## The data and three polynomial fits by least squares
#
# $f(x) = 1.5x^2 - 0.5$ on $[-1, 1]$, noise sd 0.3. The features of a degree-$d$ fit are
# $x, x^2, \dots, x^d$ (plus an intercept). With 21 unknowns and 10 equations least squares is
# underdetermined; `lstsq` returns the minimum-norm interpolant.

# %%
def f(x):
    return 1.5 * x**2 - 0.5


def powers(x, degree):
    return np.vander(np.asarray(x, float), degree + 1, increasing=True)[:, 1:]


NOISE = 0.3
rng = np.random.default_rng(10)
n = 10
x = np.sort(rng.uniform(-1, 1, n))
y = f(x) + rng.normal(0, NOISE, n)
grid = np.linspace(-1, 1, 400)


def ols(degree):
    A = np.c_[np.ones(n), powers(x, degree)]
    w = np.linalg.lstsq(A, y, rcond=None)[0]
    return lambda t: np.c_[np.ones(len(t)), powers(t, degree)] @ w


fits = {d: ols(d) for d in (1, 2, 20)}
test_mse = {d: np.mean((fit(grid) - f(grid)) ** 2) for d, fit in fits.items()}
train_mse = {d: np.mean((fit(x) - y) ** 2) for d, fit in fits.items()}

fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
for ax, (d, label) in zip(axes, ((1, "underfit"), (2, "fit"), (20, "overfit"))):
    ax.plot(grid, f(grid), "k--", lw=1, label="truth $f$")
    ax.plot(grid, fits[d](grid), color="C3", lw=2, label=f"degree {d}")
    ax.plot(x, y, "ko")
    ax.set(title=f"degree {d}: {label}\ntrain MSE {train_mse[d]:.3f}, error vs f {test_mse[d]:.3g}",
           ylim=(-2, 2.5), xlabel="x")
    ax.legend(loc="upper center")
plt.tight_layout()

assert train_mse[20] < 1e-12                    # interpolates the noise ...
assert test_mse[20] > 10 * test_mse[2]          # ... and is far off between the points
assert test_mse[2] < test_mse[1]

# %% [markdown]
# ## Degree 20 under a Gaussian prior
#
# The same 20 features, now with the ridge prior $w_j \sim N(0, \sigma^2/(n\alpha))$ on the
# standardized columns (`standardize=True`: every power is penalized on a comparable scale;
# results are reported on the original scale). `method="exact"` gives the conjugate posterior in
# closed form, and `predict_interval` the 94% highest-density band of the regression curve
# (dark) and of a new observation (light).
#
# Tiny $\alpha$ gives back the (nearly) interpolating curve, with bands that explode where the
# points are sparse and beyond the outermost ones: the model admits it knows little there; a moderate $\alpha$ gives a smooth curve close to the
# parabola whose band covers the truth; a huge $\alpha$ flattens everything towards the mean
# (bias), and the band is then wide because $\sigma$ is estimated large.

# %%
F20, G20 = powers(x, 20), powers(grid, 20)
show = (1e-7, 0.3, 300.0)
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
for ax, a in zip(axes, show):
    est = BayesianRegression(prior="ridge", alpha=a, standardize=True, method="exact",
                             seed=1).fit(F20, y)
    band = est.predict_interval(G20)
    ax.fill_between(grid, band.obs_low, band.obs_high, color="C0", alpha=0.2, label="new observation")
    ax.fill_between(grid, band.mean_low, band.mean_high, color="C0", alpha=0.5, label="regression curve")
    ax.plot(grid, est.predict(G20), color="C3", lw=2, label="MAP")
    ax.plot(grid, f(grid), "k--", lw=1, label="truth")
    ax.plot(x, y, "ko")
    err = np.mean((est.predict(G20) - f(grid)) ** 2)
    ax.set(title=f"ridge, degree 20, alpha = {a:g}\nerror vs f {err:.3g}", ylim=(-2, 2.5), xlabel="x")
    if a == show[1]:
        good, good_band = est, band
axes[0].legend(loc="upper center", fontsize=8)
plt.tight_layout()

err_good = np.mean((good.predict(G20) - f(grid)) ** 2)
inside = np.mean((f(grid) >= good_band.obs_low) & (f(grid) <= good_band.obs_high))
print(f"alpha = {show[1]}: error vs f {err_good:.4f} (OLS degree 20: {test_mse[20]:.3g}); "
      f"truth inside the predictive band on {inside:.0%} of the grid")
assert err_good < test_mse[20] / 100
assert inside > 0.9

# %% [markdown]
# ## Bias$^2$ and variance over many data sets
#
# Keep the ten $x$ values, draw fresh noise `N_SIM` times, and fit the degree-20 ridge MAP on
# each data set for a grid of $\alpha$. At each point $t$ of a test grid, with $\hat f_s$ the fit
# to data set $s$,
#
# $$\text{bias}^2(t) = \big(\overline{\hat f}(t) - f(t)\big)^2,\qquad
#   \text{variance}(t) = \frac1S \sum_s \big(\hat f_s(t) - \overline{\hat f}(t)\big)^2,$$
#
# averaged over $t$; their sum is the expected squared error of the fitted curve against the
# truth. Small $\alpha$: no bias to speak of, huge variance. Large $\alpha$: tiny variance, the
# bias of a curve flattened towards the mean. The total error is U-shaped. (At the smallest
# $\alpha$ the measured bias$^2$ is inflated by Monte Carlo noise: the mean of `N_SIM` wild fits
# still has variance $\approx$ variance / `N_SIM`.)

# %%
alphas = np.logspace(-7, 2.5, N_ALPHA)
sim_rng = np.random.default_rng(11)
Y = f(x)[None, :] + sim_rng.normal(0, NOISE, (N_SIM, n))
test = np.linspace(-1, 1, 101)
T20 = powers(test, 20)
bias2, var = [], []
for a in alphas:
    est = BayesianRegression(prior="ridge", alpha=a, standardize=True, method="map")
    P = np.array([est.fit(F20, ys).predict(T20) for ys in Y])
    bias2.append(np.mean((P.mean(axis=0) - f(test)) ** 2))
    var.append(np.mean(P.var(axis=0)))
bias2, var = np.array(bias2), np.array(var)
total = bias2 + var
best = int(np.argmin(total))
print(f"smallest total error {total[best]:.4f} at alpha = {alphas[best]:.3g} "
      f"(bias^2 {bias2[best]:.4f}, variance {var[best]:.4f})")

fig, ax = plt.subplots(figsize=(8, 4.5))
ax.plot(alphas, bias2, "o-", color="C1", label="bias$^2$")
ax.plot(alphas, var, "s-", color="C0", label="variance")
ax.plot(alphas, total, "k-", lw=2.5, label="bias$^2$ + variance")
ax.axvline(alphas[best], color="0.5", ls=":")
ax.axhline(NOISE**2, color="C2", ls="--", lw=1, label="noise variance $\\sigma^2$ (for scale)")
ax.set(xscale="log", yscale="log", xlabel=r"$\alpha$", ylabel="squared error (averaged over x)",
       title=f"degree-20 ridge over {N_SIM} simulated data sets", ylim=(1e-4, None))
ax.legend()
plt.tight_layout()

# The U: the minimum is inside the grid and both ends are much worse.
assert 0 < best < len(alphas) - 1
assert total[0] > 10 * total[best] and total[-1] > 2 * total[best]
assert var[0] > 100 * var[-1] and bias2[-1] > 2 * bias2[best]

# %% [markdown]
# **What we saw.** The degree-20 polynomial is not the problem; unconstrained coefficients are.
# A Gaussian prior of the right width keeps all 20 terms yet behaves like the parabola, and the
# posterior predictive band says honestly where the data are thin. The penalty trades variance
# for bias; the sweet spot at the bottom of the U is what cross-validation (or, the Bayesian
# way, a hyperprior on $\alpha$, see notebook 05) tries to find.
