"""MC dropout over HTTP: /v1/dropout/fits through the test client and a real server."""

import os
import signal
import sqlite3

import numpy as np
import pytest
import requests
from conftest import wait_until
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from scipy.stats import norm

from bayesreg import MCDropoutRegressor
from service import schemas

# Tiny and seeded: a few epochs, few MC passes, so each fit takes about a second.
SMALL = {"hidden": [6], "dropout": 0.1, "tau": 4.0, "length_scale": 0.05, "epochs": 15,
         "batch_size": 16, "learning_rate": 0.01, "mc_samples": 40, "standardize": True,
         "seed": 11}
_FIT = Draft202012Validator(schemas.DROPOUT_FIT)
_PRED = Draft202012Validator(schemas.DROPOUT_PREDICTION)


def _data(n=48, p=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = np.sin(X[:, 0]) + X[:, 1:].sum(axis=1) + 0.1 * rng.normal(size=n)
    return X, y


def _in_process(X, y, options):
    kw = {k: v for k, v in options.items() if k != "seed"}
    kw["hidden"] = tuple(kw["hidden"])
    return MCDropoutRegressor(seed=options["seed"], **kw).fit(X, y, evaluate=True)


def _wait(http, fit_id, timeout=120):
    seen = []

    def done():
        fit = http("GET", f"/v1/dropout/fits/{fit_id}").json
        seen.append((fit["status"], fit["progress"]["epochs_done"]))
        return fit if fit["status"] in ("succeeded", "failed") else None

    return wait_until(done, timeout, interval=0.05, what=f"dropout fit {fit_id}"), seen


def _central_flat(out, passes, tau, prob):
    """The deprecated flat fields are the former central intervals at ``prob``: the quantiles
    of the passes, and the exact quantiles of the mixture of N(pass, 1/tau)."""
    a = 0.5 * (1 - prob)
    np.testing.assert_allclose(np.c_[out["mean_low"], out["mean_high"]],
                               np.quantile(passes, [a, 1 - a], axis=0).T, rtol=1e-12)
    sd = 1 / np.sqrt(tau)
    for key, tail in (("obs_low", a), ("obs_high", 1 - a), ("lower", a), ("upper", 1 - a)):
        cdf = norm.cdf((np.asarray(out[key])[None, :] - passes) / sd).mean(0)
        np.testing.assert_allclose(cdf, tail, atol=1e-8, err_msg=key)
    np.testing.assert_allclose(out["mean"], passes.mean(0), rtol=1e-12)


def test_lifecycle_predicts_what_the_estimator_predicts(http):
    X, y = _data()
    body = {"X": X.tolist(), "y": y.tolist(), "feature_names": ["a", "b", "c"], **SMALL}
    resp = http("POST", "/v1/dropout/fits", json=body)
    assert resp.status == 202, resp.content
    fit = resp.json
    assert resp.headers["Location"] == f"/v1/dropout/fits/{fit['id']}"
    assert fit["kind"] == "mc_dropout" and fit["status"] in ("queued", "running")
    assert fit["progress"] == {"epochs_done": 0, "epochs_total": 15}
    _FIT.validate(fit)

    fit, seen = _wait(http, fit["id"])
    assert fit["status"] == "succeeded", fit["error"]
    _FIT.validate(fit)
    assert fit["progress"] == {"epochs_done": 15, "epochs_total": 15}
    assert fit["feature_names"] == ["a", "b", "c"] and fit["worker_pid"] > 0
    assert fit["request"]["n_samples"] == 48 and "X" not in fit["request"]

    # Training is seeded, so the worker's network is the in-process one, bit for bit.
    est = _in_process(X, y, SMALL)
    res = fit["result"]
    assert res["n_features"] == 3 and res["tau"] == 4.0 and res["dropout"] == 0.1
    assert res["log_likelihood_train"] == pytest.approx(est.log_likelihood(X, y), abs=1e-10)
    rmse = np.sqrt(np.mean((y - est.predict(X)) ** 2))
    assert res["train_rmse"] == pytest.approx(rmse, abs=1e-10)
    assert res["final_loss"] == pytest.approx(est.loss_curve_[-1], abs=1e-12)
    # the resource's result is the estimator's to_dict(), its timing beside it
    want = est.to_dict()
    assert set(fit["timing"]) == set(want.pop("timing"))
    floats = {k for k, v in want.items() if isinstance(v, float)}
    assert {k: res[k] for k in floats} == pytest.approx({k: want[k] for k in floats}, abs=1e-10)
    assert {k: res[k] for k in set(res) - floats} == {k: want[k] for k in set(want) - floats}

    Xt = X[:5] + 0.25
    url = f"/v1/dropout/fits/{fit['id']}/predict"
    pred = http("POST", url, json={"X": Xt.tolist(), "hdi_prob": 0.8})
    assert pred.status == 200, pred.content
    out = pred.json
    _PRED.validate(out)
    mean, sd = est.predict(Xt, return_std=True)
    interval = est.predict_interval(Xt, hdi_prob=0.8)
    expected = {"mean": mean, "sd": sd, **interval._asdict()}
    assert set(out["posterior"]) == set(expected)
    for key, want in expected.items():
        np.testing.assert_allclose(out["posterior"][key], want, rtol=0, atol=1e-10, err_msg=key)
    np.testing.assert_allclose(out["deterministic"], est.predict_deterministic(Xt), atol=1e-10)
    assert out["hdi_prob"] == 0.8 and out["mc_samples"] == 40
    assert all(s > 0.5 for s in out["posterior"]["sd"])  # at least the noise sd 1/sqrt(tau)
    # the former flat shape, kept for one release with its former meaning whatever the
    # request sends: central intervals at prob, default 0.95 (here: a request without prob)
    _central_flat(out, est.sample_predictions(Xt), est.tau_, 0.95)
    assert out["prob"] == 0.95
    assert all(lo < m < hi for lo, m, hi in zip(out["lower"], out["mean"], out["upper"]))

    default = http("POST", url, json={"X": Xt.tolist()}).json
    assert default["hdi_prob"] == 0.95 and default["posterior"]["mean"] == out["posterior"]["mean"]
    hdi95 = est.predict_interval(Xt, hdi_prob=0.95)
    for key in hdi95._fields:
        np.testing.assert_allclose(default["posterior"][key], getattr(hdi95, key), atol=1e-10)
    # "prob" (deprecated) sets the flat central intervals' mass; posterior stays HDIs
    old = http("POST", url, json={"X": Xt.tolist(), "prob": 0.8}).json
    _central_flat(old, est.sample_predictions(Xt), est.tau_, 0.8)
    assert old["prob"] == 0.8 and old["hdi_prob"] == 0.95
    assert old["posterior"] == default["posterior"]
    both = http("POST", url, json={"X": Xt.tolist(), "prob": 0.8, "hdi_prob": 0.8})
    assert both.status == 200 and both.json["posterior"] == out["posterior"]
    assert both.json["obs_low"] == old["obs_low"] and both.json["prob"] == 0.8

    wrong = http("POST", f"/v1/dropout/fits/{fit['id']}/predict", json={"X": [[1.0, 2.0]]})
    assert wrong.status == 422 and wrong.json["errors"][0]["field"] == "X"
    assert "3" in wrong.json["errors"][0]["message"]

    data = http("GET", f"/v1/dropout/fits/{fit['id']}/data").json
    np.testing.assert_array_equal(data["X"], X)
    np.testing.assert_array_equal(data["y"], y)


def test_both_predictions_share_one_shape(client):
    """A regression's and MC dropout's predictions validate against one schema for their
    common part: fit_id, posterior (the five interval fields), hdi_prob, a point prediction."""
    shared = Draft202012Validator(schemas.PREDICTION_SHARED)
    X = [[0.01] * 10, [-0.02] * 10]
    reg = client.post("/v1/fits", json={"dataset": "diabetes", "method": "exact",
                                        "prior": "ridge"}).get_json()
    drop = client.post("/v1/dropout/fits", json={"dataset": "diabetes", "wait": True, **SMALL})
    assert drop.status_code == 201, drop.get_json()
    answers = {}
    for kind, fit_id in (("fits", reg["id"]), ("dropout/fits", drop.get_json()["id"])):
        reply = client.post(f"/v1/{kind}/{fit_id}/predict", json={"X": X, "hdi_prob": 0.9})
        assert reply.status_code == 200, reply.get_json()
        answers[kind] = out = reply.get_json()
        shared.validate(out)
        assert out["hdi_prob"] == 0.9 and set(out["posterior"]) >= {
            "mean", "mean_low", "mean_high", "obs_low", "obs_high"}
    assert answers["fits"]["map"] is not None and answers["dropout/fits"]["deterministic"]
    # the schema can fail: without its point prediction, or an interval field, an answer is out
    for out, point in ((answers["fits"], "map"), (answers["dropout/fits"], "deterministic")):
        assert not shared.is_valid({k: v for k, v in out.items() if k != point})
        assert not shared.is_valid({**out, "posterior": {
            k: v for k, v in out["posterior"].items() if k != "obs_low"}})


def test_kinds_do_not_mix_and_delete(http):
    reg = http("POST", "/v1/fits", json={"dataset": "diabetes", "method": "map"}).json
    resp = http("POST", "/v1/dropout/fits", json={"dataset": "diabetes", "wait": True, **SMALL})
    assert resp.status == 201, resp.content  # wait: finished within WAIT_TIMEOUT
    drop = resp.json
    assert drop["status"] == "succeeded" and "wait" not in drop["request"]
    assert drop["feature_names"][:2] == ["age", "sex"] and drop["request"]["source"] == "diabetes"

    assert http("GET", f"/v1/dropout/fits/{reg['id']}").status == 404
    assert http("GET", f"/v1/fits/{drop['id']}").status == 404
    assert http("POST", f"/v1/fits/{drop['id']}/predict", json={"X": [[0.0] * 10]}).status == 404
    assert http("POST", f"/v1/dropout/fits/{reg['id']}/predict",
                json={"X": [[0.0] * 10]}).status == 404
    assert http("DELETE", f"/v1/dropout/fits/{reg['id']}").status == 404
    assert http("DELETE", f"/v1/fits/{drop['id']}").status == 404
    regs = http("GET", "/v1/fits?limit=200").json["items"]
    drops = http("GET", "/v1/dropout/fits?limit=200").json
    assert drop["id"] not in {f["id"] for f in regs} and reg["id"] in {f["id"] for f in regs}
    assert drops["items"][0]["id"] == drop["id"]
    assert all(f["kind"] == "mc_dropout" for f in drops["items"])
    assert http("GET", "/v1/dropout/fits?status=succeeded&limit=1").json["items"][0]["status"] \
        == "succeeded"

    assert http("DELETE", f"/v1/dropout/fits/{drop['id']}").status == 204
    assert http("GET", f"/v1/dropout/fits/{drop['id']}").status == 404
    assert http("GET", f"/v1/fits/{reg['id']}").status == 200


def test_predict_before_success_is_409_and_queue_is_shared(tmp_path):
    from service import create_app

    app = create_app({"TESTING": True, "START_POOL": False, "MAX_QUEUE": 2, "DATA_DIR": str(tmp_path)})
    client = app.test_client()
    queued = client.post("/v1/dropout/fits", json={"dataset": "diabetes", **SMALL})
    assert queued.status_code == 202
    fit_id = queued.get_json()["id"]
    resp = client.post(f"/v1/dropout/fits/{fit_id}/predict", json={"X": [[0.0] * 10]})
    assert resp.status_code == 409 and resp.get_json()["errors"][0]["field"] == "status"
    assert client.post("/v1/fits", json={"dataset": "diabetes", "draws": 10, "tune": 10,
                                         "chains": 1}).status_code == 202
    full = client.post("/v1/dropout/fits", json={"dataset": "diabetes", **SMALL})
    assert full.status_code == 503 and "BAYESREG_MAX_QUEUE=2" in full.get_json()["detail"]
    assert client.get("/v1/dropout/fits").get_json()["total"] == 1
    assert client.get("/v1/fits").get_json()["total"] == 1


def test_old_database_gains_the_kind_column(tmp_path):
    from service import create_app
    from service.store import _SCHEMA

    # A database as written before kinds existed, with one regression fit in it.
    db = sqlite3.connect(tmp_path / "bayesreg.sqlite3")
    db.executescript(_SCHEMA)
    db.execute("INSERT INTO fits (id, status, method, request, feature_names, created_at,"
               " updated_at) VALUES ('0b6f5e0e-94a6-4c52-9a4f-0c1b2b3e4d5f', 'failed', 'nuts',"
               " '{}', '[]', 'then', 'then')")
    db.commit()
    db.close()
    client = create_app({"TESTING": True, "START_POOL": False, "DATA_DIR": str(tmp_path)}).test_client()
    assert [f["id"] for f in client.get("/v1/fits").get_json()["items"]] == [
        "0b6f5e0e-94a6-4c52-9a4f-0c1b2b3e4d5f"]
    assert client.get("/v1/dropout/fits").get_json()["total"] == 0
    # A second opening (another process) finds the column there and leaves it be.
    from service.store import Store

    Store(str(tmp_path)).close()


def test_supervisor_stop_is_idempotent(tmp_path):
    import shutil

    from service.pool import Supervisor

    data_dir = tmp_path / "data"
    pool = Supervisor(str(data_dir), workers=1).start()
    pool.stop()
    shutil.rmtree(data_dir)
    pool.stop()  # as atexit does after a test fixture already stopped it
    assert not data_dir.exists()


@pytest.mark.slow  # the real server, killed and restarted
def test_server_kill_and_restart(server):
    """Worker killed mid-training fails that fit only; after a crash and restart the
    finished fit is intact and predicts the same, and the running one is failed."""
    X, y = _data(n=60, seed=5)
    done = requests.post(server.url("/v1/dropout/fits"), json={
        "X": X.tolist(), "y": y.tolist(), "wait": True, **SMALL}, timeout=120).json()
    assert done["status"] == "succeeded", done["error"]
    Xt = X[:4].tolist()
    pred_before = requests.post(server.url(f"/v1/dropout/fits/{done['id']}/predict"),
                                json={"X": Xt}, timeout=60).json()
    long = {"X": X.tolist(), "y": y.tolist(), **dict(SMALL, epochs=50_000)}

    def running(fit_id):
        def check():
            fit = requests.get(server.url(f"/v1/dropout/fits/{fit_id}"), timeout=30).json()
            ok = fit["status"] == "running" and fit["progress"]["epochs_done"] > 0
            return fit if ok else None
        return server.wait_until(check, 120, what="training to start")

    # 1. A worker killed mid-training fails that fit with the reason, nothing else.
    victim = requests.post(server.url("/v1/dropout/fits"), json=long, timeout=60).json()
    pid = running(victim["id"])["worker_pid"]
    os.kill(pid, signal.SIGKILL)

    def finished():
        fit = requests.get(server.url(f"/v1/dropout/fits/{victim['id']}"), timeout=30).json()
        return fit if fit["status"] in ("succeeded", "failed") else None

    failed = server.wait_until(finished, 60, what="the killed fit to fail")
    assert failed["status"] == "failed"
    assert "signal 9" in failed["error"]["message"] and str(pid) in failed["error"]["message"]
    again = requests.post(server.url("/v1/dropout/fits"), json={
        "X": X.tolist(), "y": y.tolist(), "wait": True, **SMALL}, timeout=120).json()
    assert again["status"] == "succeeded" and again["worker_pid"] != pid
    assert again["result"] == done["result"]  # same data and seed, same network

    # 2. The whole server dies while a fit trains; the restarted one reports it failed.
    dying = requests.post(server.url("/v1/dropout/fits"), json=long, timeout=60).json()
    running(dying["id"])
    listing = requests.get(server.url("/v1/dropout/fits?status=succeeded&limit=200"),
                           timeout=30).json()
    server.kill()
    server.start()
    after = requests.get(server.url(f"/v1/dropout/fits/{dying['id']}"), timeout=30).json()
    assert after["status"] == "failed"
    assert "server stopped while this fit was running" in after["error"]["message"]
    assert requests.get(server.url("/v1/dropout/fits?status=succeeded&limit=200"),
                        timeout=30).json() == listing
    pred_after = requests.post(server.url(f"/v1/dropout/fits/{done['id']}/predict"),
                               json={"X": Xt}, timeout=60).json()
    assert pred_after == pred_before


_ROBUST = {}


def _robust_app():
    if not _ROBUST:
        import atexit
        import shutil
        import tempfile

        from service import create_app

        data_dir = tempfile.mkdtemp(prefix="bayesreg-dropout-fuzz-")
        atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
        _ROBUST["app"] = create_app({"TESTING": True, "START_POOL": False, "DATA_DIR": data_dir})
    return _ROBUST["app"]


@st.composite
def _awkward_bodies(draw):
    n, p = draw(st.integers(1, 10)), draw(st.integers(1, 3))
    value = st.floats(-1e12, 1e12, allow_nan=False) | st.integers(-10**6, 10**6)
    return {"X": draw(st.lists(st.lists(value, min_size=p, max_size=p), min_size=n, max_size=n)),
            "y": draw(st.lists(value, min_size=n, max_size=n)),
            "hidden": draw(st.lists(st.integers(1, 4), max_size=2)),
            "dropout": draw(st.floats(0, 0.95)), "tau": draw(st.floats(1e-8, 1e8)),
            "length_scale": draw(st.floats(0, 1e3)), "epochs": draw(st.integers(1, 3)),
            "batch_size": draw(st.integers(1, 12)),
            "learning_rate": draw(st.floats(1e-6, 10)), "mc_samples": draw(st.integers(1, 8)),
            "standardize": draw(st.booleans()), "seed": draw(st.integers(0, 2**32 - 1))}


@given(body=_awkward_bodies())
@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_schema_valid_dropout_fits_never_fail_the_server(body):
    """Awkward but valid bodies, trained as a worker would: the fit ends succeeded or
    failed with a message, and GET and predict answer without a 5xx."""
    from service import jobs

    app = _robust_app()
    client, store = app.test_client(), app.extensions["bayesreg.store"]
    resp = client.post("/v1/dropout/fits", json=body)
    assert resp.status_code in (202, 422), resp.get_data(as_text=True)
    if resp.status_code == 422:
        assert resp.get_json()["errors"][0]["field"]
        return
    fit_id = resp.get_json()["id"]
    assert store.claim(os.getpid()) == fit_id
    jobs.run_claimed(store, fit_id, os.getpid())
    fit = client.get(f"/v1/dropout/fits/{fit_id}").get_json()
    _FIT.validate(fit)
    assert fit["status"] in ("succeeded", "failed")
    if fit["status"] == "failed":
        assert fit["error"]["message"]
    pred = client.post(f"/v1/dropout/fits/{fit_id}/predict", json={"X": body["X"][:3]})
    assert pred.status_code == (200 if fit["status"] == "succeeded" else 409), pred.get_data()
    if pred.status_code == 200:
        _PRED.validate(pred.get_json())
