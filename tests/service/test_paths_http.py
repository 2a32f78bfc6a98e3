"""The regularization path over HTTP (/v1/paths), and PSIS-LOO on a fit ("loo": true).

The service runs the core's ``regularization_path`` (and ``psis_loo``) in a worker; JSON
carries float64 exactly, so a path's resource equals the same path run here in process, and
the MAP path equals scikit-learn's lasso_path at the alphas the server chose."""

import io
import math
import os
import warnings

import numpy as np
import pytest
from conftest import Http, wait_until
from jsonschema import Draft202012Validator
from sklearn.linear_model import lasso_path

from bayesreg import BayesianRegression, regularization_path
from bayesreg.loo import LooResult
from service import schemas

_PATH = Draft202012Validator(schemas.PATH)
_FIT = Draft202012Validator(schemas.FIT)
# Tiny and seeded: three alphas, 2 x (150 + 150) draws each.
SMALL = {"prior": "lasso", "n_alphas": 3, "alpha_min_ratio": 0.01, "draws": 150, "tune": 150,
         "chains": 2, "seed": 5}


def _data(n=60, p=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = 1.5 * X[:, 0] - 0.7 * X[:, 1] + rng.normal(size=n)
    return X, y


def _wait(http, path_id, timeout=240):
    seen = []

    def done():
        res = http("GET", f"/v1/paths/{path_id}").json
        seen.append((res["status"], res["progress"]["fits_done"]))
        return res if res["status"] not in ("queued", "running") else None

    return wait_until(done, timeout, interval=0.05, what=f"path {path_id}"), seen


def _same(got, want, path="result"):
    """``got`` (from JSON) equals ``want`` (the core's to_dict, in process) to rounding."""
    if isinstance(want, dict):
        assert set(got) == set(want), path
        for key in want:
            _same(got[key], want[key], f"{path}.{key}")
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want)):
            _same(g, w, f"{path}[{i}]")
    elif isinstance(want, float) and not isinstance(want, bool):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12) or (
            got is None and math.isnan(want)), f"{path}: {got} != {want}"
    else:
        assert got == want, f"{path}: {got!r} != {want!r}"


def test_a_path_is_the_cores_path_with_progress_in_fits_and_a_plot(http):
    X, y = _data()
    body = {"X": X.tolist(), "y": y.tolist(), "feature_names": ["a", "b", "c"], **SMALL}
    reply = http("POST", "/v1/paths", json=body)
    assert reply.status == 202, reply.content
    res = reply.json
    assert reply.headers["Location"] == f"/v1/paths/{res['id']}"
    assert res["kind"] == "path" and res["status"] in ("queued", "running")
    assert res["progress"] == {"fits_done": 0, "fits_total": 3}
    _PATH.validate(res)

    res, seen = _wait(http, res["id"])
    assert res["status"] == "succeeded", res["error"]
    _PATH.validate(res)
    assert res["progress"] == {"fits_done": 3, "fits_total": 3}
    # progress is reported fit by fit, before the end
    assert any(status == "running" and 0 < done < 3 for status, done in seen), seen
    assert res["request"]["n_samples"] == 60 and "X" not in res["request"]
    assert res["settings"]["seed"] == 5 and res["settings"]["n_alphas"] == 3

    want = regularization_path(X, y, feature_names=["a", "b", "c"], **SMALL).to_dict()
    _same(res["result"], want)
    assert set(res["timing"]) >= {"map_s", "sample_s", "loo_s", "total_s"}

    png = http("GET", f"/v1/paths/{res['id']}/plot.png")
    assert png.status == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.headers["Content-Type"] == "image/png"


def _map_path_of(http, body):
    reply = http("POST", "/v1/paths", json=body)
    assert reply.status == 202, reply.content
    res, _ = _wait(http, reply.json["id"])
    assert res["status"] == "succeeded", res["error"]
    return res


