"""Cost caps of the request thread: each test replays an attack that used to cost
seconds to minutes, or gigabytes, and checks the fast 4xx naming the cap, or the
bounded cost. No wall-clock asserts: work is counted (calls, bytes, pixels)."""

import struct
import threading
import tracemalloc

import numpy as np
import pytest
from conftest import wait_until

from bayesreg import BayesianRegression, MCDropoutRegressor
from service import jobs
from service.dropout import predict_cost
from service.fits import sync_cost

SMALL_DROPOUT = {"hidden": [6], "dropout": 0.1, "tau": 4.0, "epochs": 15, "batch_size": 16,
                 "learning_rate": 0.01, "mc_samples": 40, "seed": 11}


def _done(client, path, timeout=180):
    def finished():
        fit = client.get(path).get_json()
        return fit if fit["status"] not in ("queued", "running") else None

    return wait_until(finished, timeout, interval=0.05, what=path)


def _dropout_fit(client, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(48, 3))
    y = np.sin(X[:, 0]) + X[:, 1] + 0.1 * rng.normal(size=48)
    resp = client.post("/v1/dropout/fits", json={"X": X.tolist(), "y": y.tolist(),
                                                 **dict(SMALL_DROPOUT, seed=seed)})
    assert resp.status_code in (201, 202), resp.get_data(as_text=True)
    fit = _done(client, f"/v1/dropout/fits/{resp.get_json()['id']}")
    assert fit["status"] == "succeeded", fit["error"]
    return fit["id"]


