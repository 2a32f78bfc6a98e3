"""service.jobs: one fit from stored request to stored result, checked against scikit-learn
(the MAP), hashlib (checksums), an OrderedDict LRU (the model cache) and the files on disk."""

import errno
import hashlib
import json
import os
import random
import uuid
from collections import OrderedDict

import numpy as np
import pytest
from sklearn.linear_model import ElasticNet

from bayesreg import BayesianRegression, MCDropoutRegressor
from bayesreg.validation import InputError
from service import jobs


def test_seed_reaches_the_core_as_seed():
    for est in (jobs.estimator({"seed": 7, "alpha": 0.3}),
                jobs.dropout_estimator({"seed": 7, "hidden": [4]})):
        params = est.get_params()
        # the API's seed is the constructor's seed; the deprecated aliases stay unset
        assert params["seed"] == 7
        assert params.get("random_seed") is None and params.get("random_state") is None


def test_jsonable_makes_strict_json():
    value = {"a": [1.0, float("nan"), (np.float64(2.5), np.int64(3))], "b": float("-inf"),
             "c": {"d": np.bool_(True), "e": "text", "f": None}}
    out = jobs.jsonable(value)
    assert out == {"a": [1.0, None, [2.5, 3]], "b": None, "c": {"d": True, "e": "text", "f": None}}
    assert type(out["a"][2][1]) is int and type(out["c"]["d"]) is bool
    json.dumps(out, allow_nan=False)


def test_the_options_are_constructor_keywords():
    """What jobs passes to the estimators is a subset of their scikit-learn parameters."""
    assert set(jobs.ESTIMATOR_OPTIONS) <= set(BayesianRegression().get_params())
    assert set(jobs.DROPOUT_OPTIONS) <= set(MCDropoutRegressor().get_params())
    assert jobs.core_kwargs({"alpha": 0.5, "wait": True, "X": []}, jobs.ESTIMATOR_OPTIONS) == {
        "alpha": 0.5}
    assert jobs.dropout_estimator({"hidden": [3, 2], "wait": True}).hidden == (3, 2)


def test_error_of_names_the_field_or_the_type():
    assert jobs.error_of(InputError("alpha", "bad")) == {"field": "alpha", "message": "bad"}
    assert jobs.error_of(ZeroDivisionError("division by zero")) == {
        "field": None, "message": "ZeroDivisionError: division by zero"}
    assert jobs.error_of(RuntimeError()) == {"field": None, "message": "RuntimeError: RuntimeError"}


@pytest.fixture()
def store(bare):
    return bare.extensions["bayesreg.store"]


def test_data_round_trips_and_a_failed_write_leaves_nothing(store, monkeypatch):
    fit_id = str(uuid.uuid4())
    X, y = np.random.default_rng(0).normal(size=(5, 2)), np.arange(5.0)
    jobs.save_data(store, fit_id, X, y, ["a", "b"])
    X2, y2, names = jobs.load_data(store, fit_id)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    assert names == ["a", "b"]
    jobs.discard(store, fit_id)
    assert not os.path.exists(store.fit_dir(fit_id))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    with pytest.raises(OSError):
        jobs.save_data(store, fit_id, X, y, ["a", "b"])
    assert not os.path.exists(store.fit_dir(fit_id))


def test_a_map_fit_is_scikit_learns_elastic_net_and_states_its_settings(store):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 4))
    y = X @ [1.5, 0.0, -2.0, 0.3] + 0.5 * rng.normal(size=60)
    fit_id = str(uuid.uuid4())
    os.makedirs(store.fit_dir(fit_id))
    out = jobs.fit(store, fit_id, {"prior": "elastic_net", "alpha": 0.1, "l1_ratio": 0.5,
                                   "method": "map", "seed": 9}, X, y, list("abcd"))
    ref = ElasticNet(alpha=0.1, l1_ratio=0.5, tol=1e-12, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(out["map"]["coef"], ref.coef_, atol=1e-7)
    assert out["map"]["intercept"] == pytest.approx(ref.intercept_, abs=1e-7)
    assert out["settings"]["method"] == "map" and out["settings"]["seed"] == 9
    assert set(out["settings"]) == set(jobs.SETTINGS) - {"time_limit"}
    json.dumps(out, allow_nan=False)
    loaded = jobs.load_estimator(store, fit_id)
    np.testing.assert_array_equal(loaded.coef_, out["map"]["coef"])
    assert jobs.load_estimator(store, fit_id) is loaded             # cached per file version


def test_save_atomically_leaves_no_half_file(tmp_path):
    class Fails:
        def save(self, path):
            with open(path, "wb") as fh:
                fh.write(b"half")
            raise OSError(errno.ENOSPC, "No space left on device")

    class Works:
        def save(self, path):
            with open(path, "wb") as fh:
                fh.write(b"whole")

    target = tmp_path / "model.nc"
    with pytest.raises(OSError):
        jobs.save_atomically(Fails(), str(target))
    assert os.listdir(tmp_path) == []
    jobs.save_atomically(Works(), str(target))
    assert os.listdir(tmp_path) == ["model.nc"] and target.read_bytes() == b"whole"


def test_checksums_are_sha256_and_damage_is_found(store):
    fit_id = str(uuid.uuid4())
    jobs.save_data(store, fit_id, np.ones((3, 1)), np.zeros(3), ["a"])
    path = store.path(fit_id, jobs.DATA_FILE)
    with open(path, "rb") as fh:
        want = hashlib.sha256(fh.read()).hexdigest()
    sums = jobs.file_checksums(store, fit_id, [jobs.DATA_FILE])
    assert sums == {jobs.DATA_FILE: want} and jobs.sha256_file(path) == want
    row = {"id": fit_id, "checksums": json.dumps(sums)}
    assert jobs.damaged_files(store, row) == []
    with open(path, "r+b") as fh:                                   # one byte changed
        fh.seek(10)
        byte = fh.read(1)
        fh.seek(10)
        fh.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(1, 1))                                       # a new version
    assert jobs.damaged_files(store, row) == [jobs.DATA_FILE]
    os.remove(path)
    assert jobs.damaged_files(store, row) == [jobs.DATA_FILE]
    assert jobs.damaged_files(store, {"id": fit_id, "checksums": None}) == []


