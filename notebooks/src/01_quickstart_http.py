# %% [markdown]
# # Quickstart over HTTP: the lasso's MAP beside its full posterior
#
# `bayesreg` ships a small JSON service. A fit is a resource: `POST /v1/fits` creates it,
# `GET /v1/fits/{id}` reads it, `POST /v1/fits/{id}/predict` predicts with it. Closed-form
# methods (`map`, `exact`) answer at once; `nuts` (sampling the posterior with NUTS) is queued
# to a pool of sampling workers and polled until it ends.
#
# Here we start a real server (`python -m service`, gunicorn and one sampling worker) and drive
# it with `bayesreg.client.Client`, whose fits answer like the in-process
# `BayesianRegression`: `coef_`, `summary()`, `predict`, `predict_interval`. The data are the
# diabetes data of Efron et al. (442 patients, 10 standardized baseline measurements, disease
# progression one year later). We fit
#
# * ordinary least squares (`prior="ridge", alpha=0, method="map"`: a flat prior's MAP),
# * the lasso's MAP and the full posterior of the Bayesian lasso, in **one** `nuts` fit:
#   its summary puts the MAP (`map`) beside the posterior of the same model.

# %%
import os
import sys
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")
ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "bayesreg" / "__init__.py").exists())
sys.path.insert(0, str(ROOT))
FAST = os.environ.get("BAYESREG_NOTEBOOK_FAST", "0") == "1"

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bayesreg import alpha_from_park_casella, load_diabetes
from bayesreg.client import Client

plt.rcParams.update({"figure.dpi": 80, "axes.grid": True, "grid.alpha": 0.3})
DRAWS, TUNE, CHAINS = (300, 300, 2) if FAST else (1000, 1000, 4)
print("fast mode" if FAST else "full settings", dict(draws=DRAWS, tune=TUNE, chains=CHAINS))

# %% [markdown]
# ## Start the service
#
# `python -m service --host 127.0.0.1 --port PORT --data-dir DIR --workers 1` in a process
# group of its own, on a free loopback port, with a temporary data directory (SQLite database
# plus one model file per fit). `stop_server` sends the group SIGTERM, waits, and removes the
# data; it runs in the last cell and, should a cell fail before it, when the kernel exits
# (`atexit`).

# %%
import atexit
import shutil
import signal
import socket
import subprocess
import tempfile

import requests

from bayesreg.client import APIError


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


