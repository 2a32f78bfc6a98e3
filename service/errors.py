"""RFC 9457 problem documents: the one shape every error response takes."""

from http import HTTPStatus

from flask import Flask, current_app, json
from werkzeug.exceptions import HTTPException

from bayesreg.validation import InputError

from .store import storage_error

__all__ = ["PROBLEM_MIME", "Problem", "invalid", "problem_response", "register"]

PROBLEM_MIME = "application/problem+json"


class Problem(Exception):
    """An error to answer with a problem document.

    ``errors`` is a list of ``{"field", "message"}`` naming what was wrong, so a
    client can point at the offending input without parsing prose.
    """

    def __init__(self, status, detail, errors=None, headers=None, title=None):
        super().__init__(detail)
        self.status = int(status)
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}
        self.title = title or HTTPStatus(self.status).phrase


def invalid(field, message, status=422):
    """A problem about one field."""
    return Problem(status, f"{field}: {message}", [{"field": field, "message": message}])


def problem_response(problem):
    """The problem document of ``problem``, with its headers."""
    body = {
        "type": f"https://bayesreg.invalid/problems/{problem.status}",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "errors": problem.errors,
    }
    response = current_app.response_class(
        json.dumps(body), status=problem.status, mimetype=PROBLEM_MIME
    )
    for key, value in problem.headers.items():
        response.headers[key] = value
    return response


def _from_input(exc):
    """The core's refusal of an argument: the API's names are the constructors' own."""
    return invalid(exc.field, exc.message)


def _from_http(exc):
    if exc.code == 413:
        cap = current_app.config["MAX_CONTENT_LENGTH"]
        detail = f"request body exceeds the cap of {cap} bytes (BAYESREG_MAX_CONTENT_LENGTH)"
        return Problem(413, detail, [{"field": "body", "message": detail}])
    if exc.code == 405:
        allowed = sorted(exc.valid_methods or [])
        detail = f"method not allowed here; allowed: {', '.join(allowed)}"
        headers = {"Allow": ", ".join(allowed)}
        return Problem(405, detail, [{"field": "method", "message": detail}], headers)
    if exc.code == 404:
        detail = "no such resource"
        return Problem(404, detail, [{"field": "path", "message": detail}])
    detail = exc.description or HTTPStatus(exc.code).phrase
    return Problem(exc.code, detail, [{"field": "request", "message": detail}])


def register(app: Flask):
    """Answer every error of ``app`` with a problem document."""
    app.register_error_handler(Problem, problem_response)
    # the core's own validation, wherever it runs in a request: one translation, here
    app.register_error_handler(InputError, lambda exc: problem_response(_from_input(exc)))
    app.register_error_handler(HTTPException, lambda exc: problem_response(_from_http(exc)))

    def internal(exc):
        fault = storage_error(exc)
        if fault is not None:
            # A full or read-only disk is the server's state, not a bug: say so, and that
            # DELETE frees space.
            app.logger.warning("storage: %s", fault.detail)
            status = 507 if fault.full else 503
            detail = (f"the server cannot store data now ({fault.detail}); nothing of this "
                      f"request was kept. DELETE unneeded fits to free space, or retry later")
            return problem_response(Problem(status, detail, [{"field": "storage", "message": detail}],
                                            headers={"Retry-After": str(app.config["RETRY_AFTER"])}))
        # The traceback goes to the log, never to the client.
        app.logger.exception("unhandled error", exc_info=exc)
        detail = "internal error; the server log has the details"
        return problem_response(Problem(500, detail, [{"field": "server", "message": detail}]))

    app.register_error_handler(Exception, internal)
