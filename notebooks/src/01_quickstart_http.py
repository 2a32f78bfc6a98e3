# %% [markdown]
# # Quickstart over HTTP: the lasso's MAP beside its full posterior
#
# `bayesreg` ships a small JSON service. A fit is a resource: `POST /v1/fits` creates it,
# `GET /v1/fits/{id}` reads it, `POST /v1/fits/{id}/predict` predicts with it. Closed-form
# methods (`map`, `exact`) answer at once; `nuts` (sampling the posterior with NUTS) is queued
# to a pool of sampling workers, and `"wait": true` holds the request until the fit ends.
#
# Here we drive the service in-process with Flask's test client (no port, same code path as a
# real server: `python -m service`), on the diabetes data of Efron et al. (442 patients,
# 10 standardized baseline measurements, disease progression one year later). We fit
#
# * ordinary least squares (`prior="ridge", alpha=0, method="map"`: a flat prior's MAP),
# * the lasso's MAP and the full posterior of the Bayesian lasso, in **one** `nuts` request:
#   the response carries the MAP (`map`) and posterior summaries (`posterior`) of the same model.

# %%
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")
ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "bayesreg" / "__init__.py").exists())
sys.path.insert(0, str(ROOT))
FAST = os.environ.get("BAYESREG_NOTEBOOK_FAST", "0") == "1"
os.environ["PYTHONWARNINGS"] = "ignore"  # inherited by the sampling worker processes

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bayesreg import alpha_from_park_casella, load_diabetes
from service import create_app

plt.rcParams.update({"figure.dpi": 80, "axes.grid": True, "grid.alpha": 0.3})
DRAWS, TUNE, CHAINS = (300, 300, 2) if FAST else (1000, 1000, 4)
print("fast mode" if FAST else "full settings", dict(draws=DRAWS, tune=TUNE, chains=CHAINS))

# %% [markdown]
# ## Start the service
#
# `create_app(config)` builds the app; its own supervisor starts one sampling worker process.
# The data directory (SQLite database plus one model file per fit) is a temporary directory.

# %%
data_dir = tempfile.mkdtemp(prefix="bayesreg-quickstart-")
app = create_app({"DATA_DIR": data_dir, "WORKERS": 1, "WAIT_TIMEOUT": 300.0})
client = app.test_client()

deadline = time.monotonic() + 120
while client.get("/health").json["workers_alive"] < 1 and time.monotonic() < deadline:
    time.sleep(0.2)
client.get("/health").json

# %% [markdown]
# ## Fit: OLS, then the Bayesian lasso
#
# The penalty follows scikit-learn's convention. We take the value that corresponds to
# Park & Casella's $\lambda = 0.237$ at a noise sd of about 54
# (`alpha_from_park_casella(0.237, 54, n)`, see notebook 05).

# %%
X, y = load_diabetes()
n = len(y)
alpha = alpha_from_park_casella(0.237, 54.0, n)

r = client.post("/v1/fits", json={"dataset": "diabetes", "prior": "ridge", "alpha": 0.0,
                                  "method": "map"})
assert r.status_code == 201, r.json
ols_fit = r.json

t0 = time.perf_counter()
r = client.post("/v1/fits", json={"dataset": "diabetes", "prior": "lasso", "alpha": alpha,
                                  "method": "nuts", "draws": DRAWS, "tune": TUNE, "chains": CHAINS,
                                  "seed": 2008, "hdi_prob": 0.95, "wait": True})
fit = r.json
while fit["status"] in ("queued", "running"):  # only if the wait timed out (202): poll
    time.sleep(0.5)
    fit = client.get(f"/v1/fits/{fit['id']}").json
print(f"HTTP {r.status_code}, status {fit['status']} after {time.perf_counter() - t0:.1f} s")
assert fit["status"] == "succeeded", fit["error"]
print("alpha =", round(alpha, 5), "| links:", list(fit["links"]))
print("diagnostics:", fit["diagnostics"])

# %% [markdown]
# The fit resource holds everything: the request as sent, the MAP, one posterior summary per
# coefficient (mean, sd, median, HDI, R-hat, ESS, whether the MAP lies in the HDI), the
# diagnostics and the timing.

# %%
names = fit["feature_names"]
rows = {p["name"]: p for p in fit["posterior"]["coef"]}
table = pd.DataFrame({
    "OLS": ols_fit["map"]["coef"],
    "MAP (lasso)": fit["map"]["coef"],
    "posterior mean": [rows[k]["mean"] for k in names],
    "posterior median": [rows[k]["median"] for k in names],
    "HDI low": [rows[k]["hdi_low"] for k in names],
    "HDI high": [rows[k]["hdi_high"] for k in names],
    "r_hat": [rows[k]["r_hat"] for k in names],
}, index=names)
table["MAP / OLS"] = table["MAP (lasso)"] / table["OLS"]
table["median / OLS"] = table["posterior median"] / table["OLS"]
table.round(3)

# %% [markdown]
# ## MAP against the posterior: a forest plot
#
# Bars are 95% highest-density intervals of each coefficient, dots the posterior median, red
# diamonds the MAP, grey crosses OLS. Two things stand out:
#
# * the MAP sets some coefficients to **exactly zero**, while the posterior puts almost no mass
#   at exactly zero: its medians are small but not zero, and its intervals straddle zero;
# * the MAP and the posterior median are different summaries of the same distribution. The
#   Laplace prior's peak pulls the *mode* all the way to zero; the *median* lands near zero
#   but not on it, because the posterior's mass is spread on both sides.

