"""Client mistakes: each is a 4xx problem document naming the field, never a 500."""

import json
import uuid

import pytest
from urllib3 import encode_multipart_formdata

OK = {"X": [[1.0, 2.0], [3.0, 5.0], [4.0, 1.0]], "y": [1.0, 2.0, 3.0], "method": "map"}


def fit(**changes):
    body = dict(OK, **changes)
    return ("POST", "/v1/fits", json.dumps({k: v for k, v in body.items() if v is not ...}).encode(),
            "application/json")


def raw(text, ctype="application/json"):
    return ("POST", "/v1/fits", text.encode() if isinstance(text, str) else text, ctype)


def form(**fields):
    fields.setdefault("file", ("d.csv", b"a,b,t\n1,2,3\n4,5,6\n7,8,10\n", "text/csv"))
    body, ctype = encode_multipart_formdata(fields)
    return ("POST", "/v1/fits", body, ctype)


DROPOUT_OK = {"X": [[1.0, 2.0], [3.0, 5.0], [4.0, 1.0]], "y": [1.0, 2.0, 3.0], "hidden": [4],
              "epochs": 2, "mc_samples": 5}


def dropout(**changes):
    body = dict(DROPOUT_OK, **changes)
    return ("POST", "/v1/dropout/fits",
            json.dumps({k: v for k, v in body.items() if v is not ...}).encode(), "application/json")


def dropout_raw(text, path="/v1/dropout/fits", ctype="application/json"):
    return ("POST", path, text.encode(), ctype)


BIG_X = [[1.0] * 300 for _ in range(400)]  # 120 000 cells > MAX_CELLS = 100 000

