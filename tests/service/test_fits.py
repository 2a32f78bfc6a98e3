"""The fit lifecycle over HTTP, through the test client and a real server alike."""

import io

import arviz as az
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import ElasticNet, Lasso, Ridge

from bayesreg import BayesianRegression
from bayesreg.diagnostics import convergence_warnings

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SMALL_NUTS = {"method": "nuts", "draws": 200, "tune": 200, "chains": 2, "seed": 7}


def _sklearn(prior, alpha, l1_ratio, n):
    if prior == "lasso":
        return Lasso(alpha=alpha, tol=1e-12, max_iter=200_000)
    if prior == "elastic_net":
        return ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-12, max_iter=200_000)
    return Ridge(alpha=alpha * n)  # Ridge's loss has no 1/(2n)


@pytest.mark.parametrize("prior", ["ridge", "lasso", "elastic_net"])
def test_map_equals_core_and_sklearn(http, diabetes, prior):
    X, y = diabetes
    body = {"X": X.to_numpy().tolist(), "y": y.tolist(), "feature_names": list(X.columns),
            "prior": prior, "alpha": 0.05, "l1_ratio": 0.3, "method": "map"}
    resp = http("POST", "/v1/fits", json=body)
    assert resp.status == 201, resp.content
    fit = resp.json
    assert resp.headers["Location"] == f"/v1/fits/{fit['id']}"
    assert fit["status"] == "succeeded" and fit["posterior"] is None
    core = BayesianRegression(prior=prior, alpha=0.05, l1_ratio=0.3, method="map").fit(X, y)
    ref = _sklearn(prior, 0.05, 0.3, len(y)).fit(X, y)
    for other_coef, other_icpt in ((core.coef_, core.intercept_), (ref.coef_, ref.intercept_)):
        np.testing.assert_allclose(fit["map"]["coef"], other_coef, rtol=1e-6, atol=1e-6)
        assert fit["map"]["intercept"] == pytest.approx(other_icpt, rel=1e-6, abs=1e-6)
    assert fit["feature_names"] == list(X.columns)


def test_map_fit_predicts_without_posterior(http):
    fit = http("POST", "/v1/fits", json={"dataset": "diabetes", "method": "map"}).json
    pred = http("POST", f"/v1/fits/{fit['id']}/predict", json={"X": [[0.0] * 10]})
    assert pred.status == 200
    assert pred.json["posterior"] is None and "no posterior" in pred.json["note"]
    assert pred.json["map"][0] == pytest.approx(fit["map"]["intercept"])
    for suffix in ("posterior.nc", "plot.png"):
        resp = http("GET", f"/v1/fits/{fit['id']}/{suffix}")
        assert resp.status == 409 and resp.json["errors"][0]["field"] == "method"


def test_exact_answers_at_once_with_posterior(http, tmp_path):
    resp = http("POST", "/v1/fits", json={"dataset": "diabetes", "prior": "ridge", "alpha": 0.1,
                                          "method": "exact", "draws": 500, "chains": 2})
    assert resp.status == 201
    fit = resp.json
    assert fit["status"] == "succeeded"
    assert [c["name"] for c in fit["posterior"]["coef"]] == fit["feature_names"]
    nc = http("GET", f"/v1/fits/{fit['id']}/posterior.nc")
    assert nc.status == 200
    (tmp_path / "exact.nc").write_bytes(nc.content)
    assert az.from_netcdf(tmp_path / "exact.nc").posterior["coef"].shape[:2] == (2, 500)