def test_a_csv_map_path_is_scikit_learns_lasso_path(client):
    X, y = _data(n=50, p=4, seed=1)
    rows = "\n".join(",".join(repr(float(v)) for v in (*x, t)) for x, t in zip(X, y))
    csv = ("a,b,c,d,y\n" + rows + "\n").encode()
    form = {"file": (io.BytesIO(csv), "data.csv"), "target": "y", "method": "map",
            "alphas": "1.0,0.3,0.1,0.01"}
    reply = client.post("/v1/paths", data=form, content_type="multipart/form-data")
    assert reply.status_code == 202, reply.get_json()
    res = wait_until(lambda: (lambda r: r if r["status"] not in ("queued", "running") else None)(
        client.get(reply.headers["Location"]).get_json()), 120, what="the CSV path")
    assert res["status"] == "succeeded", res["error"]
    assert res["request"]["source"] == "csv" and res["feature_names"] == ["a", "b", "c", "d"]
    result = res["result"]
    assert result["alphas"] == [1.0, 0.3, 0.1, 0.01]
    assert result["elpd_loo"] is None and result["best_alpha"] is None
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    _, coefs, _ = lasso_path(Xc, yc, alphas=result["alphas"], tol=1e-12, max_iter=10**6)
    np.testing.assert_allclose(np.array(result["coef_map"]), coefs.T, atol=1e-6)
    assert ((np.array(result["coef_map"]) == 0) == (np.abs(coefs.T) < 1e-12)).all()


def test_a_dataset_path_on_the_default_grid(client):
    res = _map_path_of(Http(client=client), {"dataset": "diabetes", "method": "map", "n_alphas": 4})
    want = regularization_path(*_diabetes(), method="map", n_alphas=4,
                               seed=res["settings"]["seed"]).to_dict()
    _same(res["result"], want)
    assert res["result"]["coef_map"][0] == [0.0] * 10   # alpha_max zeroes every coefficient


def _diabetes():
    from bayesreg import load_diabetes

    return load_diabetes()


def test_delete_cancels_a_running_path(client):
    body = {"dataset": "diabetes", "n_alphas": 5, "draws": 5000, "tune": 5000, "chains": 2,
            "seed": 1}
    reply = client.post("/v1/paths", json=body)
    assert reply.status_code == 202, reply.get_json()
    url = reply.headers["Location"]
    wait_until(lambda: client.get(url).get_json()["status"] == "running", 120,
               what="the path to run")
    reply = client.delete(url)
    assert reply.status_code == 202 and reply.get_json()["cancel_requested"] is True
    res = wait_until(lambda: (lambda r: r if r["status"] not in ("queued", "running") else None)(
        client.get(url).get_json()), 60, what="the cancel")
    assert res["status"] == "cancelled" and res["result"] is None
    assert res["progress"]["fits_done"] < 5
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404


def test_a_path_past_its_time_limit_fails_naming_it(client):
    body = {"dataset": "diabetes", "n_alphas": 5, "draws": 5000, "tune": 5000, "chains": 2,
            "seed": 1, "time_limit": 0.5}
    reply = client.post("/v1/paths", json=body)
    assert reply.status_code == 202, reply.get_json()
    res = wait_until(lambda: (lambda r: r if r["status"] not in ("queued", "running") else None)(
        client.get(reply.headers["Location"]).get_json()), 60, what="the time limit")
    assert res["status"] == "failed" and res["result"] is None
    assert "time limit of 0.5 s (the request's time_limit)" in res["error"]["message"]
    assert res["settings"]["time_limit"] == 0.5


MAX = 100  # the default BAYESREG_MAX_PATH_ALPHAS


