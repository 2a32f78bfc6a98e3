"""bayesreg.client against a real server: the numbers of the in-process estimators.

The server runs ``BayesianRegression`` and sends its results as JSON (float64 round-trips
exactly), and a seeded nutpie run is deterministic, so a fit over HTTP and one in process
on the same data, settings and seed agree to rounding: MAP, summary, predictive intervals
and draws alike. The tolerances below (1e-12 relative) allow only for BLAS summing in
another order in another process.
"""

import os
import socket
import uuid

import numpy as np
import pandas as pd
import pytest
import requests
from conftest import wait_until

from bayesreg import BayesianRegression, InputError, MCDropoutRegressor
from bayesreg.client import APIError, Client, DropoutFit, Fit, FitError, WaitTimeout

# Slow (deselected by `make test-fast`): these tests talk to the real server.
pytestmark = pytest.mark.slow

NUTS = {"method": "nuts", "draws": 200, "tune": 200, "chains": 2}
TIGHT = {"rtol": 1e-12, "atol": 1e-12}


@pytest.fixture(scope="module")
def api(server):
    with Client(server.base, timeout=120) as client:
        yield client


def _synthetic(n=40, p=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    y = X @ np.array([1.5, -2.0, 0.0][:p]) + 0.5 + 0.3 * rng.normal(size=n)
    return X, y


def _same_frame(got, want):
    pd.testing.assert_frame_equal(got, want, check_exact=False, **TIGHT)


def _same_interval(got, want):
    assert type(got) is type(want) and got._fields == want._fields
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, **TIGHT)


# ---------------------------------------------------------------------- map and exact
def test_map_fit_is_the_estimator(api, diabetes):
    X, y = diabetes
    options = {"prior": "elastic_net", "alpha": 0.05, "l1_ratio": 0.3}
    fit = api.fit(X, y, method="map", **options)
    est = BayesianRegression(**options, method="map").fit(X, y)

    assert isinstance(fit, Fit) and fit.status == "succeeded"
    assert list(fit.feature_names_in_) == list(X.columns) and fit.n_features_in_ == 10
    np.testing.assert_allclose(fit.coef_, est.coef_, **TIGHT)
    assert fit.intercept_ == pytest.approx(est.intercept_, rel=1e-12)
    np.testing.assert_allclose(fit.predict(X.iloc[:25]), est.predict(X.iloc[:25]), **TIGHT)
    assert fit.settings["method"] == "map" and fit.settings["l1_ratio"] == 0.3
    assert fit.to_dict()["map"]["coef"] == fit.coef_.tolist()

    # every row (sigma's mode included) and every dtype is the estimator's
    got, want = fit.summary(), est.summary()
    _same_frame(got, want)
    assert got.dtypes.equals(want.dtypes)

    with pytest.raises(InputError, match="no posterior") as err:
        fit.predict_interval(X.iloc[:2])
    assert err.value.field == "method"
    with pytest.raises(APIError) as err:
        fit.posterior()
    assert err.value.status == 409 and err.value.errors[0]["field"] == "method"


def test_map_fit_with_known_sigma_has_the_full_summary(api):
    X, y = _synthetic()
    fit = api.fit(X.tolist(), list(y), prior="ridge", alpha=0.2, sigma=0.3, method="map")
    est = BayesianRegression(prior="ridge", alpha=0.2, sigma=0.3, method="map").fit(X, y)
    _same_frame(fit.summary(), est.summary())
    assert list(fit.feature_names_in_) == ["x0", "x1", "x2"]