def test_nuts_lifecycle(http, tmp_path):
    resp = http("POST", "/v1/fits", json={"dataset": "diabetes", "prior": "lasso", "alpha": 0.1,
                                          **SMALL_NUTS})
    assert resp.status == 202, resp.content
    fit = resp.json
    assert resp.headers["Location"] == f"/v1/fits/{fit['id']}"
    assert fit["status"] in ("queued", "running")
    # the phase agrees with the status (a worker may claim the fit before the answer is read)
    progress = fit["progress"]
    assert progress["draws_total"] == 2 * (200 + 200)
    assert progress["phase"] == "queued" if fit["status"] == "queued" else \
        progress["phase"] in ("starting", "tuning", "sampling")

    fit, seen = http.wait_done(fit["id"])
    assert fit["status"] == "succeeded", fit["error"]
    assert any(status in ("queued", "running") for status, _, _ in seen)
    done = [draws for _, _, draws in seen]
    assert done == sorted(done)
    assert fit["progress"]["draws_done"] == fit["progress"]["draws_total"] == 800
    assert fit["progress"]["phase"] == "done"
    assert fit["worker_pid"] > 0
    post = fit["posterior"]
    assert [c["name"] for c in post["coef"]] == fit["feature_names"]
    rows = post["coef"] + [post["intercept"], post["sigma"]]
    for row in rows:
        assert row["hdi_low"] <= row["median"] <= row["hdi_high"]

    pred = http("POST", f"/v1/fits/{fit['id']}/predict",
                json={"X": [[0.0] * 10, [0.05] * 10], "hdi_prob": 0.9}).json
    p = pred["posterior"]
    assert pred["hdi_prob"] == 0.9 and len(pred["map"]) == 2
    for i in range(2):
        assert p["obs_low"][i] < p["mean_low"][i] <= p["mean"][i] <= p["mean_high"][i] < p["obs_high"][i]

    nc = http("GET", f"/v1/fits/{fit['id']}/posterior.nc")
    assert nc.status == 200 and nc.headers["Content-Type"] == "application/x-netcdf"
    (tmp_path / "post.nc").write_bytes(nc.content)
    idata = az.from_netcdf(tmp_path / "post.nc")
    assert idata.posterior["coef"].shape[:2] == (2, 200)
    # the summary and diagnostics are those of the stored draws, recomputed here with ArviZ
    ref = az.summary(idata.posterior, hdi_prob=0.94, round_to="none")
    ref_names = [f"coef[{n}]" for n in fit["feature_names"]] + ["intercept", "sigma"]
    for row, name in zip(rows, ref_names, strict=True):
        for col in ("mean", "sd", "r_hat", "ess_bulk", "ess_tail"):
            assert row[col] == pytest.approx(ref.loc[name, col], rel=1e-9), (name, col)
        assert (row["hdi_low"], row["hdi_high"]) == pytest.approx(
            (ref.loc[name, "hdi_3%"], ref.loc[name, "hdi_97%"]), rel=1e-9)
    diag = fit["diagnostics"]
    divergences = int(idata.sample_stats["diverging"].sum())
    assert diag["divergences"] == divergences == 0   # seeded, and diabetes is well-conditioned
    assert diag["max_r_hat"] == pytest.approx(ref["r_hat"].max(), rel=1e-12)
    assert diag["min_ess_bulk"] == pytest.approx(ref["ess_bulk"].min(), rel=1e-12)
    table = pd.DataFrame(rows).set_index("name")
    assert diag["warnings"] == convergence_warnings(table, divergences, draws=200, chains=2)

    png = http("GET", f"/v1/fits/{fit['id']}/plot.png")
    assert png.status == 200 and png.content.startswith(PNG_MAGIC)
    assert png.headers["Content-Type"] == "image/png"


def test_nuts_wait_returns_finished_fit(http):
    resp = http("POST", "/v1/fits", json={"dataset": "diabetes", "wait": True, **SMALL_NUTS})
    assert resp.status == 201 and resp.json["status"] == "succeeded"
    assert "wait" not in resp.json["request"]


def test_csv_upload(http, diabetes):
    from urllib3 import encode_multipart_formdata

    X, y = diabetes
    csv = X.assign(target=y).to_csv(index=False).encode()
    body, ctype = encode_multipart_formdata({
        "file": ("diabetes.csv", csv, "text/csv"), "target": "target", "prior": "ridge",
        "alpha": "0.2", "method": "map", "fit_intercept": "true"})
    resp = http("POST", "/v1/fits", data=body, content_type=ctype)
    assert resp.status == 201, resp.content
    fit = resp.json
    assert fit["feature_names"] == list(X.columns) and fit["request"]["source"] == "csv"
    core = BayesianRegression(prior="ridge", alpha=0.2, method="map").fit(X, y)
    np.testing.assert_allclose(fit["map"]["coef"], core.coef_, rtol=1e-9, atol=1e-9)
    data = http("GET", f"/v1/fits/{fit['id']}/data").json
    np.testing.assert_array_equal(data["X"], X.to_numpy())
    np.testing.assert_array_equal(data["y"], y.to_numpy())


def test_list_pages_and_delete(http):
    ids = [http("POST", "/v1/fits", json={"dataset": "diabetes", "method": "map", "alpha": a}).json["id"]
           for a in (0.01, 0.02, 0.03)]
    page = http("GET", "/v1/fits?limit=2").json
    assert page["limit"] == 2 and page["total"] >= 3 and len(page["items"]) == 2
    assert [f["id"] for f in page["items"]] == ids[::-1][:2]  # newest first
    assert "X" not in page["items"][0]["request"]
    nxt = http("GET", page["next"]).json
    assert nxt["offset"] == 2 and nxt["items"][0]["id"] == ids[0]

    assert http("DELETE", f"/v1/fits/{ids[1]}").status == 204
    assert http("GET", f"/v1/fits/{ids[1]}").status == 404
    assert http("DELETE", f"/v1/fits/{ids[1]}").status == 404


