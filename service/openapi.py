"""The OpenAPI 3.1 document: a table of the routes (``ROUTES``) and the schemas that validate
requests (``COMPONENTS``), assembled per request with the app's caps."""

import html
import json
import re
from typing import NamedTuple

from . import schemas

__all__ = ["COMPONENTS", "ROUTES", "Route", "docs_html", "document"]

INFO = ("Bayesian regularized regression: the MAP of ridge, lasso and elastic net beside the "
        "full posterior. Errors are RFC 9457 problem documents. Besides the responses listed "
        "per route, any route may answer 405 (a method it does not have) and, from the "
        "buffering front before the route runs: 400 (malformed HTTP framing), 408 (a client "
        "too slow to send), 413 (a declared body above the cap), 431 (a request head above "
        "64 KiB), 501 (a transfer coding other than chunked) and 503 with Retry-After (too "
        "many connections or buffered bodies, or the HTTP workers restarting).")

#: Components: a schema, or a function of the app's configuration (its caps) giving one.
COMPONENTS = {
    "FitRequest": schemas.fit_request, "FitForm": schemas.fit_form,
    "PredictRequest": schemas.predict_request, "Fit": schemas.FIT, "FitList": schemas.FIT_LIST,
    "FitData": schemas.FIT_DATA, "PredictionShared": schemas.PREDICTION_SHARED,
    "Prediction": schemas.PREDICTION,
    "DropoutFitRequest": schemas.dropout_request,
    "DropoutPredictRequest": schemas.dropout_predict_request, "DropoutFit": schemas.DROPOUT_FIT,
    "DropoutFitList": schemas.DROPOUT_FIT_LIST, "DropoutPrediction": schemas.DROPOUT_PREDICTION,
    "PathRequest": schemas.path_request, "PathForm": schemas.path_form, "Path": schemas.PATH,
    "PathList": schemas.PATH_LIST,
    "Health": schemas.HEALTH, "Problem": schemas.PROBLEM,
}

#: What each error code means, unless a route says otherwise.
WHY = {400: "Malformed JSON or nesting too deep.", 404: "No such fit.",
       409: "The fit has not succeeded (queued, running, failed, cancelled; a fit whose files "
            "are damaged is failed), or it has no posterior (method map).",
       413: "Body or problem size above a cap.", 415: "Unsupported Content-Type.",
       422: "The request violates the schema or a semantic rule; errors[] names the fields.",
       503: "The fit queue is full, or the disk is read-only; see Retry-After.",
       507: "The disk is full: nothing of the request was stored. DELETE works and frees "
            "space."}
# The cases in which each DELETE and data read answers what the general text does not say.
DELETE_WHY = {409: "The fit changed state during the DELETE (it ended as the cancel was "
                   "recorded); retry.",
              503: "The disk is read-only: nothing was deleted."}
DATA_WHY = {409: "The data file is damaged (its checksum changed); the fit is failed."}
PATH_WHY = {404: "No such path.",
            409: "The path has not succeeded (queued, running, failed, cancelled; a path whose "
                 "files are damaged is failed)."}

_LOCATION = {"Location": {"schema": {"type": "string"}, "description": "URL of the fit."}}
_DROPOUT_LOCATION = {"Location": {"schema": {"type": "string"},
                                  "description": "URL of the MC-dropout fit."}}
_CREATED = (400, 413, 415, 422, 503, 507)
_PREDICTED = (400, 404, 409, 413, 415, 422)
_FIT_BODY = {"application/json": "FitRequest", "multipart/form-data": "FitForm"}
_PATH_BODY = {"application/json": "PathRequest", "multipart/form-data": "PathForm"}
_PATH_LOCATION = {"Location": {"schema": {"type": "string"}, "description": "URL of the path."}}


class Route(NamedTuple):
    """One operation: ``ok`` maps a success code to ``(body, description[, headers])``, where
    body is a component's name, a media type (binary content) or None; ``errors`` are the
    problem codes it answers, described by ``WHY`` unless ``why`` says otherwise; ``body`` is
    the request's component (or media type -> component); ``paged`` takes limit and offset."""

    path: str
    method: str
    operation: str
    summary: str
    ok: dict
    errors: tuple = ()
    why: dict = {}
    body: object = None
    paged: bool = False


