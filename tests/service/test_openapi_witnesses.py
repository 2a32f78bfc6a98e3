"""The OpenAPI document against the routes' behaviour: every response a route documents is
produced by a real request here (a witness), and the table of witnesses is exactly the
document's list, so a code documented but never given, or given but not documented, fails.

Schemathesis (test_openapi.py) checks the other direction for fuzzed requests: no route
answers a status its operation does not list.

Each witness runs against an app with no sampling pool, so a queued fit stays queued and a
fit claimed by this process stays running; fits that must have trained use the session app
and its pool. Storage faults are raised where the service meets the disk (the real full and
read-only disks are in test_storage.py)."""

import errno
import json
import os

import pytest

from service import create_app, jobs
from service.store import Store

from conftest import CAPS, wait_until

DIABETES_ROW = [[0.02, -0.04, 0.06, 0.02, -0.04, -0.03, -0.04, 0.0, 0.02, -0.02]]
NUTS = {"dataset": "diabetes", "method": "nuts", "draws": 100, "tune": 100, "chains": 2}
DROPOUT = {"dataset": "diabetes", "hidden": [8], "dropout": 0.05, "tau": 0.0005, "epochs": 2,
           "mc_samples": 10, "seed": 1}
PATH = {"dataset": "diabetes", "n_alphas": 2, "draws": 100, "tune": 100, "chains": 2}
MAP_PATH = {"dataset": "diabetes", "method": "map", "n_alphas": 2}  # trains in milliseconds
PREFIXES = {"fits": "/v1/fits", "dropout": "/v1/dropout/fits", "paths": "/v1/paths"}
BODIES = {"fits": NUTS, "dropout": DROPOUT, "paths": PATH}


