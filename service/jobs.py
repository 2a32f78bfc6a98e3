"""One fit, from stored request to stored result; used by the request thread
(map, exact) and by the sampling processes (nuts) alike."""

import hashlib
import itertools
import json
import logging
import math
import os
import shutil
import sqlite3
import threading
import time

import numpy as np

# Imported with the app, not on the first request: importing PyMC takes seconds,
# which would stall whichever request reached each HTTP worker first.
from bayesreg import BayesianRegression, MCDropoutRegressor, regularization_path
from bayesreg.loo import LooResult, psis_loo
from bayesreg.model import Cancelled

from .store import CANCELLED_RUNNING, storage_error

__all__ = ["DATA_FILE", "DROPOUT_MODEL", "DROPOUT_OPTIONS", "ESTIMATOR_OPTIONS",
           "MODELS", "MODEL_FILE", "PATH_OPTIONS", "SETTINGS", "ModelCache",
           "Stopped", "Watch", "core_kwargs", "damaged_files", "discard",
           "dropout_estimator", "error_of", "estimator", "file_checksums", "fit", "fit_dropout",
           "fit_path", "jsonable", "load_data", "load_dropout", "load_estimator",
           "loo_of", "persist", "run_claimed", "save_atomically", "save_data", "sha256_file"]

log = logging.getLogger(__name__)
DATA_FILE = "data.npz"
MODEL_FILE = "model.nc"
# Request fields of POST /v1/paths that are regularization_path's keywords.
PATH_OPTIONS = ("prior", "l1_ratio", "alphas", "n_alphas", "alpha_min_ratio", "method", "draws",
                "tune", "chains", "hdi_prob", "seed", "sigma", "fit_intercept", "standardize")

# The settings a fit resource states, resolved (request, else the default).
SETTINGS = ("prior", "alpha", "l1_ratio", "sigma", "fit_intercept", "standardize", "learn_alpha",
            "method", "draws", "tune", "chains", "seed", "hdi_prob", "global_scale",
            "expected_nonzero", "slab_df", "slab_scale", "time_limit")
# All of them but the time limit (the service's, not the estimator's) are constructor keywords.
ESTIMATOR_OPTIONS = tuple(name for name in SETTINGS if name != "time_limit")


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


def core_kwargs(options, names):
    """The constructor keywords among ``names`` that the request's ``options`` set."""
    return {k: options[k] for k in names if k in options}


def estimator(options):
    return BayesianRegression(**core_kwargs(options, ESTIMATOR_OPTIONS))


def save_data(store, fit_id, X, y, feature_names):
    """Write a fit's data; on failure (a full disk) nothing of it stays behind."""
    os.makedirs(store.fit_dir(fit_id), exist_ok=True)
    try:
        np.savez(store.path(fit_id, DATA_FILE), X=np.asarray(X, dtype=float),
                 y=np.asarray(y, dtype=float), feature_names=np.asarray(feature_names, dtype=str))
    except BaseException:
        discard(store, fit_id)
        raise


def discard(store, fit_id):
    """Remove the files of a fit that was never recorded (rejected at the door)."""
    shutil.rmtree(store.fit_dir(fit_id), ignore_errors=True)


def load_data(store, fit_id):
    with np.load(store.path(fit_id, DATA_FILE)) as data:
        return data["X"], data["y"], [str(n) for n in data["feature_names"]]


def fit(store, fit_id, options, X, y, feature_names, progress=None, should_stop=None):
    """Fit and write the model file; returns the core's ``to_dict()``.

    The core's ``InputError`` propagates so the caller can name the field, and its
    ``Cancelled`` when ``should_stop()`` turned true while sampling.
    """
    est = estimator(options)
    est.fit(X, y, feature_names=feature_names, progress=progress, should_stop=should_stop)
    # The core's save() holds posterior + MAP + parameters: enough to predict,
    # summarize and plot after a restart; with a posterior it is plain ArviZ netCDF.
    save_atomically(est, store.path(fit_id, MODEL_FILE))
    out = est.to_dict()
    # what the fit ran with, defaults and the seed drawn for an unseeded fit included
    out["settings"] = {**{k: v for k, v in est.get_params().items() if k in SETTINGS},
                       "method": est.method_, "seed": int(est.seed_)}
    if options.get("loo"):
        out["loo"] = loo_of(est, X, y)
    return jsonable(out)


def loo_of(est, X, y):
    """PSIS-LOO of a fitted estimator on its data, as the core's ``LooResult.to_dict()``:
    what ``est.loo(X, y)`` computes, without its Pareto-k ``UserWarning`` (the result's
    ``warning`` field carries that text to the client)."""
    return LooResult.from_elpd(psis_loo(est.posterior_, X, y, warn=False)).to_dict()