ROUTES = [
    Route("/", "get", "root", "Redirects to /docs, this document as a page.",
          {302: (None, "To /docs.", {"Location": {"schema": {"type": "string"}}})}),
    Route("/health", "get", "health", "Liveness, queue depth and sampling workers.",
          {200: ("Health", "Service status.")}),
    Route("/v1/fits", "post", "createFit",
          "Fit a model (JSON body, or a CSV upload as multipart/form-data).",
          {201: ("Fit", "Finished fit (map, exact, or nuts with wait).", _LOCATION),
           202: ("Fit", "Queued (nuts, or map/exact over BAYESREG_MAX_SYNC_COST); poll Location.",
                 _LOCATION)}, _CREATED, body=_FIT_BODY),
    Route("/v1/fits", "get", "listFits", "List fits, newest first.",
          {200: ("FitList", "A page of fits.")}, (422,), paged=True),
    Route("/v1/fits/{fit_id}", "get", "getFit", "One fit, with progress while it samples.",
          {200: ("Fit", "The fit.")}, (404,)),
    Route("/v1/fits/{fit_id}", "delete", "deleteFit",
          "Delete a fit and its files; a running fit is cancelled.",
          {204: (None, "Deleted."),
           202: ("Fit", "The fit is running: it is asked to stop and ends as cancelled; DELETE "
                        "it again to remove it.")}, (404, 409, 503), DELETE_WHY),
    Route("/v1/fits/{fit_id}/data", "get", "getFitData", "The data the fit was made from.",
          {200: ("FitData", "X, y and feature names.")}, (404, 409), DATA_WHY),
    Route("/v1/fits/{fit_id}/predict", "post", "predict",
          "MAP prediction, posterior predictive mean and HDIs.",
          {200: ("Prediction", "Predictions.")}, _PREDICTED, body="PredictRequest"),
    Route("/v1/fits/{fit_id}/posterior.nc", "get", "getPosterior",
          "The posterior as ArviZ InferenceData netCDF.",
          {200: ("application/x-netcdf", "netCDF file.")}, (404, 409)),
    Route("/v1/fits/{fit_id}/plot.png", "get", "getPlot",
          "Forest plot: posterior HDI per coefficient, MAP marked.",
          {200: ("image/png", "PNG image.")}, (404, 409)),
    Route("/v1/dropout/fits", "post", "createDropoutFit",
          "Train an MC-dropout network in the worker pool (JSON body).",
          {201: ("DropoutFit", "Finished fit (with wait).", _DROPOUT_LOCATION),
           202: ("DropoutFit", "Training queued; poll Location.", _DROPOUT_LOCATION)},
          _CREATED, body="DropoutFitRequest"),
    Route("/v1/dropout/fits", "get", "listDropoutFits", "List MC-dropout fits, newest first.",
          {200: ("DropoutFitList", "A page of MC-dropout fits.")}, (422,), paged=True),
    Route("/v1/dropout/fits/{fit_id}", "get", "getDropoutFit",
          "One MC-dropout fit, with epochs done while it trains.",
          {200: ("DropoutFit", "The fit.")}, (404,)),
    Route("/v1/dropout/fits/{fit_id}", "delete", "deleteDropoutFit",
          "Delete an MC-dropout fit and its files; a running one is cancelled.",
          {204: (None, "Deleted."),
           202: ("DropoutFit", "Training is running: it is asked to stop and ends as cancelled; "
                               "DELETE it again to remove it.")}, (404, 409, 503), DELETE_WHY),
    Route("/v1/dropout/fits/{fit_id}/data", "get", "getDropoutFitData",
          "The data the network was trained on.",
          {200: ("FitData", "X, y and feature names.")}, (404, 409), DATA_WHY),
    Route("/v1/dropout/fits/{fit_id}/predict", "post", "predictDropout",
          "MC predictive mean, sd (incl. 1/tau), HDIs of the mean function and of a new "
          "observation, and the deterministic (weight-scaled) prediction; the shape of "
          "/v1/fits/{fit_id}/predict.",
          {200: ("DropoutPrediction", "Predictions.")}, _PREDICTED, body="DropoutPredictRequest"),
    Route("/v1/paths", "post", "createPath",
          "Run a regularization path in the worker pool: the MAP, the posterior and PSIS-LOO "
          "at each alpha (JSON body, or a CSV upload as multipart/form-data).",
          {201: ("Path", "Finished path (with wait).", _PATH_LOCATION),
           202: ("Path", "Queued; poll Location (progress: fits done of the alphas).",
                 _PATH_LOCATION)}, _CREATED, body=_PATH_BODY),
    Route("/v1/paths", "get", "listPaths", "List regularization paths, newest first.",
          {200: ("PathList", "A page of paths.")}, (422,), paged=True),
    Route("/v1/paths/{path_id}", "get", "getPath",
          "One path: status, progress in fits done, and once done its summary, elpd_loo, "
          "best_alpha and alpha_1se.", {200: ("Path", "The path.")}, (404,), PATH_WHY),
    Route("/v1/paths/{path_id}", "delete", "deletePath",
          "Delete a path and its files; a running path is cancelled.",
          {204: (None, "Deleted."),
           202: ("Path", "The path is running: it is asked to stop and ends as cancelled; "
                         "DELETE it again to remove it.")}, (404, 409, 503),
          {**DELETE_WHY, 404: PATH_WHY[404]}),
    Route("/v1/paths/{path_id}/data", "get", "getPathData", "The data the path was run on.",
          {200: ("FitData", "X, y and feature names.")}, (404, 409),
          {**DATA_WHY, 404: PATH_WHY[404]}),
    Route("/v1/paths/{path_id}/plot.png", "get", "getPathPlot",
          "The path's figure: MAP paths, posterior medians with credible bands, elpd_loo with "
          "best_alpha and alpha_1se marked.", {200: ("image/png", "PNG image.")}, (404, 409),
          PATH_WHY),
]