def test_predict_checks_width_and_state(http):
    fit = http("POST", "/v1/fits", json={"dataset": "diabetes", "method": "map"}).json
    resp = http("POST", f"/v1/fits/{fit['id']}/predict", json={"X": [[1.0, 2.0]]})
    assert resp.status == 422 and resp.json["errors"][0]["field"] == "X"
    assert "10" in resp.json["errors"][0]["message"]


def test_full_queue_answers_503_with_retry_after(tmp_path):
    from service import create_app

    # No pool, so queued fits stay queued and the queue fills deterministically.
    app = create_app({"TESTING": True, "START_POOL": False, "MAX_QUEUE": 2, "RETRY_AFTER": 7,
                      "DATA_DIR": str(tmp_path)})
    client = app.test_client()
    body = {"dataset": "diabetes", **SMALL_NUTS}
    assert [client.post("/v1/fits", json=body).status_code for _ in range(2)] == [202, 202]
    full = client.post("/v1/fits", json=body)
    assert full.status_code == 503 and full.headers["Retry-After"] == "7"
    assert full.mimetype == "application/problem+json"
    assert "BAYESREG_MAX_QUEUE=2" in full.get_json()["detail"]
    # Cheap methods do not queue, so they still work.
    assert client.post("/v1/fits", json={"dataset": "diabetes", "method": "map"}).status_code == 201
    health = client.get("/health").get_json()
    assert health["queue_depth"] == 2 and health["status"] == "degraded"
    assert len(list((tmp_path / "fits").iterdir())) == 3  # the rejected fit left no files


def test_unexpected_error_is_a_problem_without_internals(tmp_path):
    from service import create_app

    app = create_app({"START_POOL": False, "DATA_DIR": str(tmp_path)})

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    resp = app.test_client().get("/boom")
    assert resp.status_code == 500 and resp.mimetype == "application/problem+json"
    assert "secret" not in resp.get_data(as_text=True)


def test_one_pool_per_data_directory(app):
    from service.pool import Supervisor

    # The app's own pool holds the directory; a second one must stand aside
    # rather than fail the first one's running fits as "stopped".
    second = Supervisor(app.config["DATA_DIR"], workers=1).start()
    assert second.procs == []
    second.stop()
    assert app.extensions["bayesreg.pool"].procs[0].is_alive()


def test_progress_names_the_phase(http, rng):
    """Polled while it runs, a fit goes queued/starting -> tuning -> sampling -> done."""
    X = rng.standard_normal((400, 120))
    y = X[:, :3] @ [2.0, -1.0, 0.5] + rng.standard_normal(400)
    resp = http("POST", "/v1/fits", json={"X": X.tolist(), "y": y.tolist(), "prior": "lasso",
                                          "alpha": 0.05, "draws": 3000, "tune": 2000,
                                          "chains": 2, "seed": 1})
    assert resp.status == 202, resp.content
    fit, seen = http.wait_done(resp.json["id"])
    assert fit["status"] == "succeeded", fit["error"]
    order = ["queued", "starting", "tuning", "sampling", "done"]
    phases = [phase for _, phase, _ in seen]
    assert phases == sorted(phases, key=order.index), phases
    assert {"tuning", "sampling"} & set(phases), phases  # seen while it ran (about 1.5 s)
    assert phases[-1] == "done"
    # draws counted while it ran, not only the total written at the end (reports every 0.25 s)
    draws = [d for _, _, d in seen]
    assert draws == sorted(draws) and draws[-1] == 2 * (3000 + 2000)
    assert any(0 < d < 10_000 for status, _, d in seen if status == "running"), seen


def test_integral_floats_are_integers_and_seed_errors_say_seed(client):
    """JSON has one number type: draws 200.0 is 200 (a worker must not fail the fit on it)."""
    body = {"dataset": "diabetes", "prior": "lasso", "alpha": 0.1, "method": "nuts",
            "draws": 200.0, "tune": 200.0, "chains": 2.0, "seed": 7.0, "wait": True}
    resp = client.post("/v1/fits", json=body)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["status"] == "succeeded"
    assert resp.get_json()["progress"]["draws_total"] == 800
    bad = client.post("/v1/fits", json={"dataset": "diabetes", "method": "map", "seed": 1.5})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.get_json()["errors"]] == ["seed"]


@pytest.mark.parametrize("path,extra", [("/v1/fits", {"method": "nuts"}),
                                        ("/v1/fits", {"method": "map"}),
                                        ("/v1/dropout/fits", {})])