def test_exact_fit_summary_and_intervals_are_the_estimator(api):
    X, y = _synthetic(seed=1)
    options = {"prior": "ridge", "alpha": 0.5, "draws": 300, "chains": 2, "hdi_prob": 0.9}
    fit = api.fit(X, y, method="exact", seed=5, **options)
    est = BayesianRegression(seed=5, method="exact", **options).fit(X, y)

    _same_frame(fit.summary(), est.summary())
    # another hdi_prob: the model file is downloaded once and summarized in closed form
    _same_frame(fit.summary(hdi_prob=0.5), est.summary(hdi_prob=0.5))
    assert fit.estimator() is fit.estimator()
    Xt = X[:6] + 0.1
    _same_interval(fit.predict_interval(Xt), est.predict_interval(Xt))
    _same_interval(fit.predict_interval(Xt, hdi_prob=0.7), est.predict_interval(Xt, hdi_prob=0.7))
    # default names x0.. : a DataFrame with other column names predicts by position
    frame = pd.DataFrame(Xt, columns=["a", "b", "c"])
    np.testing.assert_allclose(fit.predict(frame), est.predict(Xt), **TIGHT)


# ---------------------------------------------------------------------- nuts
@pytest.fixture(scope="module")
def nuts_pair(api, diabetes):
    """A queued NUTS fit followed through its handle, and the same fit in process."""
    X, y = diabetes
    options = {"prior": "lasso", "alpha": 0.05, "hdi_prob": 0.9, **NUTS}
    fit = api.fit(dataset="diabetes", seed=11, wait=False, **options)
    assert fit.to_dict()["status"] in ("queued", "running", "succeeded")
    seen = []
    assert fit.wait(timeout=240, progress=lambda done, total, phase: seen.append(
        (done, total, phase))) is fit
    est = BayesianRegression(seed=11, **{k: v for k, v in options.items()
                                                if k != "method"}).fit(X, y)
    return fit, est, seen


def test_nuts_handle_waits_and_reports_progress(nuts_pair):
    fit, est, seen = nuts_pair
    assert fit.status == "succeeded" and fit.error is None
    assert seen[-1] == (800, 800, "done")
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)
    assert fit.settings["seed"] == 11
    # the same data, settings and seed in process: the same chains, so the same divergences
    assert fit.diagnostics_["divergences"] == est.diagnostics_["divergences"]


def test_nuts_summary_is_the_estimators(nuts_pair):
    fit, est, _ = nuts_pair
    _same_frame(fit.summary(), est.summary())
    assert fit.summary().dtypes.equals(est.summary().dtypes)
    np.testing.assert_allclose(fit.coef_, est.coef_, **TIGHT)
    # the same fit read again by id, and found in the listing
    again = fit.client.get(fit.id)
    _same_frame(again.summary(), est.summary())
    assert fit.id in {f.id for f in fit.client.fits(status="succeeded", page=2)}


def test_nuts_intervals_are_the_estimators(nuts_pair, diabetes):
    fit, est, _ = nuts_pair
    Xt = diabetes[0].iloc[:7]
    _same_interval(fit.predict_interval(Xt), est.predict_interval(Xt))
    _same_interval(fit.predict_interval(Xt, hdi_prob=0.5), est.predict_interval(Xt, hdi_prob=0.5))
    np.testing.assert_allclose(fit.predict(Xt), est.predict(Xt), **TIGHT)


def test_posterior_is_the_draws_and_leaves_no_file_open(nuts_pair):
    fit, est, _ = nuts_pair
    idata = fit.posterior()
    post = idata.posterior
    assert dict(post["coef"].sizes) == {"chain": 2, "draw": 200, "feature": 10}
    assert list(post["feature"].values) == list(fit.feature_names_in_)
    assert {"coef", "intercept", "sigma"} <= set(post.data_vars)
    assert "sample_stats" in idata.groups()
    np.testing.assert_allclose(post["coef"].values, est.posterior_.posterior["coef"].values,
                               **TIGHT)
    _same_frame(fit.summary(hdi_prob=0.5), est.summary(hdi_prob=0.5))
    fds = f"/proc/{os.getpid()}/fd"
    if os.path.isdir(fds):
        open_files = []
        for fd in os.listdir(fds):
            try:
                open_files.append(os.readlink(os.path.join(fds, fd)))
            except OSError:  # the listing's own descriptor, closed by now
                pass
        assert not [f for f in open_files if "bayesreg-" in f and f.endswith(".nc")]


