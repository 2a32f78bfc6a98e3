"""The horseshoe priors over HTTP: the core's refusals at the door, a fit without a MAP."""

import numpy as np
import pytest

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("extra,field", [
    ({"method": "map"}, "method"), ({"method": "exact"}, "method"),
    ({"learn_alpha": True}, "learn_alpha"),
    ({"global_scale": 0.1, "expected_nonzero": 2}, "global_scale"),
    ({"global_scale": 0}, "global_scale"), ({"slab_df": -1.0}, "slab_df"),
])
def test_refusals_are_422_naming_the_field(client, extra, field):
    body = {"dataset": "diabetes", "prior": "horseshoe", "wait": True, **extra}
    resp = client.post("/v1/fits", json=body)
    assert resp.status_code == 422, resp.get_json()
    assert field in [e["field"] for e in resp.get_json()["errors"]]


def test_expected_nonzero_must_leave_a_zero_coefficient(client):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    resp = client.post("/v1/fits", json={"X": X.tolist(), "y": y.tolist(), "prior": "horseshoe",
                                         "expected_nonzero": 3})
    assert resp.status_code == 422
    assert resp.get_json()["errors"][0]["field"] == "expected_nonzero"


def test_a_regularized_horseshoe_fit_has_no_map_and_predicts_with_medians(client):
    body = {"dataset": "diabetes", "prior": "regularized_horseshoe", "expected_nonzero": 3,
            "draws": 200, "tune": 300, "chains": 2, "seed": 3, "wait": True}
    resp = client.post("/v1/fits", json=body)
    fit = resp.get_json()
    assert resp.status_code == 201 and fit["status"] == "succeeded", fit
    s = fit["settings"]
    assert (s["prior"], s["expected_nonzero"], s["global_scale"]) == (
        "regularized_horseshoe", 3, None)
    assert (s["slab_df"], s["slab_scale"]) == (4.0, 2.0)
    assert fit["map"]["coef"] == [None] * 10 and fit["map"]["intercept"] is None
    post = fit["posterior"]
    assert post["tau"]["map"] is None and post["c"]["median"] > 0
    medians = np.array([row["median"] for row in post["coef"]])
    x = [[0.02, -0.04, 0.06, 0.02, -0.04, -0.03, -0.04, 0.0, 0.02, -0.02]]
    pred = client.post(f"/v1/fits/{fit['id']}/predict", json={"X": x}).get_json()
    assert pred["map"] is None and "no finite mode" in pred["note"]
    assert pred["median"][0] == pytest.approx(float((np.array(x) @ medians)[0])
                                              + post["intercept"]["median"])
    assert pred["posterior"]["mean_low"][0] < pred["median"][0] < pred["posterior"]["mean_high"][0]
    png = client.get(f"/v1/fits/{fit['id']}/plot.png")
    assert png.status_code == 200 and png.data.startswith(PNG_MAGIC)


@pytest.mark.slow
def test_the_client_answers_like_the_estimator(server):
    from bayesreg import BayesianRegression
    from bayesreg.client import Client

    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 4))
    y = X @ np.array([2.0, 0.0, 0.0, -1.0]) + 0.5 + rng.normal(size=40)
    options = dict(prior="horseshoe", global_scale=0.5, draws=200, tune=200, chains=2, seed=9)
    with Client(server.base, timeout=120) as api:
        fit = api.fit(X, y, method="nuts", **options)
    est = BayesianRegression(**options).fit(X, y)
    np.testing.assert_allclose(fit.coef_, est.coef_, rtol=1e-12)
    assert fit.intercept_ == pytest.approx(est.intercept_, rel=1e-12)
    np.testing.assert_allclose(fit.predict(X[:5]), est.predict(X[:5]), rtol=1e-12)
    got, want = fit.summary(), est.summary()
    assert list(got.index) == list(want.index) and "tau" in got.index
    np.testing.assert_allclose(got["median"], want["median"], rtol=1e-12)