def _counting(monkeypatch, cls, name, calls):
    original = getattr(cls, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(cls, name, counted)


def _problem(resp, status, *needles):
    assert resp.status_code == status, resp.get_data(as_text=True)
    detail = resp.get_json()["detail"]
    for needle in needles:
        assert needle in detail, detail
    return detail


# ------------------------------------------------------------------ D4: predict
def test_posterior_predict_is_capped_by_draws_times_rows(app, monkeypatch):
    """1,000 rows on an 80,000-draw fit used to allocate 1.8 GB: draws x rows is capped,
    and a request at the cap peaks near the 24 bytes per draw and row the cap assumes."""
    client = app.test_client()
    fit = client.post("/v1/fits", json={"dataset": "diabetes", "prior": "ridge",
                                        "method": "exact", "draws": 1000, "chains": 4}).get_json()
    assert fit["status"] == "succeeded", fit["error"]
    path = f"/v1/fits/{fit['id']}/predict"
    X = np.random.default_rng(0).normal(scale=0.05, size=(251, 10))
    assert client.post(path, json={"X": X[:1].tolist()}).status_code == 200  # loads the model
    cap = 4000 * 250
    monkeypatch.setitem(app.config, "MAX_PREDICT_DRAW_ROWS", cap)
    calls = []
    _counting(monkeypatch, BayesianRegression, "predict_interval", calls)

    over = client.post(path, json={"X": X.tolist()})
    _problem(over, 413, "BAYESREG_MAX_PREDICT_DRAW_ROWS", str(cap), "251 x 4000 = 1004000")
    assert over.get_json()["errors"][0]["field"] == "X"
    assert calls == []  # refused before any draws x rows matrix exists

    tracemalloc.start()
    try:
        ok = client.post(path, json={"X": X[:250].tolist()})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert ok.status_code == 200 and len(ok.get_json()["posterior"]["mean"]) == 250
    assert len(calls) == 1
    assert peak <= 1.5 * 24 * cap, peak


def test_map_predict_is_capped_by_cells(app, monkeypatch):
    client = app.test_client()
    fit = client.post("/v1/fits", json={"dataset": "diabetes", "method": "map"}).get_json()
    monkeypatch.setitem(app.config, "MAX_CELLS", 100)
    path = f"/v1/fits/{fit['id']}/predict"
    _problem(client.post(path, json={"X": [[0.0] * 10] * 11}), 413, "BAYESREG_MAX_CELLS",
             "11 x 10 = 110")
    assert client.post(path, json={"X": [[0.0] * 10] * 10}).status_code == 200


# ------------------------------------------------------------------ D7: MC dropout
def test_dropout_predict_cost_cap_and_one_set_of_passes(app, monkeypatch):
    client = app.test_client()
    fit_id = _dropout_fit(client, seed=11)
    path = f"/v1/dropout/fits/{fit_id}/predict"
    X = np.random.default_rng(1).normal(size=(4, 3))
    cost, weights, units = predict_cost(3, 40, 3, (6,))
    assert (weights, units) == (24, 9)
    monkeypatch.setitem(app.config, "MAX_PREDICT_COST", cost)
    calls = []
    _counting(monkeypatch, MCDropoutRegressor, "_sample_rows", calls)

    over = client.post(path, json={"X": X.tolist()})
    _problem(over, 413, "BAYESREG_MAX_PREDICT_COST", str(cost),
             f"4 x 40 x (24 + 50 x 9 + 4000) = {4 * 40 * (24 + 450 + 4000)}")
    assert calls == []

    ok = client.post(path, json={"X": X[:3].tolist(), "hdi_prob": 0.8})
    assert ok.status_code == 200, ok.get_data(as_text=True)
    assert len(calls) == 1  # mean, sd and interval from one set of passes
    out = ok.get_json()
    est = jobs.load_dropout(app.extensions["bayesreg.store"], fit_id)
    mean, sd = est.predict(X[:3], return_std=True)
    interval = est.predict_interval(X[:3], hdi_prob=0.8)
    for key, want in (("mean", mean), ("sd", sd), ("obs_low", interval.obs_low),
                      ("obs_high", interval.obs_high)):
        np.testing.assert_array_equal(out["posterior"][key], want, err_msg=key)


def test_dropout_fit_that_could_never_predict_is_refused(app, monkeypatch):
    """A network whose single-row prediction exceeds the cap is refused before training."""
    client = app.test_client()
    cost = predict_cost(1, 40, 3, (6,))[0]
    monkeypatch.setitem(app.config, "MAX_PREDICT_COST", cost - 1)
    before = client.get("/v1/dropout/fits").get_json()["total"]
    X = np.random.default_rng(2).normal(size=(20, 3))
    resp = client.post("/v1/dropout/fits", json={"X": X.tolist(), "y": X[:, 0].tolist(),
                                                 **SMALL_DROPOUT})
    _problem(resp, 422, "BAYESREG_MAX_PREDICT_COST", f"40 x (24 + 50 x 9 + 4000) = {cost}")
    assert resp.get_json()["errors"][0]["field"] == "mc_samples"
    assert client.get("/v1/dropout/fits").get_json()["total"] == before


def test_dropout_predictions_on_two_fits_do_not_wait_for_each_other(app, monkeypatch):
    """While a prediction on fit A is held inside its MC passes, one on fit B completes.

    With a process-wide lock around predictions B would wait for A to finish; A is only
    released once B has answered (or B's generous liveness bound ran out)."""
    client = app.test_client()
    fit_a, fit_b = _dropout_fit(client, seed=21), _dropout_fit(client, seed=22)
    Xa = np.random.default_rng(3).normal(size=(7, 3))  # 7 rows: the gated request
    Xb = np.random.default_rng(4).normal(size=(2, 3))
    inside, release = threading.Event(), threading.Event()
    original = MCDropoutRegressor._sample_rows

    def gated(self, Xs, T, seed):
        if Xs.shape[0] == 7:
            inside.set()
            release.wait(120)
        return original(self, Xs, T, seed)

    monkeypatch.setattr(MCDropoutRegressor, "_sample_rows", gated)
    replies = {}

    def post(name, fit_id, X):
        replies[name] = app.test_client().post(f"/v1/dropout/fits/{fit_id}/predict",
                                               json={"X": X.tolist()})

    a = threading.Thread(target=post, args=("a", fit_a, Xa), daemon=True)
    b = threading.Thread(target=post, args=("b", fit_b, Xb), daemon=True)
    a.start()
    try:
        assert inside.wait(120), "prediction A never reached its passes"
        b.start()
        b.join(60)
        b_done_while_a_held = not b.is_alive() and a.is_alive()
    finally:
        release.set()
        a.join(120)
        b.join(120)
    assert b_done_while_a_held, "B waited for A: predictions serialize"
    assert replies["a"].status_code == replies["b"].status_code == 200
    assert len(replies["a"].get_json()["mean"]) == 7


# ------------------------------------------------------------------ D10: sync fits, plot
def test_costly_map_fit_is_queued_not_run_in_the_request_thread(app, monkeypatch):
    """Lasso with p > n and a tiny alpha runs coordinate descent to its sweep limit
    (35 s at 1000 x 2000): over BAYESREG_MAX_SYNC_COST it goes to the worker pool."""
    client = app.test_client()
    calls = []
    _counting(monkeypatch, jobs, "fit", calls)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(100, 600)).round(2)
    y = (X[:, :5].sum(axis=1) + rng.normal(size=100)).round(2)
    body = {"X": X.tolist(), "y": y.tolist(), "prior": "lasso", "alpha": 1e-4, "method": "map"}
    # 100^2 x 600 + 100,000 sweeps x 100 x 600 = 6.006e9, over the default 5e9
    assert sync_cost(dict(body, X=None), 100, 600) > app.config["MAX_SYNC_COST"]
    resp = client.post("/v1/fits", json=body)
    assert resp.status_code == 202, resp.get_data(as_text=True)
    assert resp.headers["Location"] == f"/v1/fits/{resp.get_json()['id']}"
    assert calls == []  # not fitted in this (the HTTP) process
    fit = _done(client, resp.headers["Location"])
    assert fit["status"] == "succeeded", fit["error"]
    assert len(fit["map"]["coef"]) == 600 and fit["worker_pid"] > 0

    small = client.post("/v1/fits", json={"dataset": "diabetes", "method": "map"})
    assert small.status_code == 201 and len(calls) == 1  # cheap ones still answer at once