def test_persist_retries_storage_faults_and_raises_others(monkeypatch):
    from service import pool

    monkeypatch.setattr(pool, "backoff", lambda attempt: 0.0)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return "stored"

    assert jobs.persist(flaky) == "stored" and len(calls) == 3
    with pytest.raises(KeyError):
        jobs.persist(lambda: {}["missing"])


def test_watch_stops_on_the_time_limit_or_a_delete():
    class Store:
        asked = False

        def cancel_requested(self, fit_id):
            return self.asked

    late = jobs.Watch(Store(), "id", time_limit=1e-9)
    with pytest.raises(jobs.Stopped) as stop:
        late.check()
    assert stop.value.status == "failed" and "time limit of 1e-09 s" in stop.value.message
    st = Store()
    watch = jobs.Watch(st, "id", every=0.0)
    assert not watch.stopped()
    st.asked = True
    assert watch.stopped() and watch.reason.status == "cancelled"


def test_the_model_cache_is_least_recently_used_within_count_and_bytes():
    """A random sequence of gets against an OrderedDict LRU with the same bounds."""
    rng = random.Random(4)
    sizes = {k: rng.randint(1, 40) for k in range(12)}
    cache, ref, loads, ref_loads = jobs.ModelCache(max_items=4), OrderedDict(), [], []
    for _ in range(400):
        key = rng.randrange(12)
        got = cache.get(key, lambda: (loads.append(key), key)[1], lambda m: sizes[m], 100)
        assert got == key
        if key in ref:
            ref.move_to_end(key)
        else:
            ref_loads.append(key)
            if sizes[key] <= 100:
                ref[key] = sizes[key]
            while ref and (sum(ref.values()) > 100 or len(ref) > 4):
                ref.popitem(last=False)
        assert len(cache) == len(ref) and cache.nbytes == sum(ref.values())
    assert loads == ref_loads


def _claimed(store, method, options, X, y, kind="regression"):
    fit_id = str(uuid.uuid4())
    names = [f"x{j}" for j in range(X.shape[1])]
    store.insert(fit_id, "queued", method, options, names, 0, kind=kind)
    jobs.save_data(store, fit_id, X, y, names)
    assert store.claim(os.getpid()) == fit_id
    return fit_id


def test_run_claimed_records_the_outcome(tmp_path):
    """Success: the result of the same fit in process, and SHA-256 checksums of its files;
    a refusal of the core: failed, naming the field; past the time limit: failed, saying so."""
    from service.store import Store

    store = Store(str(tmp_path))
    try:
        _run_three(store)
    finally:
        store.close()


def _run_three(store):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 3))
    y = X @ [1.0, 0.0, -1.0] + rng.normal(size=40)
    options = {"prior": "lasso", "alpha": 0.05, "method": "map", "seed": 2}
    ok = _claimed(store, "map", options, X, y)
    jobs.run_claimed(store, ok, os.getpid())
    row = store.get(ok)
    assert row["status"] == "succeeded"
    want = BayesianRegression(**options).fit(X, y).to_dict()
    assert json.loads(row["result"])["map"] == jobs.jsonable(want["map"])
    for name, digest in json.loads(row["checksums"]).items():
        with open(store.path(ok, name), "rb") as fh:
            assert hashlib.sha256(fh.read()).hexdigest() == digest

    refused = _claimed(store, "exact", {"prior": "lasso", "method": "exact"}, X, y)
    jobs.run_claimed(store, refused, os.getpid())
    row = store.get(refused)
    assert row["status"] == "failed" and json.loads(row["error"])["field"] == "method"

    late = _claimed(store, "mc_dropout", {"hidden": [3], "epochs": 3, "mc_samples": 5},
                    X, y, kind="mc_dropout")
    jobs.run_claimed(store, late, os.getpid(), time_limit=1e-9)
    row = store.get(late)
    assert row["status"] == "failed" and "time limit" in json.loads(row["error"])["message"]