data_dir = tempfile.mkdtemp(prefix="bayesreg-quickstart-")
port = free_port()
server_log = open(os.path.join(data_dir, "server.log"), "ab")
server = subprocess.Popen(
    [sys.executable, "-m", "service", "--host", "127.0.0.1", "--port", str(port),
     "--data-dir", data_dir, "--workers", "1"],
    cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"},
    stdout=server_log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_server(grace=60.0):
    """SIGTERM to the server's process group (gunicorn, the sampling pool); SIGKILL after
    ``grace`` seconds; then remove the data."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
    server_log.close()
    shutil.rmtree(data_dir, ignore_errors=True)


# A kernel shut down after a failed cell is sent SIGTERM 2.5 s later (jupyter_client's
# shutdown_wait_time / 2): stop the server quickly then.
atexit.register(stop_server, grace=1.0)
api = Client(f"http://127.0.0.1:{port}")


def health():
    """/health once the HTTP workers listen and the sampling worker is up, else None."""
    assert server.poll() is None, f"the server exited with {server.returncode}"
    try:
        status = api.health()
    except (requests.RequestException, APIError):  # not listening yet, or the front's 503
        return None
    return status if status["workers_alive"] >= 1 else None


deadline = time.monotonic() + 180
while (status := health()) is None and time.monotonic() < deadline:
    time.sleep(0.2)
assert status is not None, "the server did not become ready within 180 s"
status

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

ols = api.fit(dataset="diabetes", prior="ridge", alpha=0.0, method="map")

t0 = time.perf_counter()
fit = api.fit(dataset="diabetes", prior="lasso", alpha=alpha, method="nuts", draws=DRAWS,
              tune=TUNE, chains=CHAINS, seed=2008, hdi_prob=0.95)  # polls until it has ended
print(f"fit {fit.id}: {fit.status} after {time.perf_counter() - t0:.1f} s")
print("alpha =", round(alpha, 5), "| links:", sorted(fit.to_dict()["links"]))
print("diagnostics:", fit.diagnostics_)

# %% [markdown]
# The fit holds everything: the settings it ran with, the MAP, one posterior summary per
# coefficient (mean, sd, median, HDI, R-hat, ESS, whether the MAP lies in the HDI), the
# diagnostics and the timing. `summary()` lays the summaries out as `BayesianRegression.summary()`
# does; `fit.to_dict()` is the resource as the server sent it.

# %%
names = list(fit.feature_names_in_)
summary = fit.summary()
table = pd.DataFrame({
    "OLS": ols.coef_,
    "MAP (lasso)": fit.coef_,
    "posterior mean": summary.loc[names, "mean"],
    "posterior median": summary.loc[names, "median"],
    "HDI low": summary.loc[names, "hdi_low"],
    "HDI high": summary.loc[names, "hdi_high"],
    "r_hat": summary.loc[names, "r_hat"],
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
zeros = [k for k, v in zip(names, fit.coef_) if v == 0.0]
print("MAP exactly zero for:", zeros)
assert zeros, "the lasso MAP should have exact zeros at this penalty"
assert (summary.loc[names, "median"] != 0.0).all()  # the posterior median is not sparse
assert summary.loc[names, "map_in_hdi"].all()       # ... but every MAP lies in its 95% HDI
assert fit.diagnostics_["divergences"] == 0 or FAST

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
# `predict` is the MAP prediction; `predict_interval` (`POST /v1/fits/{id}/predict`) the
# posterior predictive: the mean, the HDI of the **mean** $x^\top w + b$ (uncertainty about the
# regression line) and the HDI of a **new observation** (that plus the noise $\sigma$). We
# predict 40 patients and sort them by the predicted progression.

# %%
idx = np.random.default_rng(0).choice(n, 40, replace=False)
pi = fit.predict_interval(X.iloc[idx], hdi_prob=0.9)
map_pred = fit.predict(X.iloc[idx])
order = np.argsort(pi.mean)

fig, ax = plt.subplots(figsize=(10, 4.5))
xs = np.arange(len(idx))
ax.fill_between(xs, pi.obs_low[order], pi.obs_high[order], color="C0", alpha=0.2,
                step="mid", label="90% HDI, new observation")
ax.fill_between(xs, pi.mean_low[order], pi.mean_high[order], color="C0", alpha=0.5,
                step="mid", label="90% HDI, mean")
ax.plot(xs, map_pred[order], "D", color="C3", ms=4, label="MAP prediction")
ax.plot(xs, y.to_numpy()[idx][order], "k.", label="observed")
ax.set(xlabel="patient (sorted by prediction)", ylabel="disease progression")
ax.legend(loc="upper left")
plt.tight_layout()

covered = np.mean((y.to_numpy()[idx] >= pi.obs_low) & (y.to_numpy()[idx] <= pi.obs_high))
print(f"observed values inside the 90% predictive HDI: {covered:.0%}")
assert np.all(pi.obs_high - pi.obs_low > pi.mean_high - pi.mean_low)

# %% [markdown]
# The band for the mean is narrow (442 patients pin the regression down well); the band for a
# new patient is dominated by the noise, $\sigma \approx 54$. About 90% of the observed values
# should fall inside it.
#
# `fit.posterior()` downloads all the draws (`GET /v1/fits/{id}/posterior.nc`, ArviZ
# InferenceData); `GET /v1/fits/{id}/plot.png` is a forest plot, `GET /openapi.json` the full
# API description.

# %%
idata = fit.posterior()
print(dict(idata.posterior["coef"].sizes))
assert dict(idata.posterior["coef"].sizes) == {"chain": CHAINS, "draw": DRAWS, "feature": 10}

# %%
for f in (ols, fit):
    f.delete()     # remove the fits ...
api.close()
stop_server()      # ... stop the server and remove its temporary data
