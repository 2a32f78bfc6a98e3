"""One fit, from stored request to stored result; used by the request thread
(map, exact) and by the sampling processes (nuts) alike."""

import functools
import json
import math
import os
import shutil
import threading
import time

import numpy as np

# Imported with the app, not on the first request: importing PyMC takes seconds,
# which would stall whichever request reached each HTTP worker first.
from bayesreg import BayesianRegression, MCDropoutRegressor

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


# Request fields of POST /v1/dropout/fits that are constructor arguments ("seed" is random_state).
DROPOUT_OPTIONS = ("hidden", "dropout", "tau", "length_scale", "epochs", "batch_size",
                   "learning_rate", "mc_samples", "standardize")
DROPOUT_MODEL = "model.npz"
# The compiled MC-dropout programs of a process share one random stream that each
# call reseeds, and a compiled PyTensor function is not safe to call from two
# threads at once: HTTP threads (gthread) take turns, or concurrent predictions
# would mix their masks and lose the deterministic, seeded output.
DROPOUT_LOCK = threading.Lock()


def dropout_estimator(options):
    kwargs = {k: options[k] for k in DROPOUT_OPTIONS if k in options}
    if "hidden" in kwargs:
        kwargs["hidden"] = tuple(kwargs["hidden"])
    return MCDropoutRegressor(random_state=options.get("seed"), **kwargs)


def fit_dropout(store, fit_id, options, X, y, progress=None):
    """Train, write the model file atomically, and summarize the fit on its training data."""
    est = dropout_estimator(options)
    start = time.perf_counter()
    est.fit(X, y, progress=progress)
    trained = time.perf_counter()
    with DROPOUT_LOCK:
        mean = est.predict(X)
        loglik = est.log_likelihood(X, y)
    evaluated = time.perf_counter()
    path = store.path(fit_id, DROPOUT_MODEL)
    tmp = f"{path}.{os.getpid()}.tmp"
    est.save(tmp)
    os.replace(tmp, path)  # a reader never sees half a model
    return jsonable({
        "train_rmse": float(np.sqrt(np.mean((y - mean) ** 2))),
        "log_likelihood_train": float(loglik),
        "final_loss": float(est.loss_curve_[-1]),
        "tau": est.tau_,
        "dropout": est.dropout_,
        "weight_decay": est.weight_decay_,
        "hidden": list(est.hidden_),
        "n_features": int(est.n_features_in_),
        "n_samples": int(X.shape[0]),
        "epochs": int(est.epochs),
        "mc_samples": int(est.mc_samples),
        "timing": {"train_s": trained - start, "evaluate_s": evaluated - trained},
    })


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
    kind = row["kind"]
    last = [0.0]

    def progress(done, total):
        # Throttled: a DB write per nutpie tick would cost more than the sampling.
        now = time.monotonic()
        if now - last[0] >= 0.2 or done >= total:
            last[0] = now
            store.progress(fit_id, int(done))

    try:
        X, y, names = load_data(store, fit_id)
        if kind == "mc_dropout":
            result = fit_dropout(store, fit_id, options, X, y, progress)
        else:
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



@functools.lru_cache(maxsize=32)
def _load_dropout(path, mtime):
    return MCDropoutRegressor.load(path)


def load_dropout(store, fit_id):
    """The trained MC-dropout estimator of a succeeded fit, cached per process."""
    path = store.path(fit_id, DROPOUT_MODEL)
    return _load_dropout(path, os.stat(path).st_mtime_ns)
