"""One fit, from stored request to stored result; used by the request thread
(map, exact) and by the sampling processes (nuts) alike."""

import functools
import json
import math
import os
import shutil
import time

import numpy as np

# Imported with the app, not on the first request: importing PyMC takes seconds,
# which would stall whichever request reached each HTTP worker first.
from bayesreg import BayesianRegression

ESTIMATOR_OPTIONS = ("prior", "alpha", "l1_ratio", "sigma", "fit_intercept", "standardize",
                     "learn_alpha", "draws", "tune", "chains", "hdi_prob")


def jsonable(value):
    """Replace non-finite floats by None so the stored JSON stays strict."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return jsonable(value.item())
    return value


def estimator(options):
    kwargs = {k: options[k] for k in ESTIMATOR_OPTIONS if k in options}
    return BayesianRegression(random_seed=options.get("seed"), **kwargs)


def save_data(store, fit_id, X, y, feature_names):
    os.makedirs(store.fit_dir(fit_id), exist_ok=True)
    np.savez(store.path(fit_id, "data.npz"), X=np.asarray(X, dtype=float),
             y=np.asarray(y, dtype=float), feature_names=np.asarray(feature_names, dtype=str))


def discard(store, fit_id):
    """Remove the files of a fit that was never recorded (rejected at the door)."""
    shutil.rmtree(store.fit_dir(fit_id), ignore_errors=True)


def load_data(store, fit_id):
    with np.load(store.path(fit_id, "data.npz")) as data:
        return data["X"], data["y"], [str(n) for n in data["feature_names"]]


def fit(store, fit_id, options, X, y, feature_names, progress=None):
    """Fit and write the model file; returns the core's ``to_dict()``.

    The core's ``InputError`` propagates so the caller can name the field.
    """
    est = estimator(options)
    est.fit(X, y, method=options.get("method", "nuts"), feature_names=feature_names,
            progress=progress)
    # The core's save() holds posterior + MAP + parameters: enough to predict,
    # summarize and plot after a restart; with a posterior it is plain ArviZ netCDF.
    est.save(store.path(fit_id, "model.nc"))
    return jsonable(est.to_dict())


def error_of(exc):
    field = getattr(exc, "field", None)
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if field is None:
        message = f"{type(exc).__name__}: {message}"
    return {"message": message, "field": field}


def run_claimed(store, fit_id, pid):
    """Run a fit this process claimed from the queue and record the outcome."""
    row = store.get(fit_id)
    if row is None:
        return
    options = json.loads(row["request"])
    last = [0.0]

    def progress(done, total):
        # Throttled: a DB write per nutpie tick would cost more than the sampling.
        now = time.monotonic()
        if now - last[0] >= 0.2 or done >= total:
            last[0] = now
            store.progress(fit_id, int(done))

    try:
        X, y, names = load_data(store, fit_id)
        result = fit(store, fit_id, options, X, y, names, progress)
    except Exception as exc:  # any failure belongs to this fit, not to the worker
        store.finish(fit_id, "failed", error=error_of(exc), pid=pid)
        return
    if not store.finish(fit_id, "succeeded", result=result, pid=pid, draws_done=row["draws_total"]):
        # Deleted or failed by the watchdog meanwhile: keep nothing half-owned.
        if store.get(fit_id) is None:
            discard(store, fit_id)


@functools.lru_cache(maxsize=32)
def _load(path, mtime):
    return BayesianRegression.load(path)


def load_estimator(store, fit_id):
    """The fitted estimator of a succeeded fit, cached per process (files never change)."""
    path = store.path(fit_id, "model.nc")
    return _load(path, os.stat(path).st_mtime_ns)