_ID = {"in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _response(body, description, headers=None):
    out = {"description": description}
    if body is not None:
        schema = {"type": "string", "format": "binary"} if "/" in body else _ref(body)
        mime = body if "/" in body else "application/json"
        out["content"] = {mime: {"schema": schema}}
    if headers:
        out["headers"] = headers
    return out


def _page_parameters(cfg):
    return [
        {"name": "limit", "in": "query", "schema": {
            "type": "integer", "minimum": 1, "maximum": cfg["MAX_PAGE_LIMIT"]}},
        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
        {"name": "status", "in": "query", "schema": {"type": "string", "enum": schemas.STATUSES}}]


def _operation(route, cfg):
    op = {"summary": route.summary, "operationId": route.operation}
    if route.paged:
        op["parameters"] = _page_parameters(cfg)
    if route.body is not None:
        media = route.body if isinstance(route.body, dict) else {"application/json": route.body}
        op["requestBody"] = {"required": True, "content": {
            mime: {"schema": _ref(name)} for mime, name in media.items()}}
    why = {**WHY, **route.why}
    op["responses"] = {
        **{str(code): _response(*spec) for code, spec in route.ok.items()},
        **{str(code): {"description": why[code], "content": {
            "application/problem+json": {"schema": _ref("Problem")}}} for code in route.errors}}
    return op


def document(cfg, version):
    """The OpenAPI 3.1 document of the app configured by ``cfg``: ``ROUTES`` and the schemas."""
    paths = {}
    for route in ROUTES:
        name = re.search(r"\{(\w+)\}", route.path)
        item = paths.setdefault(route.path, {"parameters": [{"name": name.group(1), **_ID}]}
                                if name else {})
        item[route.method] = _operation(route, cfg)
    components = {name: spec(cfg) if callable(spec) else spec for name, spec in COMPONENTS.items()}
    return {"openapi": "3.1.0",
            "info": {"title": "bayesreg", "version": version, "description": INFO},
            "paths": paths, "components": {"schemas": _shared_as_refs(components)}}


def _shared_as_refs(components):
    """An ``allOf`` part that is itself a component (PredictionShared) becomes a $ref to it,
    so the document states the shared shape once."""
    by_id = {id(spec): name for name, spec in components.items()}
    return {name: {**spec, "allOf": [_ref(by_id[id(part)]) if id(part) in by_id else part
                                     for part in spec["allOf"]]} if "allOf" in spec else spec
            for name, spec in components.items()}


def docs_html(doc) -> str:
    """A self-contained page (no CDN: the server may have no internet)."""
    parts = [f"<h1>{html.escape(doc['info']['title'])} {html.escape(doc['info']['version'])}</h1>",
             f"<p>{html.escape(doc['info']['description'])}</p>",
             '<p>Machine-readable: <a href="/openapi.json">/openapi.json</a></p>']
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            parts.append(f"<h2><code>{method.upper()} {html.escape(path)}</code></h2>"
                         f"<p>{html.escape(op['summary'])}</p>")
            body = op.get("requestBody", {}).get("content", {})
            for mime, media in body.items():
                name = media["schema"]["$ref"].rsplit("/", 1)[-1]
                parts.append(f"<p>Request <code>{mime}</code>: <a href='#{name}'>{name}</a></p>")
            codes = ", ".join(f"<b>{c}</b> {html.escape(r['description'])}"
                              for c, r in op["responses"].items())
            parts.append(f"<p>Responses: {codes}</p>")
    parts.append("<h1>Schemas</h1>")
    for name, schema in doc["components"]["schemas"].items():
        parts.append(f"<h2 id='{name}'>{name}</h2><pre>"
                     f"{html.escape(json.dumps(schema, indent=2))}</pre>")
    style = ("body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
             "pre{background:#f4f4f4;padding:.8rem;overflow:auto}h2{margin-top:1.6rem}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>bayesreg API</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")
