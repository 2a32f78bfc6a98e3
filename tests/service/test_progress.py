"""A worker's progress reaches the fit's row while the fit runs, not only at its end.

``jobs.run_claimed`` is run in this process on a claimed fit, with the store's ``progress``
wrapped to record each write and what a GET would show at that moment. A worker that
reported nothing until the end (``finish_succeeded`` sets ``draws_done`` to the total) would
pass the HTTP lifecycle tests, whose fits end between two polls; it fails these.
"""

import os
import time
import uuid
from types import SimpleNamespace

import numpy as np

from service import dropout, jobs
from service.store import Store


def _claimed(store, kind, method, options, X, y, total):
    fit_id = str(uuid.uuid4())
    names = [f"x{j}" for j in range(X.shape[1])]
    store.insert(fit_id, "queued", method, options, names, total, kind=kind)
    jobs.save_data(store, fit_id, X, y, names)
    assert store.claim(os.getpid()) == fit_id
    return fit_id


def _record(store, monkeypatch, view):
    """Wrap store.progress: each write is kept with the row's status and ``view(row)`` just after."""
    writes = []
    original = store.progress

    def progress(fit_id, done, phase=None):
        original(fit_id, done, phase)
        row = store.get(fit_id)
        writes.append((done, row["status"], view(row)))

    monkeypatch.setattr(store, "progress", progress)
    return writes


def test_dropout_epochs_reach_the_row_while_training(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=40)
    epochs = 5
    options = {"hidden": [4], "epochs": epochs, "batch_size": 8, "mc_samples": 10, "seed": 3}
    store = Store(tmp_path)
    fit_id = _claimed(store, "mc_dropout", "mc_dropout", options, X, y, epochs)
    assert dropout.resource(store.get(fit_id))["progress"] == {"epochs_done": 0, "epochs_total": 5}
    writes = _record(store, monkeypatch, lambda row: dropout.resource(row)["progress"])

    jobs.run_claimed(store, fit_id, os.getpid())

    row = store.get(fit_id)
    assert row["status"] == "succeeded", row["error"]
    done = [d for d, _, _ in writes]
    # the first epoch is always written (the throttle lets the first report through), the
    # last one too; those between may be throttled away, but never out of order
    assert done[0] == 1 and done[-1] == epochs, writes
    assert done == sorted(set(done)) and set(done) <= set(range(1, epochs + 1))
    first_done, first_status, first_view = writes[0]
    assert first_status == "running"                                # before the end
    assert first_view == {"epochs_done": 1, "epochs_total": epochs}  # what GET shows then
    assert dropout.resource(row)["progress"] == {"epochs_done": epochs, "epochs_total": epochs}


def test_the_throttle_keeps_every_epoch_of_a_slow_fit(tmp_path, monkeypatch):
    """Epochs 0.2 s apart or more are each written: with the clock stepped 1 s per call, the
    row sees 1, 2, 3, 4, 5 in turn."""
    clock = iter(range(1000, 10_000))
    # only the worker module's clock: a stand-in for its ``time`` module
    monkeypatch.setattr(jobs, "time", SimpleNamespace(
        monotonic=lambda: float(next(clock)), perf_counter=time.perf_counter, time=time.time,
        sleep=time.sleep))
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 2))
    y = X[:, 0] + 0.1 * rng.normal(size=30)
    options = {"hidden": [3], "epochs": 5, "batch_size": 10, "mc_samples": 5, "seed": 4}
    store = Store(tmp_path)
    fit_id = _claimed(store, "mc_dropout", "mc_dropout", options, X, y, 5)
    writes = _record(store, monkeypatch, lambda row: row["draws_done"])

    jobs.run_claimed(store, fit_id, os.getpid())

    assert store.get(fit_id)["status"] == "succeeded"
    assert [(d, s, v) for d, s, v in writes] == [(k, "running", k) for k in range(1, 6)]


def test_a_one_epoch_fit_reports_its_only_epoch(tmp_path, monkeypatch):
    epochs = 1
    rng = np.random.default_rng(2)
    X = rng.normal(size=(20, 1))
    y = X[:, 0]
    options = {"hidden": [2], "epochs": epochs, "batch_size": 10, "mc_samples": 5, "seed": 5}
    store = Store(tmp_path)
    fit_id = _claimed(store, "mc_dropout", "mc_dropout", options, X, y, epochs)
    writes = _record(store, monkeypatch, lambda row: row["draws_done"])
    jobs.run_claimed(store, fit_id, os.getpid())
    assert writes == [(1, "running", 1)]