class Ctx:
    """A pool-less app for states that must hold still, and the session app for trained fits."""

    def __init__(self, tmp_path, pooled, monkeypatch):
        self.app = create_app({"TESTING": True, "START_POOL": False, "DATA_DIR": str(tmp_path),
                               "WAIT_TIMEOUT": 0.05, **CAPS})
        self.client = self.app.test_client()
        self.pooled_app = pooled
        self.monkeypatch = monkeypatch

    @property
    def store(self):
        return self.app.extensions["bayesreg.store"]

    def post(self, path, body, client=None):
        return (client or self.client).post(path, json=body)

    def created(self, path, body, client=None):
        reply = self.post(path, body, client)
        assert reply.status_code in (201, 202), reply.get_json()
        return reply.get_json()["id"]

    def map_fit(self):
        return self.created("/v1/fits", {"dataset": "diabetes", "method": "map"})

    def exact_fit(self):
        return self.created("/v1/fits", {"dataset": "diabetes", "prior": "ridge",
                                         "method": "exact", "draws": 100, "chains": 2})

    def queued(self, kind):
        return self.created(PREFIXES[kind], BODIES[kind])

    def running(self, kind):
        fit_id = self.queued(kind)
        assert self.store.claim(os.getpid()) == fit_id   # this process "samples" it
        return fit_id

    def trained_dropout(self):
        client = self.pooled_app.test_client()
        fit_id = self.created("/v1/dropout/fits", {**DROPOUT, "wait": True}, client)
        wait_until(lambda: client.get(f"/v1/dropout/fits/{fit_id}").get_json()["status"]
                   in ("succeeded", "failed"), 240, what="the dropout fit")
        assert client.get(f"/v1/dropout/fits/{fit_id}").get_json()["status"] == "succeeded"
        return client, fit_id

    def map_path(self):
        """A succeeded path (the MAP path: no sampling) of the session app's pool."""
        client = self.pooled_app.test_client()
        path_id = self.created("/v1/paths", {**MAP_PATH, "wait": True}, client)
        wait_until(lambda: client.get(f"/v1/paths/{path_id}").get_json()["status"]
                   in ("succeeded", "failed"), 240, what="the path")
        assert client.get(f"/v1/paths/{path_id}").get_json()["status"] == "succeeded"
        return client, path_id

    def damage(self, store, fit_id, name):
        with open(store.path(fit_id, name), "ab") as fh:
            fh.write(b"damage")

    def full_disk(self):
        def refuse(*args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")
        self.monkeypatch.setattr(jobs, "save_data", refuse)

    def read_only_delete(self):
        def refuse(*args, **kwargs):
            raise OSError(errno.EROFS, "Read-only file system")
        self.monkeypatch.setattr(Store, "delete", refuse)

    def racing_delete(self):
        # the fit ends between the cancel request and the second delete, then the delete
        # still finds it: what two racing processes can do, made to happen here
        self.monkeypatch.setattr(Store, "delete", lambda self, fit_id: False)
        self.monkeypatch.setattr(Store, "request_cancel", lambda self, fit_id: False)


def _cases(prefix, kind, ops):
    """The witnesses shared by /v1/fits, /v1/dropout/fits and /v1/paths."""
    create, listing, get, delete, data = ops
    base = prefix
    return {
        (listing, "200"): lambda c: c.client.get(f"{base}?limit=5"),
        (listing, "422"): lambda c: c.client.get(f"{base}?limit=0"),
        (create, "202"): lambda c: c.post(base, BODIES[kind]),
        (create, "400"): lambda c: c.client.post(base, data="{", content_type="application/json"),
        (create, "413"): lambda c: c.client.post(base, data=b"1" * (CAPS["MAX_CONTENT_LENGTH"] + 1),
                                                 content_type="application/json"),
        (create, "415"): lambda c: c.client.post(base, data="x", content_type="text/plain"),
        (create, "422"): lambda c: c.post(base, {"dataset": "diabetes", "seed": -1}),
        (create, "503"): lambda c: (c.monkeypatch.setitem(c.app.config, "MAX_QUEUE", 0),
                                    c.post(base, BODIES[kind]))[1],
        (create, "507"): lambda c: (c.full_disk(), c.post(base, BODIES[kind]))[1],
        (get, "200"): lambda c: c.client.get(f"{base}/{c.queued(kind)}"),
        (get, "404"): lambda c: c.client.get(f"{base}/no-such-fit"),
        (delete, "204"): lambda c: c.client.delete(f"{base}/{c.queued(kind)}"),
        (delete, "202"): lambda c: c.client.delete(f"{base}/{c.running(kind)}"),
        (delete, "404"): lambda c: c.client.delete(f"{base}/no-such-fit"),
        (delete, "409"): lambda c: (lambda fit_id: (c.racing_delete(),
                                                    c.client.delete(f"{base}/{fit_id}"))[1])(
                                        c.running(kind)),
        (delete, "503"): lambda c: (lambda fit_id: (c.read_only_delete(),
                                                    c.client.delete(f"{base}/{fit_id}"))[1])(
                                        c.queued(kind)),
        (data, "200"): lambda c: c.client.get(f"{base}/{c.queued(kind)}/data"),
        (data, "404"): lambda c: c.client.get(f"{base}/no-such-fit/data"),
    }


def _predict_cases(base, kind, predict):
    return {
        (predict, "400"): lambda c: c.client.post(f"{base}/{c.queued(kind)}/predict", data="{",
                                                  content_type="application/json"),
        (predict, "404"): lambda c: c.post(f"{base}/no-such-fit/predict", {"X": DIABETES_ROW}),
        (predict, "409"): lambda c: c.post(f"{base}/{c.queued(kind)}/predict", {"X": DIABETES_ROW}),
        (predict, "415"): lambda c: c.client.post(f"{base}/{c.queued(kind)}/predict", data="x",
                                                  content_type="text/plain"),
    }


def _fit_cases():
    ops = ("createFit", "listFits", "getFit", "deleteFit", "getFitData")
    cases = {**_cases("/v1/fits", "fits", ops), **_predict_cases("/v1/fits", "fits", "predict")}

    def damaged_data(c):
        fit_id = c.map_fit()
        c.damage(c.store, fit_id, jobs.DATA_FILE)
        return c.client.get(f"/v1/fits/{fit_id}/data")

    cases.update({
        ("createFit", "201"): lambda c: c.post("/v1/fits", {"dataset": "diabetes", "method": "map"}),
        ("getFitData", "409"): damaged_data,
        ("predict", "200"): lambda c: c.post(f"/v1/fits/{c.map_fit()}/predict", {"X": DIABETES_ROW}),
        ("predict", "413"): lambda c: c.post(f"/v1/fits/{c.map_fit()}/predict",
                                             {"X": DIABETES_ROW * (CAPS["MAX_CELLS"] // 10 + 1)}),
        ("predict", "422"): lambda c: c.post(f"/v1/fits/{c.map_fit()}/predict", {"X": [[1.0, 2.0]]}),
        ("getPosterior", "200"): lambda c: c.client.get(f"/v1/fits/{c.exact_fit()}/posterior.nc"),
        ("getPosterior", "404"): lambda c: c.client.get("/v1/fits/no-such-fit/posterior.nc"),
        ("getPosterior", "409"): lambda c: c.client.get(f"/v1/fits/{c.map_fit()}/posterior.nc"),
        ("getPlot", "200"): lambda c: c.client.get(f"/v1/fits/{c.exact_fit()}/plot.png"),
        ("getPlot", "404"): lambda c: c.client.get("/v1/fits/no-such-fit/plot.png"),
        ("getPlot", "409"): lambda c: c.client.get(f"/v1/fits/{c.queued('fits')}/plot.png"),
    })
    return cases


def _created_at_once(c, path, body):
    """A 201: a job that the session app's pool finishes within the bounded wait."""
    client = c.pooled_app.test_client()
    reply = client.post(path, json={**body, "wait": True})
    if reply.status_code == 202:  # the pool was slower than WAIT_TIMEOUT: wait and retry
        wait_until(lambda: client.get(reply.headers["Location"]).get_json()["status"]
                   != "queued", 240, what="the pool")
        return client.post(path, json={**body, "wait": True})
    return reply


def _dropout_cases():
    ops = ("createDropoutFit", "listDropoutFits", "getDropoutFit", "deleteDropoutFit",
           "getDropoutFitData")
    cases = {**_cases("/v1/dropout/fits", "dropout", ops),
             **_predict_cases("/v1/dropout/fits", "dropout", "predictDropout")}

    def damaged_data(c):
        client, fit_id = c.trained_dropout()
        c.damage(c.pooled_app.extensions["bayesreg.store"], fit_id, jobs.DATA_FILE)
        return client.get(f"/v1/dropout/fits/{fit_id}/data")

    def predicted(c, rows=1):
        client, fit_id = c.trained_dropout()
        return client.post(f"/v1/dropout/fits/{fit_id}/predict", json={"X": DIABETES_ROW * rows})

    def too_costly(c):
        c.monkeypatch.setitem(c.pooled_app.config, "MAX_PREDICT_PASSES", 10)
        return predicted(c, rows=2)   # 2 rows x 10 passes

    cases.update({
        ("createDropoutFit", "201"): lambda c: _created_at_once(c, "/v1/dropout/fits", DROPOUT),
        ("getDropoutFitData", "409"): damaged_data,
        ("predictDropout", "200"): predicted,
        ("predictDropout", "413"): too_costly,
        ("predictDropout", "422"): lambda c: c.post(f"/v1/dropout/fits/{c.trained_dropout()[1]}"
                                                    "/predict", {"X": [[1.0]]},
                                                    c.pooled_app.test_client()),
    })
    return cases


def _path_cases():
    ops = ("createPath", "listPaths", "getPath", "deletePath", "getPathData")
    cases = _cases("/v1/paths", "paths", ops)

    def damaged_data(c):
        client, path_id = c.map_path()
        c.damage(c.pooled_app.extensions["bayesreg.store"], path_id, jobs.DATA_FILE)
        return client.get(f"/v1/paths/{path_id}/data")

    def plot(c):
        client, path_id = c.map_path()
        return client.get(f"/v1/paths/{path_id}/plot.png")

    cases.update({
        ("createPath", "201"): lambda c: _created_at_once(c, "/v1/paths", MAP_PATH),
        ("getPathData", "409"): damaged_data,
        ("getPathPlot", "200"): plot,
        ("getPathPlot", "404"): lambda c: c.client.get("/v1/paths/no-such-path/plot.png"),
        ("getPathPlot", "409"): lambda c: c.client.get(f"/v1/paths/{c.queued('paths')}/plot.png"),
    })
    return cases


WITNESSES = {
    ("root", "302"): lambda c: c.client.get("/"),
    ("health", "200"): lambda c: c.client.get("/health"),
    **_fit_cases(),
    **_dropout_cases(),
    **_path_cases(),
}


def test_every_documented_response_has_a_witness_and_no_more(client):
    doc = client.get("/openapi.json").get_json()
    documented = {(op["operationId"], code) for item in doc["paths"].values()
                  for method, op in item.items() if method != "parameters"
                  for code in op["responses"]}
    assert documented - set(WITNESSES) == set(), "documented, never shown to happen"
    assert set(WITNESSES) - documented == set(), "happens, not documented"


@pytest.mark.parametrize("operation, status", sorted(WITNESSES))
def test_the_documented_response_happens(operation, status, tmp_path, app, monkeypatch):
    reply = WITNESSES[operation, status](Ctx(tmp_path, app, monkeypatch))
    assert reply.status_code == int(status), reply.get_data(as_text=True)[:500]
    if reply.status_code >= 400:
        assert reply.mimetype == "application/problem+json"
        problem = json.loads(reply.get_data())
        assert problem["status"] == reply.status_code and problem["detail"]