def test_exact_draws_are_capped_like_nuts(app):
    client = app.test_client()
    cap = app.config["MAX_DRAWS_TOTAL"]
    resp = client.post("/v1/fits", json={"dataset": "diabetes", "prior": "ridge",
                                         "method": "exact", "draws": cap // 4 + 1, "chains": 4})
    _problem(resp, 422, "BAYESREG_MAX_DRAWS_TOTAL", f"{cap // 4 + 1} x 4 = {4 * (cap // 4 + 1)}")


def test_plot_of_many_coefficients_has_bounded_height(app):
    """p = 2,000 drew a 650 x 90,140 px image (34 s): at most PLOT_MAX_COEFS rows now."""
    client = app.test_client()
    rng = np.random.default_rng(6)
    n, p = 301, 300
    X = rng.normal(size=(n, p)).round(2)
    y = (X[:, :5] @ np.arange(1.0, 6.0) + rng.normal(size=n)).round(2)
    resp = client.post("/v1/fits", json={"X": X.tolist(), "y": y.tolist(), "prior": "ridge",
                                         "alpha": 0.1, "method": "exact", "draws": 100,
                                         "chains": 1})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    png = client.get(f"/v1/fits/{resp.get_json()['id']}/plot.png").get_data()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    rows = app.config["PLOT_MAX_COEFS"]
    assert rows < p
    assert width == 650 and height <= 100 * (0.45 * rows + 1.7) + 1, (width, height)


# ------------------------------------------------------------------ D11: model cache
def test_model_cache_is_bounded_by_bytes(app, monkeypatch):
    client = app.test_client()
    st = app.extensions["bayesreg.store"]
    ids = []
    for seed in range(4):
        fit = client.post("/v1/fits", json={"dataset": "diabetes", "prior": "ridge",
                                            "method": "exact", "draws": 500, "chains": 2,
                                            "seed": seed}).get_json()
        assert fit["status"] == "succeeded", fit["error"]
        ids.append(fit["id"])
    path = st.path(ids[0], jobs.MODEL_FILE)
    est, size = jobs._load(path, 0)
    coef = est.posterior_.posterior["coef"]
    assert size >= coef.size * 8  # the estimate covers the draws
    budget = int(2.5 * size)
    monkeypatch.setitem(app.config, "ESTIMATOR_CACHE_BYTES", budget)
    jobs.MODELS.clear()
    loads = []
    _counting(monkeypatch, BayesianRegression, "load", loads)

    for fit_id in ids:
        resp = client.post(f"/v1/fits/{fit_id}/predict", json={"X": [[0.0] * 10]})
        assert resp.status_code == 200
        assert jobs.MODELS.nbytes <= budget
    assert len(loads) == 4 and len(jobs.MODELS) == 2
    # the first fit was evicted to stay within the budget: it is read again
    assert client.post(f"/v1/fits/{ids[0]}/predict", json={"X": [[0.0] * 10]}).status_code == 200
    assert len(loads) == 5 and jobs.MODELS.nbytes <= budget
    # the most recent is served from memory
    assert client.post(f"/v1/fits/{ids[0]}/predict", json={"X": [[0.0] * 10]}).status_code == 200
    assert len(loads) == 5

    # a model larger than the whole budget is served but not kept
    monkeypatch.setitem(app.config, "ESTIMATOR_CACHE_BYTES", size // 2)
    jobs.MODELS.clear()
    assert client.post(f"/v1/fits/{ids[1]}/predict", json={"X": [[0.0] * 10]}).status_code == 200
    assert len(jobs.MODELS) == 0 and jobs.MODELS.nbytes == 0


@pytest.mark.parametrize("method", ["nuts", "exact"])
def test_posterior_cells_are_capped_by_width(client, app, monkeypatch, method):
    # draws x chains is within MAX_DRAWS_TOTAL, but times p the stored draws would not be
    monkeypatch.setitem(app.config, "MAX_POSTERIOR_CELLS", 7_999)
    body = {"dataset": "diabetes", "method": method, "prior": "ridge", "draws": 400,
            "chains": 2}
    _problem(client.post("/v1/fits", json=body), 422, "BAYESREG_MAX_POSTERIOR_CELLS",
             "400 x 2 x 10 = 8000")
    monkeypatch.setitem(app.config, "MAX_POSTERIOR_CELLS", 8_000)
    assert client.post("/v1/fits", json=dict(body, method="exact")).status_code == 201


def test_predict_multiply_adds_are_capped(client, app, monkeypatch):
    fit = client.post("/v1/fits", json={"dataset": "diabetes", "method": "exact",
                                        "prior": "ridge", "draws": 250, "chains": 4}).get_json()
    monkeypatch.setitem(app.config, "MAX_PREDICT_MULADDS", 50_000)  # 1000 draws x 5 rows x 10
    rows = {"X": [[0.0] * 10] * 5}
    assert client.post(f"/v1/fits/{fit['id']}/predict", json=rows).status_code == 200
    _problem(client.post(f"/v1/fits/{fit['id']}/predict", json={"X": [[0.0] * 10] * 6}), 413,
             "BAYESREG_MAX_PREDICT_MULADDS", "6 x 1000 x 10 = 60000")


def test_an_overflowing_dropout_prediction_is_422_not_null(client, monkeypatch):
    fit_id = _dropout_fit(client, 5)
    # a network whose products overflow float64 (forced here: the summaries come out inf)
    monkeypatch.setattr(MCDropoutRegressor, "predict_deterministic",
                        lambda self, X: np.full(len(X), np.inf))
    resp = client.post(f"/v1/dropout/fits/{fit_id}/predict", json={"X": [[1.0] * 3] * 2})
    _problem(resp, 422, "X[0]", "outside the floating-point range")