CASES = {
    "truncated json": (raw('{"X": [[1, 2]'), 400, "body"),
    "not json": (raw("{"), 400, "body"),
    "deep arrays": (raw("[" * 5000 + "]" * 5000), 400, "body"),
    "deep objects": (raw('{"a":' * 3000 + "1" + "}" * 3000), 400, "body"),
    "NaN literal": (raw('{"X": [[NaN, 1], [2, 3]], "y": [1, 2], "method": "map"}'), 422, "X[0][0]"),
    "Infinity in y": (raw('{"X": [[0, 1], [2, 3]], "y": [1, Infinity], "method": "map"}'), 422, "y[1]"),
    "-Infinity alpha": (raw('{"dataset": "diabetes", "alpha": -Infinity}'), 422, "alpha"),
    "overflowing 1e400": (raw('{"X": [[1e400, 1], [2, 3]], "y": [1, 2]}'), 422, "X[0][0]"),
    "text/plain": (raw("{}", "text/plain"), 415, "Content-Type"),
    "no content type": (raw(b"{}", None), 415, "Content-Type"),
    "ragged X": (fit(X=[[1.0, 2.0], [3.0], [4.0, 1.0]]), 422, "X[1]"),
    "length mismatch": (fit(y=[1.0, 2.0]), 422, "y"),
    "alpha < 0": (fit(alpha=-0.5), 422, "alpha"),
    "l1_ratio > 1": (fit(l1_ratio=1.5), 422, "l1_ratio"),
    "l1_ratio < 0": (fit(l1_ratio=-0.1), 422, "l1_ratio"),
    "unknown prior": (fit(prior="spike_and_slab"), 422, "prior"),
    "unknown method": (fit(method="vi"), 422, "method"),
    "draws < 1": (fit(draws=0), 422, "draws"),
    "chains < 1": (fit(chains=0), 422, "chains"),
    "tune < 1": (fit(tune=0), 422, "tune"),
    "hdi_prob = 1": (fit(hdi_prob=1.0), 422, "hdi_prob"),
    "hdi_prob = 0": (fit(hdi_prob=0), 422, "hdi_prob"),
    "sigma = 0": (fit(sigma=0), 422, "sigma"),
    "seed < 0": (fit(seed=-1), 422, "seed"),
    "feature_names too short": (fit(feature_names=["a"]), 422, "feature_names"),
    "feature_names repeated": (fit(feature_names=["a", "a"]), 422, "feature_names"),
    "string alpha": (fit(alpha="0.1"), 422, "alpha"),
    "string boolean": (fit(fit_intercept="true"), 422, "fit_intercept"),
    "boolean alpha": (fit(alpha=True), 422, "alpha"),
    "float draws": (fit(draws=10.5), 422, "draws"),
    "X a string": (fit(X="1,2;3,4"), 422, "X"),
    "string cell": (fit(X=[[1.0, "2"], [3.0, 5.0], [4.0, 1.0]]), 422, "X[0][1]"),
    "boolean cell": (fit(X=[[True, 2.0], [3.0, 5.0], [4.0, 1.0]]), 422, "X[0][0]"),
    "empty X": (fit(X=[]), 422, "X"),
    "missing y": (fit(y=...), 422, "y"),
    "unknown field": (fit(lambda_=1.0), 422, "lambda_"),
    "dataset and X": (fit(dataset="diabetes"), 422, "dataset"),
    "unknown dataset": (raw('{"dataset": "iris"}'), 422, "dataset"),
    "body is a list": (raw("[1, 2]"), 422, "body"),
    "draws x chains over cap": (fit(method="nuts", draws=20000, chains=4), 422, "draws"),
    "n x p over cap": (fit(X=BIG_X, y=[1.0] * 400), 413, "X"),
    "body over cap": (raw(b'{"X": [' + b"1.0," * 700_000 + b"1.0]}"), 413, "body"),
    "exact needs ridge": (fit(method="exact", prior="lasso"), 422, "method"),
    "learn_alpha needs nuts": (fit(learn_alpha=True), 422, "method"),
    "learn_alpha with alpha 0": (fit(learn_alpha=True, alpha=0, method="nuts"), 422, "alpha"),
    "form: target missing": (form(), 422, "target"),
    "form: target not a column": (form(target="z"), 422, "target"),
    "form: text draws": (form(target="t", draws="ten", method="nuts"), 422, "draws"),
    "form: yes for a boolean": (form(target="t", fit_intercept="yes"), 422, "fit_intercept"),
    "form: nan alpha": (form(target="t", alpha="nan"), 422, "alpha"),
    "form: unknown field": (form(target="t", penalty="1"), 422, "penalty"),
    "form: text column": (form(target="t", file=("d.csv", b"a,t\nx,1\ny,2\n", "text/csv")), 422, "file.a"),
    "form: unreadable field name": (raw(
        b'--B\r\nContent-Disposition: form-data; name="a\\"\r\n\r\n1\r\n'
        b'--B\r\nContent-Disposition: form-data; name="target"\r\n\r\nt\r\n'
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="d.csv"\r\n\r\n'
        b'a,t\n1,2\n2,3\n\r\n--B--\r\n', "multipart/form-data; boundary=B"), 422, "form"),
    "form: file missing": (("POST", "/v1/fits", *encode_multipart_formdata({"target": "t"})), 422, "file"),
    "bad id": (("GET", "/v1/fits/..%2F..%2Fetc", None, None), 404, "path"),
    "not a uuid4": (("GET", "/v1/fits/not-a-uuid", None, None), 404, "id"),
    "unknown id": (("GET", f"/v1/fits/{uuid.uuid4()}", None, None), 404, "id"),
    "delete unknown": (("DELETE", f"/v1/fits/{uuid.uuid4()}", None, None), 404, "id"),
    "predict unknown": (("POST", f"/v1/fits/{uuid.uuid4()}/predict", b'{"X": [[1]]}',
                         "application/json"), 404, "id"),
    "predict without X": (("POST", f"/v1/fits/{uuid.uuid4()}/predict", b"{}", "application/json"),
                          422, "X"),
    "PUT fits": (("PUT", "/v1/fits", b"{}", "application/json"), 405, "method"),
    "POST a fit": (("POST", f"/v1/fits/{uuid.uuid4()}", b"{}", "application/json"), 405, "method"),
    "limit = 0": (("GET", "/v1/fits?limit=0", None, None), 422, "limit"),
    "limit not a number": (("GET", "/v1/fits?limit=ten", None, None), 422, "limit"),
    "unknown status filter": (("GET", "/v1/fits?status=done", None, None), 422, "status"),
    # MC dropout: /v1/dropout/fits
    "dropout: hidden an integer": (dropout(hidden=50), 422, "hidden"),
    "dropout: hidden width 0": (dropout(hidden=[4, 0]), 422, "hidden[1]"),
    "dropout: hidden width over cap": (dropout(hidden=[5000]), 422, "hidden[0]"),
    "dropout: too many layers": (dropout(hidden=[2] * 9), 422, "hidden"),
    "dropout: float width": (dropout(hidden=[4.5]), 422, "hidden[0]"),
    "dropout: dropout = 1": (dropout(dropout=1.0), 422, "dropout"),
    "dropout: dropout < 0": (dropout(dropout=-0.1), 422, "dropout"),
    "dropout: tau = 0": (dropout(tau=0), 422, "tau"),
    "dropout: tau a string": (dropout(tau="1"), 422, "tau"),
    "dropout: tau -Infinity": (dropout_raw('{"dataset": "diabetes", "tau": -Infinity}'), 422, "tau"),
    "dropout: tau 1e400": (dropout_raw('{"dataset": "diabetes", "tau": 1e400}'), 422, "tau"),
    "dropout: length_scale < 0": (dropout(length_scale=-1.0), 422, "length_scale"),
    "dropout: epochs 0": (dropout(epochs=0), 422, "epochs"),
    "dropout: epochs a float": (dropout(epochs=2.5), 422, "epochs"),
    "dropout: epochs x rows over cap": (dropout_raw('{"dataset": "diabetes", "epochs": 100000}'),
                                        422, "epochs"),
    "dropout: batch_size 0": (dropout(batch_size=0), 422, "batch_size"),
    "dropout: learning_rate 0": (dropout(learning_rate=0), 422, "learning_rate"),
    "dropout: mc_samples over cap": (dropout(mc_samples=10**6), 422, "mc_samples"),
    "dropout: standardize yes": (dropout(standardize="yes"), 422, "standardize"),
    "dropout: negative seed": (dropout(seed=-1), 422, "seed"),
    "dropout: regression option": (dropout(prior="lasso"), 422, "prior"),
    "dropout: NaN in X": (dropout_raw('{"X": [[NaN, 1], [2, 3]], "y": [1, 2]}'), 422, "X[0][0]"),
    "dropout: ragged X": (dropout(X=[[1.0, 2.0], [3.0], [4.0, 1.0]]), 422, "X[1]"),
    "dropout: length mismatch": (dropout(y=[1.0]), 422, "y"),
    "dropout: dataset and X": (dropout(dataset="diabetes"), 422, "dataset"),
    "dropout: missing X": (dropout(X=...), 422, "X"),
    "dropout: text/plain": (dropout_raw("{}", ctype="text/plain"), 415, "Content-Type"),
    "dropout: truncated json": (dropout_raw('{"hidden": [4'), 400, "body"),
    "dropout: n x p over cap": (dropout(X=BIG_X, y=[1.0] * 400), 413, "X"),
    "dropout: predict prob = 1": (dropout_raw('{"X": [[1]], "prob": 1}',
                                              f"/v1/dropout/fits/{uuid.uuid4()}/predict"), 422, "prob"),
    "dropout: predict hdi_prob = 1": (dropout_raw('{"X": [[1]], "hdi_prob": 1}',
                                                  f"/v1/dropout/fits/{uuid.uuid4()}/predict"),
                                      422, "hdi_prob"),
    "dropout: predict without X": (dropout_raw("{}", f"/v1/dropout/fits/{uuid.uuid4()}/predict"),
                                   422, "X"),
    "dropout: predict unknown": (dropout_raw('{"X": [[1]]}', f"/v1/dropout/fits/{uuid.uuid4()}/predict"),
                                 404, "id"),
    "dropout: unknown id": (("GET", f"/v1/dropout/fits/{uuid.uuid4()}", None, None), 404, "id"),
    "dropout: not a uuid4": (("DELETE", "/v1/dropout/fits/abc", None, None), 404, "id"),
    "dropout: limit too big": (("GET", "/v1/dropout/fits?limit=100000", None, None), 422, "limit"),
    "dropout: PUT": (("PUT", "/v1/dropout/fits", b"{}", "application/json"), 405, "method"),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_malformed_request_is_a_problem_document(http, case):
    (method, path, data, ctype), status, field = CASES[case]
    resp = http(method, path, data=data, content_type=ctype)
    assert resp.status == status, resp.content[:500]
    assert resp.headers["Content-Type"] == "application/problem+json"
    doc = resp.json
    assert doc["status"] == status and doc["title"] and doc["type"]
    assert field in [e["field"] for e in doc["errors"]], doc
    assert "Traceback" not in doc["detail"]


def test_messages_name_range_and_value(http):
    doc = http("POST", "/v1/fits", json=dict(OK, l1_ratio=1.5)).json
    assert doc["errors"] == [{"field": "l1_ratio",
                              "message": "must be <= 1 (allowed range [0, 1]); got 1.5"}]


def test_health_after_battery(http):
    for (method, path, data, ctype), _, _ in CASES.values():
        http(method, path, data=data, content_type=ctype)
    resp = http("GET", "/health")
    assert resp.status == 200 and resp.json["status"] == "ok"
    assert http("POST", "/v1/fits", json=OK).status == 201