@pytest.mark.parametrize("body, field, needle", [
    ({"n_alphas": MAX + 1}, "n_alphas", f"<= {MAX}"),
    ({"alphas": [1.0] * (MAX + 1)}, "alphas", f"at most {MAX} items"),
    ({"alphas": [0.1, -1]}, "alphas[1]", ">= 0"),
    # alpha 0 leaves the coefficients unpenalized: sigma then needs n > p + 1 rows (the core's
    # rule, at the door); X has 3 rows and 2 columns
    ({"dataset": None, "X": [[1, 2], [2, 1], [3, 5]], "y": [1, 2, 3], "alphas": [1, 0]}, "y",
     "flat prior alpha = 0"),
    ({"alphas": []}, "alphas", "at least 1"),
    ({"alpha_min_ratio": 1}, "alpha_min_ratio", "< 1"),
    ({"prior": "horseshoe"}, "prior", "elastic_net, lasso, ridge"),
    ({"alpha": 0.1}, "alpha", "not a known field"),
    ({"learn_alpha": True}, "learn_alpha", "not a known field"),
    ({"method": "exact"}, "method", "closed form"),                 # the core's own rule
    ({"draws": 20_000, "chains": 4}, "draws", "BAYESREG_MAX_DRAWS_TOTAL"),
    # per fit: 10,000 x 4 x 10 = 400,000 cells; all 60 alphas: 24,000,000 > 20,000,000
    ({"draws": 10_000, "chains": 4, "n_alphas": 60}, "n_alphas",
     "BAYESREG_MAX_POSTERIOR_CELLS); got 10000 x 4 x 10 x 60 = 24000000"),
    ({"draws": 10_000, "chains": 4, "alphas": [1.0] * 60}, "alphas", "x alphas must be <="),
    ({"sigma": 1e-300}, "sigma", ">= 1e-50"),
    ({"time_limit": 10**7}, "time_limit", "<="),
])
def test_caps_and_malformed_paths_are_422_naming_the_field(client, body, field, needle):
    body = {k: v for k, v in {"dataset": "diabetes", **body}.items() if v is not None}
    reply = client.post("/v1/paths", json=body)
    assert reply.status_code == 422, reply.get_json()
    errors = reply.get_json()["errors"]
    assert errors[0]["field"] == field and needle in errors[0]["message"], errors