# ---------------------------------------------------------------------- errors
def test_a_refused_option_raises_the_problem_document(api):
    with pytest.raises(APIError) as err:
        api.fit(dataset="diabetes", alpha=-1, method="map")
    exc = err.value
    assert exc.status == 422 and exc.title == "Unprocessable Entity"
    assert exc.problem["errors"][0]["field"] == "alpha" and exc.errors == exc.problem["errors"]
    assert exc.problem["type"].endswith("/422") and "alpha" in exc.detail and "alpha" in str(exc)
    with pytest.raises(APIError) as err:
        api.fit(dataset="diabetes", method="map", no_such_option=1)
    assert err.value.status == 422


@pytest.mark.parametrize("fit_id", [str(uuid.uuid4()), "not-an-id"])
def test_an_unknown_id_is_a_404(api, fit_id):
    with pytest.raises(APIError) as err:
        api.get(fit_id)
    assert err.value.status == 404 and err.value.errors[0]["field"] in ("id", "path")


def test_bad_data_is_refused_before_sending(api):
    X, y = _synthetic()
    fit = api.fit(X, y, prior="ridge", alpha=0.1, method="exact", draws=100, chains=2)
    for call in (fit.predict, fit.predict_interval):
        with pytest.raises(InputError, match="X has 2 features.*expecting 3") as err:
            call(X[:, :2])
        assert err.value.field == "X"
    with pytest.raises(APIError) as err:  # checked by the server
        fit.predict_interval(X[:2], hdi_prob=1.5)
    assert err.value.status == 422 and err.value.errors[0]["field"] == "hdi_prob"
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(InputError, match=r"X\[3\]\[1\]: must be a finite number; got NaN"):
        api.fit(bad, y, method="map")
    with pytest.raises(InputError, match="go together"):
        api.fit(X, method="map")


def test_named_features_must_come_in_order(api, diabetes):
    X, y = diabetes
    fit = api.fit(X, y, prior="ridge", alpha=0.1, method="map")
    with pytest.raises(InputError, match="not the features of the fit"):
        fit.predict(X[list(reversed(X.columns))])


def test_an_unreachable_server_raises_requests_errors():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: the connection is refused
        with pytest.raises(requests.ConnectionError):
            Client(f"http://127.0.0.1:{port}", timeout=5).health()


def test_a_failed_fit_raises_fit_error(api):
    # alpha = 0 on collinear columns: an improper posterior, found by the sampling worker
    rng = np.random.default_rng(3)
    x = rng.normal(size=30)
    X = np.column_stack([x, 2 * x])
    y = x + 0.1 * rng.normal(size=30)
    with pytest.raises(FitError) as err:
        api.fit(X, y, prior="ridge", alpha=0.0, seed=1, **NUTS)
    exc = err.value
    assert exc.status == "failed" and exc.error["field"] == "alpha"
    assert "improper" in str(exc) and isinstance(exc.fit, Fit)
    with pytest.raises(FitError, match="failed"):
        exc.fit.coef_


def test_timeout_cancel_and_delete(api):
    # long enough (tens of seconds) to be caught running; cancelled within a second or two
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 60))
    y = X[:, 0] + rng.normal(size=300)
    with pytest.raises(WaitTimeout) as err:
        api.fit(X, y, method="nuts", draws=20_000, tune=20_000, chains=2, seed=2, timeout=0.2)
    fit = err.value.fit
    wait_until(lambda: fit.status == "running", 120, interval=0.05, what="the fit to run")
    with pytest.raises(FitError, match="running.*not there yet"):
        fit.summary()
    fit.cancel()
    with pytest.raises(FitError) as err:
        fit.wait(timeout=60)
    assert err.value.status == "cancelled"
    fit.delete()
    with pytest.raises(APIError) as err:
        fit.refresh()
    assert err.value.status == 404


