"""service.errors: every error is an RFC 9457 problem document (the members the RFC defines,
the status the response has, the reason phrase of the standard library's HTTPStatus), whatever
raised it: a Problem, the core's InputError, werkzeug's HTTP errors, a storage fault or a bug."""

import errno
import sqlite3
from http import HTTPStatus

import pytest
from jsonschema import Draft202012Validator
from werkzeug.exceptions import BadRequest

from bayesreg.validation import InputError
from service import schemas
from service.errors import PROBLEM_MIME, Problem, invalid

_PROBLEM = Draft202012Validator(schemas.PROBLEM)


def test_an_input_error_of_the_core_is_a_422_naming_its_field(bare):
    @bare.get("/refused")
    def refused():
        raise InputError("seed", "must be an integer; got 'x'")

    resp = bare.test_client().get("/refused")
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    doc = resp.get_json()
    assert doc["errors"] == [{"field": "seed", "message": "must be an integer; got 'x'"}]
    assert doc["detail"] == "seed: must be an integer; got 'x'" and doc["status"] == 422


def _problem(resp, status):
    """The RFC 9457 document of ``resp``: its media type, members and status."""
    assert resp.status_code == status
    assert resp.mimetype == PROBLEM_MIME == "application/problem+json"
    doc = resp.get_json()
    _PROBLEM.validate(doc)
    assert doc["status"] == status and doc["title"] == HTTPStatus(status).phrase
    assert isinstance(doc["type"], str) and doc["type"].startswith("https://")
    assert doc["errors"] and all(set(e) == {"field", "message"} for e in doc["errors"])
    return doc


def test_invalid_names_one_field():
    p = invalid("alpha", "must be >= 0; got -1")
    assert (p.status, p.title, p.detail) == (422, "Unprocessable Entity",
                                             "alpha: must be >= 0; got -1")
    assert p.errors == [{"field": "alpha", "message": "must be >= 0; got -1"}]
    assert invalid("body", "too deep", status=400).title == "Bad Request"


def test_a_problem_is_answered_with_its_headers(bare):
    @bare.get("/busy")
    def busy():
        raise Problem(503, "busy", [{"field": "queue", "message": "full"}],
                      headers={"Retry-After": "7"})

    resp = bare.test_client().get("/busy")
    doc = _problem(resp, 503)
    assert resp.headers["Retry-After"] == "7" and doc["detail"] == "busy"


def test_http_errors_of_the_framework_are_problem_documents(bare):
    @bare.get("/bad")
    def bad():
        raise BadRequest("the framework refused it")

    client = bare.test_client()
    assert _problem(client.get("/bad"), 400)["detail"] == "the framework refused it"
    assert _problem(client.get("/no/such/path"), 404)["errors"][0]["field"] == "path"
    resp = client.put("/v1/fits")
    doc = _problem(resp, 405)
    allowed = set(resp.headers["Allow"].split(", "))
    assert allowed == {"GET", "HEAD", "OPTIONS", "POST"} and doc["errors"][0]["field"] == "method"
    bare.config["MAX_CONTENT_LENGTH"] = 10
    doc = _problem(client.post("/v1/fits", data=b"x" * 100, content_type="application/json"), 413)
    assert "BAYESREG_MAX_CONTENT_LENGTH" in doc["detail"] and "10 bytes" in doc["detail"]


@pytest.mark.parametrize("exc, status", [
    (OSError(errno.ENOSPC, "No space left on device"), 507),
    (OSError(errno.EROFS, "Read-only file system"), 503),
    (sqlite3.OperationalError("database or disk is full"), 507),
])
def test_storage_faults_are_507_or_503_with_retry_after(bare, exc, status):
    @bare.get("/store")
    def store():
        raise exc

    resp = bare.test_client().get("/store")
    doc = _problem(resp, status)
    assert resp.headers["Retry-After"] == str(bare.config["RETRY_AFTER"])
    assert doc["errors"][0]["field"] == "storage" and "nothing of this request" in doc["detail"]


def test_a_bug_is_a_500_without_its_traceback(bare, caplog):
    @bare.get("/bug")
    def bug():
        raise RuntimeError("the secret internals")

    doc = _problem(bare.test_client().get("/bug"), 500)
    assert "secret" not in doc["detail"] and "Traceback" not in doc["detail"]
    assert "the secret internals" in caplog.text                     # the log has it