def test_the_total_cap_is_the_configured_one(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_POSTERIOR_CELLS", 2 * 100 * 10 * 3 - 1)
    body = {"dataset": "diabetes", "draws": 100, "chains": 2, "n_alphas": 3}
    reply = client.post("/v1/paths", json=body)
    assert reply.status_code == 422 and reply.get_json()["errors"][0]["field"] == "n_alphas"
    monkeypatch.setitem(app.config, "MAX_PATH_ALPHAS", 2)
    reply = client.post("/v1/paths", json={"dataset": "diabetes", "n_alphas": 3})
    assert reply.status_code == 422 and "<= 2" in reply.get_json()["errors"][0]["message"]


def test_csv_alphas_must_be_numbers(client):
    form = {"file": (io.BytesIO(b"a,y\n1,2\n2,3\n3,5\n"), "d.csv"), "target": "y",
            "alphas": "0.1,x"}
    reply = client.post("/v1/paths", data=form, content_type="multipart/form-data")
    assert reply.status_code == 422
    assert reply.get_json()["errors"][0] == {"field": "alphas",
                                             "message": "must be a finite number; got \"x\""}


def test_a_path_is_not_a_fit(client):
    res = client.post("/v1/paths", json={"dataset": "diabetes", "method": "map",
                                         "n_alphas": 2}).get_json()
    assert client.get(f"/v1/fits/{res['id']}").status_code == 404
    assert client.get(f"/v1/paths/{res['id']}/data").get_json()["feature_names"][0] == "age"
    listed = client.get("/v1/paths?limit=200").get_json()
    assert res["id"] in {item["id"] for item in listed["items"]}
    assert all(item["kind"] == "path" for item in listed["items"])


def test_a_damaged_data_file_fails_the_path_naming_it(app, client):
    # a path keeps one file, its data (checksummed); its result lives in the database only
    res = _map_path_of(Http(client=client), {"dataset": "diabetes", "method": "map",
                                            "n_alphas": 2})
    store = app.extensions["bayesreg.store"]
    assert sorted(os.listdir(store.fit_dir(res["id"]))) == ["data.npz"]
    assert client.get(f"/v1/paths/{res['id']}/plot.png").status_code == 200  # from the row
    os.remove(store.path(res["id"], "plot.png"))
    with open(store.path(res["id"], "data.npz"), "ab") as fh:
        fh.write(b" ")
    after = client.get(f"/v1/paths/{res['id']}").get_json()
    assert after["status"] == "failed" and "data.npz" in after["error"]["message"]
    assert client.get(f"/v1/paths/{res['id']}/plot.png").status_code == 409


# ----------------------------------------------------------------------------- "loo": true


def _loo_in_process(est, X, y):
    """``est.loo(X, y)`` as the fit resource's block; its Pareto-k warning, when it gives
    one, is recorded and must be the block's ``warning`` text."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        want = LooResult.from_elpd(est.loo(X, y)).to_dict()
    assert [str(w.message) for w in caught] == ([want["warning"]] if want["warning"] else [])
    return want


def test_the_loo_block_of_an_exact_fit_is_the_estimators_loo(client):
    X, y = _data(n=40, p=2, seed=3)
    body = {"X": X.tolist(), "y": y.tolist(), "prior": "ridge", "alpha": 0.2,
            "method": "exact", "draws": 300, "chains": 2, "seed": 9, "loo": True}
    reply = client.post("/v1/fits", json=body)
    assert reply.status_code == 201, reply.get_json()
    fit = reply.get_json()
    _FIT.validate(fit)
    est = BayesianRegression(prior="ridge", alpha=0.2, method="exact", draws=300, chains=2,
                             seed=9).fit(X, y)
    _same(fit["loo"], _loo_in_process(est, X, y), "loo")
    assert fit["loo"]["n_obs"] == 40 and fit["loo"]["n_draws"] == 600
    plain = client.post("/v1/fits", json={**body, "loo": False}).get_json()
    assert plain["loo"] is None


def test_the_loo_block_of_a_nuts_fit_is_the_estimators_loo(client):
    X, y = _data(n=40, p=2, seed=4)
    body = {"X": X.tolist(), "y": y.tolist(), "prior": "lasso", "alpha": 0.05, "draws": 150,
            "tune": 150, "chains": 2, "seed": 2, "loo": True}
    reply = client.post("/v1/fits", json=body)
    assert reply.status_code == 202, reply.get_json()
    fit = wait_until(lambda: (lambda r: r if r["status"] not in ("queued", "running") else None)(
        client.get(reply.headers["Location"]).get_json()), 240, what="the fit")
    assert fit["status"] == "succeeded", fit["error"]
    est = BayesianRegression(prior="lasso", alpha=0.05, draws=150, tune=150, chains=2,
                             seed=2).fit(X, y)
    _same(fit["loo"], _loo_in_process(est, X, y), "loo")


def test_loo_needs_a_posterior(client):
    reply = client.post("/v1/fits", json={"dataset": "diabetes", "method": "map", "loo": True})
    assert reply.status_code == 422
    assert reply.get_json()["errors"] == [{
        "field": "loo", "message": "needs a posterior: method nuts or exact; got method 'map'"}]


@pytest.mark.slow  # a real server of its own, killed and started again
def test_a_restart_fails_the_running_path_and_runs_the_queued_one(tmp_path):
    import requests
    from conftest import Server

    server = Server(tmp_path, workers=1)
    try:
        server.start()

        def post(body):
            reply = requests.post(server.url("/v1/paths"), json=body, timeout=60)
            assert reply.status_code in (201, 202), reply.text
            return reply.json()["id"]

        def get(path_id):
            return requests.get(server.url(f"/v1/paths/{path_id}"), timeout=30).json()

        done = post({"dataset": "diabetes", "method": "map", "n_alphas": 3, "wait": True})
        wait_until(lambda: get(done)["status"] == "succeeded", 120, what="the first path")
        long = post({"dataset": "diabetes", "n_alphas": 5, "draws": 20000, "tune": 1000,
                     "chains": 2, "seed": 1})
        wait_until(lambda: get(long)["status"] == "running", 120, what="the long path to run")
        queued = post({"dataset": "diabetes", "method": "map", "n_alphas": 2})
        assert get(queued)["status"] == "queued"  # one worker, busy with the long path
        server.kill()
        server.start()
        after = get(long)
        assert after["status"] == "failed"
        assert "server stopped while this fit was running" in after["error"]["message"]
        ran = wait_until(lambda: (lambda r: r if r["status"] == "succeeded" else None)(
            get(queued)), 120, what="the queued path after the restart")
        assert ran["progress"] == {"fits_done": 2, "fits_total": 2}
        png = requests.get(server.url(f"/v1/paths/{done}/plot.png"), timeout=60)
        assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    finally:
        server.stop()