# %%
fig, ax = plt.subplots(figsize=(9.5, 5))
ypos = np.arange(len(names))[::-1]
ax.hlines(ypos, table["HDI low"], table["HDI high"], color="C0", lw=3, label="95% HDI")
ax.plot(table["posterior median"], ypos, "o", color="C0", label="posterior median")
ax.plot(table["MAP (lasso)"], ypos, "D", color="C3", ms=7, mfc="none", mew=2, label="MAP (lasso)")
ax.plot(table["OLS"], ypos, "x", color="0.4", ms=7, label="OLS")
ax.axvline(0, color="k", lw=0.8)
ax.set(yticks=ypos, yticklabels=names, xlabel="coefficient (unit-norm features)",
       title=f"Bayesian lasso on diabetes, alpha = {alpha:.4f}")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
plt.tight_layout()

# %%
zeros = [k for k, v in zip(names, fit["map"]["coef"]) if v == 0.0]
print("MAP exactly zero for:", zeros)
assert zeros, "the lasso MAP should have exact zeros at this penalty"
assert all(rows[k]["median"] != 0.0 for k in names)  # the posterior median is not sparse
assert all(rows[k]["map_in_hdi"] for k in names)     # ... but every MAP lies in its 95% HDI
assert fit["diagnostics"]["divergences"] == 0 or FAST

# %% [markdown]
# ## How much is each coefficient shrunk?
#
# The ratio to OLS: 1 means untouched, 0 means removed. With orthogonal features the lasso
# MAP would be soft thresholding, every ratio between 0 and 1. The diabetes features are not
# orthogonal: the six blood serum measurements `s1`..`s6` are strongly correlated (`s1` and
# `s2` at 0.9), and OLS fits them with large cancelling coefficients (-792 and +477). The penalty
# does not shrink coefficient by coefficient; it shrinks the **total** $\lVert w\rVert_1$ and
# lets the correlated features share the signal differently, so `s1` and `s2` collapse while
# `s3` even changes sign and `bmi` slightly grows. The posterior median follows the MAP closely
# for the strong effects and differs most for the weak, uncertain ones (`age`, `s4`).

# %%
fig, ax = plt.subplots(figsize=(8, 4))
w = 0.38
x = np.arange(len(names))
ax.bar(x - w / 2, table["MAP / OLS"], w, color="C3", label="MAP / OLS")
ax.bar(x + w / 2, table["median / OLS"], w, color="C0", label="posterior median / OLS")
ax.axhline(1, color="k", lw=0.8)
ax.set(xticks=x, xticklabels=names, ylabel="share of the OLS value kept", ylim=(-2.0, 1.3))
ax.legend()
plt.tight_layout()
print(table[["MAP / OLS", "median / OLS"]].round(2).T)
l1 = table[["OLS", "MAP (lasso)", "posterior median"]].abs().sum()
print("L1 norm of the coefficients:", l1.round(0).to_dict())
assert l1["MAP (lasso)"] < 0.8 * l1["OLS"] and l1["posterior median"] < 0.8 * l1["OLS"]

# %% [markdown]
# ## Predict with intervals
#
# `POST /v1/fits/{id}/predict` returns the MAP prediction and the posterior predictive: the mean,
# the HDI of the **mean** $x^\top w + b$ (uncertainty about the regression line) and the HDI of a
# **new observation** (that plus the noise $\sigma$). We predict 40 patients and sort them by the
# predicted progression.

# %%
idx = np.random.default_rng(0).choice(n, 40, replace=False)
r = client.post(f"/v1/fits/{fit['id']}/predict", json={"X": X.iloc[idx].to_numpy().tolist(),
                                                       "hdi_prob": 0.9})
assert r.status_code == 200, r.json
pred = r.json
pi = {k: np.asarray(v) for k, v in pred["posterior"].items()}
order = np.argsort(pi["mean"])

fig, ax = plt.subplots(figsize=(10, 4.5))
xs = np.arange(len(idx))
ax.fill_between(xs, pi["obs_low"][order], pi["obs_high"][order], color="C0", alpha=0.2,
                step="mid", label="90% HDI, new observation")
ax.fill_between(xs, pi["mean_low"][order], pi["mean_high"][order], color="C0", alpha=0.5,
                step="mid", label="90% HDI, mean")
ax.plot(xs, np.asarray(pred["map"])[order], "D", color="C3", ms=4, label="MAP prediction")
ax.plot(xs, y.to_numpy()[idx][order], "k.", label="observed")
ax.set(xlabel="patient (sorted by prediction)", ylabel="disease progression")
ax.legend(loc="upper left")
plt.tight_layout()

covered = np.mean((y.to_numpy()[idx] >= pi["obs_low"]) & (y.to_numpy()[idx] <= pi["obs_high"]))
print(f"observed values inside the 90% predictive HDI: {covered:.0%}")
assert np.all(pi["obs_high"] - pi["obs_low"] > pi["mean_high"] - pi["mean_low"])

# %% [markdown]
# The band for the mean is narrow (442 patients pin the regression down well); the band for a
# new patient is dominated by the noise, $\sigma \approx 54$. About 90% of the observed values
# should fall inside it.
#
# Other endpoints: `GET /v1/fits/{id}/posterior.nc` downloads all the draws (ArviZ netCDF),
# `GET /v1/fits/{id}/plot.png` a forest plot, `GET /openapi.json` the full API description.

# %%
import atexit
import shutil

pool = app.extensions["bayesreg.pool"]
pool.stop()                  # stop the sampling worker ...
atexit.unregister(pool.stop)  # (create_app registered it for interpreter exit too)
shutil.rmtree(data_dir, ignore_errors=True)  # ... and remove the temporary data