def test_dataset_with_wrong_feature_names_is_422_before_queueing(client, path, extra):
    resp = client.post(path, json={"dataset": "diabetes", "feature_names": ["a", "b"], **extra})
    assert resp.status_code == 422
    assert resp.get_json()["errors"][0]["field"] == "feature_names"
    assert "(10)" in resp.get_json()["errors"][0]["message"]


def test_no_sampling_worker_compiles_at_any_width(http, rng):
    """Workers load the one kernel at start: fits of new widths and priors compile nothing."""
    for p, prior in [(2, "lasso"), (5, "ridge"), (9, "elastic_net"), (3, "lasso")]:
        X = rng.standard_normal((40, p))
        y = X @ np.linspace(1, -1, p) + rng.standard_normal(40)
        resp = http("POST", "/v1/fits", json={"X": X.tolist(), "y": y.tolist(), "prior": prior,
                                              "alpha": 0.05, "wait": True, **SMALL_NUTS})
        assert resp.status == 201 and resp.json["status"] == "succeeded", resp.json
        assert resp.json["timing"]["compile_s"] == 0.0


def test_a_fit_states_every_setting_it_ran_with(http):
    fit = http("POST", "/v1/fits", json={"dataset": "diabetes", "method": "map"}).json
    s = fit["settings"]
    # the defaults, resolved: nothing was sent but the data and the method
    assert (s["prior"], s["alpha"], s["l1_ratio"], s["sigma"]) == ("lasso", 0.1, 0.5, None)
    assert (s["draws"], s["tune"], s["chains"], s["hdi_prob"]) == (1000, 1000, 4, 0.94)
    assert s["method"] == "map" and isinstance(s["seed"], int)  # the seed drawn for this fit
    assert fit["request"] == {"dataset": "diabetes", "method": "map", "source": "diabetes",
                              "n_samples": 442, "n_features": 10}
    queued = http("POST", "/v1/fits", json={"dataset": "diabetes", "draws": 100, "tune": 100,
                                            "chains": 2, "seed": 7, "prior": "ridge"}).json
    assert queued["settings"]["method"] == "nuts" and queued["settings"]["seed"] == 7
    assert queued["settings"]["draws"] == 100 and queued["settings"]["alpha"] == 0.1


def test_a_csv_goes_to_arrays_once_and_only_its_options_meet_the_schema(client, monkeypatch):
    """The CSV's cells are parsed by pandas straight to NumPy and checked there; the JSON
    Schema sees the options alone (no X or y as Python lists), and the stored data is the
    CSV's, bit for bit."""
    from urllib3 import encode_multipart_formdata

    from service import validation

    seen, real = [], validation.check
    monkeypatch.setattr(validation, "check", lambda schema, body: seen.append(body) or
                        real(schema, body))
    text = "a,b,t\n1,2,3.25\n2,1,2.5\n3,4,7.125\n4,3,6.75\n5,5,9.875\n"
    body, ctype = encode_multipart_formdata({"file": ("d.csv", text.encode(), "text/csv"),
                                             "target": "t", "method": "map", "alpha": "0.5"})
    resp = client.post("/v1/fits", data=body, content_type=ctype)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    assert seen == [{"method": "map", "alpha": 0.5, "feature_names": ["a", "b"]}]
    data = client.get(f"/v1/fits/{resp.get_json()['id']}/data").get_json()
    assert data == {"X": [[1, 2], [2, 1], [3, 4], [4, 3], [5, 5]],
                    "y": [3.25, 2.5, 7.125, 6.75, 9.875], "feature_names": ["a", "b"]}


def test_the_plot_is_drawn_from_the_stored_result_not_the_model_file(client, app, monkeypatch):
    """The result is stored once (SQLite): the plot reads its summary rows there, and is the
    plot of the in-process estimator's summary, byte for byte."""
    from service import jobs
    from service.plot import forest_png

    body = {"dataset": "diabetes", "prior": "ridge", "alpha": 0.1, "method": "exact",
            "draws": 100, "chains": 2, "seed": 3, "hdi_prob": 0.9}
    fit = client.post("/v1/fits", json=body).get_json()
    est = jobs.load_estimator(app.extensions["bayesreg.store"], fit["id"])

    def no_model(*args, **kwargs):
        raise AssertionError("the plot read the model file")

    monkeypatch.setattr(jobs, "load_estimator", no_model)
    png = client.get(f"/v1/fits/{fit['id']}/plot.png").get_data()
    assert png == forest_png(est.summary(), est.feature_names_, 0.9,
                             app.config["PLOT_MAX_COEFS"])