# ---------------------------------------------------------------------- MC dropout
def test_dropout_fit_is_the_estimator(api):
    X, y = _synthetic(n=48, seed=4)
    options = {"hidden": [6], "dropout": 0.1, "tau": 4.0, "length_scale": 0.05, "epochs": 15,
               "batch_size": 16, "learning_rate": 0.01, "mc_samples": 40}
    seen = []
    fit = api.fit_dropout(X, y, seed=11, progress=lambda done, total: seen.append((done, total)),
                          **options)
    est = MCDropoutRegressor(seed=11, **{**options, "hidden": (6,)}).fit(X, y)
    assert isinstance(fit, DropoutFit) and fit.progress == {"epochs_done": 15, "epochs_total": 15}
    assert seen[-1] == (15, 15) and len(seen) == len(set(seen))  # each count reported once
    Xt = X[:5] + 0.25
    np.testing.assert_allclose(fit.predict(Xt), est.predict(Xt), **TIGHT)
    mean, sd = fit.predict(Xt, return_std=True)
    np.testing.assert_allclose(sd, est.predict(Xt, return_std=True)[1], **TIGHT)
    _same_interval(fit.predict_interval(Xt, hdi_prob=0.8),
                   est.predict_interval(Xt, hdi_prob=0.8))
    with pytest.warns(FutureWarning, match=r"predict_interval\(prob=\)"):
        old, want = fit.predict_interval(Xt, prob=0.8), est.predict_interval(Xt, prob=0.8)
    _same_interval(old, want)
    with pytest.warns(FutureWarning, match=r"predict_interval\(prob=\)"):
        old, want = fit.predict_interval(Xt, 0.8), est.predict_interval(Xt, 0.8)  # positional
    _same_interval(old, want)
    np.testing.assert_allclose(fit.predict_deterministic(Xt), est.predict_deterministic(Xt),
                               **TIGHT)
    assert fit.result["train_rmse"] > 0
    fit.delete()
    with pytest.raises(APIError):
        api.get_dropout(fit.id)


# ---------------------------------------------------------------------- regularization paths
def test_a_path_answers_like_the_cores_regularization_path(api):
    from bayesreg import regularization_path
    from bayesreg.client import Path

    X, y = _synthetic(n=50, p=3, seed=7)
    options = {"prior": "lasso", "n_alphas": 3, "alpha_min_ratio": 0.01, "draws": 150,
               "tune": 150, "chains": 2, "seed": 4}
    seen = []
    path = api.path(X, y, progress=lambda done, total: seen.append((done, total)), **options)
    assert isinstance(path, Path) and path.status == "succeeded"
    assert seen[-1] == (3, 3) and path.progress == {"fits_done": 3, "fits_total": 3}
    want = regularization_path(X, y, **options)
    assert path.best_alpha == want.best_alpha and path.alpha_1se == want.alpha_1se
    np.testing.assert_allclose(path.alphas, want.alphas, **TIGHT)
    np.testing.assert_allclose(path.coef_map, want.coef_map, **TIGHT)
    np.testing.assert_allclose(path.elpd_loo, want.elpd_loo, **TIGHT)
    np.testing.assert_allclose(path.elpd_loo_se, want.elpd_loo_se, **TIGHT)
    _same_frame(path.summary(), want.summary())
    assert path.to_dict()["settings"]["seed"] == 4 and set(path.to_dict()) == set(want.to_dict())
    assert len(path.plot().axes) == 3
    assert api.get_path(path.id).best_alpha == want.best_alpha
    assert path.id in {p.id for p in api.paths()}
    path.delete()
    with pytest.raises(APIError) as err:
        api.get_path(path.id)
    assert err.value.status == 404