def save_atomically(est, path):
    """``est.save`` to a temporary name, then renamed: a reader never sees half a model, and
    a failed write (a full disk) leaves nothing behind."""
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        est.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def fit_path(options, X, y, feature_names, progress=None, should_stop=None):
    """Run a regularization path: its ``to_dict()`` with the core's timing (seconds on the
    MAPs, the posteriors, LOO, in all), the result stored in the database (and nowhere else).
    ``progress(done, total)`` counts fits done; ``should_stop()`` is polled during each fit
    (the core's ``Cancelled`` propagates)."""
    path = regularization_path(X, y, feature_names=feature_names, progress=progress,
                               should_stop=should_stop, **core_kwargs(options, PATH_OPTIONS))
    return {**jsonable(path.to_dict()), "timing": jsonable(dict(path.timing))}


# Request fields of POST /v1/dropout/fits that are constructor arguments.
DROPOUT_OPTIONS = ("hidden", "dropout", "tau", "length_scale", "epochs", "batch_size",
                   "learning_rate", "mc_samples", "standardize", "seed")
DROPOUT_MODEL = "model.npz"
# No lock around MC-dropout predictions: each call draws its masks from a NumPy
# Generator of its own (bayesreg.dropout), so HTTP threads predict side by side.


def dropout_estimator(options):
    kwargs = core_kwargs(options, DROPOUT_OPTIONS)
    if "hidden" in kwargs:
        kwargs["hidden"] = tuple(kwargs["hidden"])
    return MCDropoutRegressor(**kwargs)


def fit_dropout(store, fit_id, options, X, y, progress=None):
    """Train and evaluate on the training data, write the model file atomically; the result
    is the estimator's ``to_dict()``."""
    est = dropout_estimator(options).fit(X, y, progress=progress, evaluate=True)
    save_atomically(est, store.path(fit_id, DROPOUT_MODEL))
    return est.to_dict()


def error_of(exc):
    field = getattr(exc, "field", None)
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if field is None:
        message = f"{type(exc).__name__}: {message}"
    return {"message": message, "field": field}


class Stopped(Exception):
    """A fit stopped by its DELETE or its time limit: ``status`` and ``message`` say which."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


class Watch:
    """What stops a running fit: a DELETE (polled in the database at most every
    ``every`` seconds) or the time limit. ``check()`` raises :class:`Stopped`."""

    def __init__(self, store, fit_id, time_limit=None, every=0.5):
        self.store, self.fit_id, self.limit, self.every = store, fit_id, time_limit, every
        self.name = "BAYESREG_FIT_TIME_LIMIT"
        self.start = time.monotonic()
        self._next = 0.0
        self.reason = None

    def stopped(self):
        """True once the fit must stop; ``reason`` then holds the :class:`Stopped`."""
        if self.reason is not None:
            return True
        now = time.monotonic()
        if self.limit and now - self.start > self.limit:
            self.reason = Stopped("failed", f"the fit ran past its time limit of {self.limit:g} s "
                                            f"({self.name}) and was stopped")
        elif now >= self._next:
            self._next = now + self.every
            try:
                asked = self.store.cancel_requested(self.fit_id)
            except Exception:  # the database is unavailable: keep going, ask again later
                asked = False
            if asked:
                self.reason = Stopped("cancelled", CANCELLED_RUNNING["message"])
        return self.reason is not None

    def check(self):
        if self.stopped():
            raise self.reason


def persist(call, *args, what="write", **kwargs):
    """Call a database write until it succeeds, backing off while the disk is full.

    A finished fit's outcome is not dropped because the disk filled up meanwhile: the
    worker keeps retrying (its heartbeat goes on, so the watchdog leaves it alone).
    """
    from .pool import backoff

    for attempt in itertools.count():
        try:
            return call(*args, **kwargs)
        except Exception as exc:
            if storage_error(exc) is None and not isinstance(exc, sqlite3.Error):
                raise
            if attempt == 0:
                log.warning("%s not recorded (%s); retrying until the disk accepts it", what, exc)
            time.sleep(backoff(attempt))


def run_claimed(store, fit_id, pid, time_limit=None):
    """Run a fit this process claimed from the queue and record the outcome."""
    row = persist(store.get, fit_id, what="claimed fit")
    if row is None:
        return
    options = json.loads(row["request"])
    kind = row["kind"]
    from .pool import fit_time_limit

    watch = Watch(store, fit_id, fit_time_limit(options, time_limit))
    if options.get("time_limit") is not None and watch.limit == options["time_limit"]:
        watch.name = "the request's time_limit"
    last = [0.0]

    def progress(done, total, phase=None):
        # Throttled: a DB write per nutpie tick would cost more than the sampling.
        watch.check()  # MC-dropout training has no should_stop: stop it from here
        now = time.monotonic()
        if now - last[0] >= 0.2 or done >= total:
            last[0] = now
            try:
                store.progress(fit_id, int(done), phase)
            except Exception:  # progress is advisory; a full disk must not fail the fit
                pass

    checksums = None
    try:
        result, files = _run(store, fit_id, kind, options, progress, watch.stopped)
        checksums = file_checksums(store, fit_id, files)
    except (Stopped, Cancelled) as exc:
        stop = watch.reason or Stopped("cancelled", str(exc))
        persist(store.finish, fit_id, stop.status, error={"message": stop.message, "field": None},
                pid=pid, what="stopped fit")
        return
    except Exception as exc:  # any failure belongs to this fit, not to the worker
        persist(store.finish, fit_id, "failed", error=error_of(exc), pid=pid, what="failed fit")
        return
    if not persist(store.finish_succeeded, fit_id, result, pid, row["draws_total"], checksums,
                   what="result"):
        # Deleted or failed by the watchdog meanwhile: keep nothing half-owned.
        if store.get(fit_id) is None:
            discard(store, fit_id)


def _run(store, fit_id, kind, options, progress, should_stop):
    """Run a claimed job of any kind: its result and the names of its files to checksum."""
    X, y, names = load_data(store, fit_id)
    if kind == "mc_dropout":  # training has no should_stop: progress stops it
        return fit_dropout(store, fit_id, options, X, y, progress), (DATA_FILE, DROPOUT_MODEL)
    if kind == "path":
        return fit_path(options, X, y, names, progress, should_stop), (DATA_FILE,)
    result = fit(store, fit_id, options, X, y, names, progress, should_stop)
    return result, (DATA_FILE, MODEL_FILE)


def file_checksums(store, fit_id, names):
    """SHA-256 of each stored file of a fit, recorded with its outcome."""
    return {name: sha256_file(store.path(fit_id, name)) for name in names}


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_verified = {}
_verified_lock = threading.Lock()


def damaged_files(store, row):
    """Names of a finished fit's files that are missing or fail their checksum.

    Each file is hashed once per process and version (its size and mtime): a file that
    changes on disk is hashed again. Fits stored before checksums existed are not checked.
    """
    if not row["checksums"]:
        return []
    bad = []
    for name, digest in json.loads(row["checksums"]).items():
        path = store.path(row["id"], name)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            bad.append(name)
            continue
        key = (path, st.st_size, st.st_mtime_ns)
        with _verified_lock:
            known = _verified.get(key)
        if known is None:
            try:
                known = sha256_file(path) == digest
            except FileNotFoundError:
                known = False
            with _verified_lock:
                if len(_verified) > 4096:
                    _verified.clear()
                _verified[key] = known
        if not known:
            bad.append(name)
    return bad


class ModelCache:
    """Loaded models by key, least recently used out first, bounded by count and by bytes.

    ``size(model)`` estimates a model's bytes; a model larger than the budget on
    its own is returned but not kept. Loading happens outside the lock, so a slow
    load never stalls requests for cached models.
    """

    def __init__(self, max_items=32):
        self.max_items = max_items
        self._items = {}  # key -> (model, bytes), oldest use first
        self._lock = threading.Lock()

    @property
    def nbytes(self):
        with self._lock:
            return sum(size for _, size in self._items.values())

    def __len__(self):
        return len(self._items)

    def clear(self):
        with self._lock:
            self._items.clear()

    def get(self, key, load, size, max_bytes):
        with self._lock:
            if key in self._items:
                self._items[key] = hit = self._items.pop(key)  # now the most recent
                return hit[0]
        model = load()
        nbytes = size(model)
        with self._lock:
            if nbytes <= max_bytes:
                self._items[key] = (model, nbytes)
            total = sum(b for _, b in self._items.values())
            while self._items and (total > max_bytes or len(self._items) > self.max_items):
                total -= self._items.pop(next(iter(self._items)))[1]
        return model


# One cache per process for both kinds: its budget bounds all loaded models together.
MODELS = ModelCache(max_items=32)
DEFAULT_CACHE_BYTES = 256 * 1024 * 1024


def _load(path, mtime):
    """A model file's estimator and an estimate of its bytes in memory."""
    est = BayesianRegression.load(path)
    p = int(est.n_features_in_)
    nbytes = 8 * p * 16  # MAP, summary rows
    if est.posterior_ is not None:  # counted as if loaded, though ArviZ reads it lazily
        nbytes += sum(int(est.posterior_[group].nbytes) for group in est.posterior_.groups())
    if getattr(est, "method_", None) == "exact":
        nbytes += 8 * p * p  # the exact posterior's covariance, kept for summaries
    return est, nbytes


def load_estimator(store, fit_id, max_bytes=DEFAULT_CACHE_BYTES):
    """The fitted estimator of a succeeded fit, cached per process (files never change)."""
    path = store.path(fit_id, MODEL_FILE)
    key = (path, os.stat(path).st_mtime_ns)
    return MODELS.get(key, lambda: _load(*key), lambda loaded: loaded[1], max_bytes)[0]


def _load_dropout(path, mtime):
    """A saved MC-dropout network and an estimate of its bytes in memory."""
    est = MCDropoutRegressor.load(path)
    arrays = [*est.coefs_, *est.intercepts_, est.loss_curve_, est.x_mean_, est.x_scale_]
    return est, sum(int(a.nbytes) for a in arrays)


def load_dropout(store, fit_id, max_bytes=DEFAULT_CACHE_BYTES):
    """The trained MC-dropout estimator of a succeeded fit, cached per process."""
    path = store.path(fit_id, DROPOUT_MODEL)
    key = (path, os.stat(path).st_mtime_ns)
    return MODELS.get(key, lambda: _load_dropout(*key), lambda loaded: loaded[1], max_bytes)[0]
