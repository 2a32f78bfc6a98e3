"""The OpenAPI 3.1 document, assembled from the schemas that validate requests."""

import html
import json

from . import schemas


def _problem(description):
    return {"description": description,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _json(ref, description, headers=None):
    out = {"description": description,
           "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}
    if headers:
        out["headers"] = headers
    return out


_LOCATION = {"Location": {"schema": {"type": "string"}, "description": "URL of the fit."}}
_DROPOUT_LOCATION = {"Location": {"schema": {"type": "string"},
                                  "description": "URL of the MC-dropout fit."}}
_ID = {"name": "fit_id", "in": "path", "required": True,
       "schema": {"type": "string", "format": "uuid"}}


def _page_parameters(cfg):
    return [
        {"name": "limit", "in": "query", "schema": {
            "type": "integer", "minimum": 1, "maximum": cfg["MAX_PAGE_LIMIT"]}},
        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
        {"name": "status", "in": "query", "schema": {"type": "string", "enum": schemas.STATUSES}}]


_WHY = {400: "Malformed JSON or nesting too deep.", 404: "No such fit.",
        409: "The fit has not succeeded (queued, running, failed, cancelled; a fit whose files "
             "are damaged is failed), or it has no posterior (method map).",
        413: "Body or problem size above a cap.", 415: "Unsupported Content-Type.",
        422: "The request violates the schema or a semantic rule; errors[] names the fields.",
        503: "The fit queue is full, or the disk is read-only; see Retry-After.",
        507: "The disk is full: nothing of the request was stored. DELETE works and frees "
             "space."}


def _errors(*codes, why=None):
    """Problem responses for ``codes``; ``why`` overrides a code's general description."""
    text = {**_WHY, **(why or {})}
    return {str(code): _problem(text[code]) for code in codes}


# The cases in which each DELETE and data read answers what the general text does not say.
_DELETE_WHY = {409: "The fit changed state during the DELETE (it ended as the cancel was "
                    "recorded); retry.",
               503: "The disk is read-only: nothing was deleted."}
_DATA_WHY = {409: "The data file is damaged (its checksum changed); the fit is failed."}


def document(cfg, version):
    fit_ref = {"$ref": "#/components/schemas/FitRequest"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "bayesreg", "version": version,
                 "description": "Bayesian regularized regression: the MAP of ridge, lasso and "
                                "elastic net beside the full posterior. Errors are RFC 9457 "
                                "problem documents. Besides the responses listed per route, "
                                "any route may answer 405 (a method it does not have) and, "
                                "from the buffering front before the route runs: 400 "
                                "(malformed HTTP framing), 408 (a client too slow to send), "
                                "413 (a declared body above the cap), 431 (a request head "
                                "above 64 KiB), 501 (a transfer coding other than chunked) "
                                "and 503 with Retry-After (too many connections or buffered "
                                "bodies, or the HTTP workers restarting)."},
        "paths": {
            "/": {"get": {
                "summary": "Redirects to /docs, this document as a page.",
                "operationId": "root",
                "responses": {"302": {"description": "To /docs.", "headers": {
                    "Location": {"schema": {"type": "string"}}}}}}},
            "/health": {"get": {
                "summary": "Liveness, queue depth and sampling workers.",
                "operationId": "health",
                "responses": {"200": _json("Health", "Service status.")}}},
            "/v1/fits": {
                "post": {
                    "summary": "Fit a model (JSON body, or a CSV upload as multipart/form-data).",
                    "operationId": "createFit",
                    "requestBody": {"required": True, "content": {
                        "application/json": {"schema": fit_ref},
                        "multipart/form-data": {"schema": {"$ref": "#/components/schemas/FitForm"}}}},
                    "responses": {
                        "201": _json("Fit", "Finished fit (map, exact, or nuts with wait).", _LOCATION),
                        "202": _json("Fit", "Queued (nuts, or map/exact over BAYESREG_MAX_SYNC_COST); "
                                             "poll Location.", _LOCATION),
                        **_errors(400, 413, 415, 422, 503, 507)}},
                "get": {
                    "summary": "List fits, newest first.",
                    "operationId": "listFits",
                    "parameters": _page_parameters(cfg),
                    "responses": {"200": _json("FitList", "A page of fits."), **_errors(422)}}},
            "/v1/fits/{fit_id}": {
                "parameters": [_ID],
                "get": {"summary": "One fit, with progress while it samples.",
                        "operationId": "getFit",
                        "responses": {"200": _json("Fit", "The fit."), **_errors(404)}},
                "delete": {"summary": "Delete a fit and its files; a running fit is cancelled.",
                           "operationId": "deleteFit",
                           "responses": {"204": {"description": "Deleted."},
                                         "202": _json("Fit", "The fit is running: it is asked to "
                                                      "stop and ends as cancelled; DELETE it "
                                                      "again to remove it."),
                                         **_errors(404, 409, 503, why=_DELETE_WHY)}}},
            "/v1/fits/{fit_id}/data": {
                "parameters": [_ID],
                "get": {"summary": "The data the fit was made from.", "operationId": "getFitData",
                        "responses": {"200": _json("FitData", "X, y and feature names."),
                                      **_errors(404, 409, why=_DATA_WHY)}}},
            "/v1/fits/{fit_id}/predict": {
                "parameters": [_ID],
                "post": {"summary": "MAP prediction, posterior predictive mean and HDIs.",
                         "operationId": "predict",
                         "requestBody": {"required": True, "content": {"application/json": {
                             "schema": {"$ref": "#/components/schemas/PredictRequest"}}}},
                         "responses": {"200": _json("Prediction", "Predictions."),
                                       **_errors(400, 404, 409, 413, 415, 422)}}},
            "/v1/fits/{fit_id}/posterior.nc": {
                "parameters": [_ID],
                "get": {"summary": "The posterior as ArviZ InferenceData netCDF.",
                        "operationId": "getPosterior",
                        "responses": {"200": {"description": "netCDF file.", "content": {
                            "application/x-netcdf": {"schema": {"type": "string", "format": "binary"}}}},
                            **_errors(404, 409)}}},
            "/v1/fits/{fit_id}/plot.png": {
                "parameters": [_ID],
                "get": {"summary": "Forest plot: posterior HDI per coefficient, MAP marked.",
                        "operationId": "getPlot",
                        "responses": {"200": {"description": "PNG image.", "content": {
                            "image/png": {"schema": {"type": "string", "format": "binary"}}}},
                            **_errors(404, 409)}}},
            "/v1/dropout/fits": {
                "post": {
                    "summary": "Train an MC-dropout network in the worker pool (JSON body).",
                    "operationId": "createDropoutFit",
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/DropoutFitRequest"}}}},
                    "responses": {
                        "201": _json("DropoutFit", "Finished fit (with wait).", _DROPOUT_LOCATION),
                        "202": _json("DropoutFit", "Training queued; poll Location.",
                                     _DROPOUT_LOCATION),
                        **_errors(400, 413, 415, 422, 503, 507)}},
                "get": {
                    "summary": "List MC-dropout fits, newest first.",
                    "operationId": "listDropoutFits",
                    "parameters": _page_parameters(cfg),
                    "responses": {"200": _json("DropoutFitList", "A page of MC-dropout fits."),
                                  **_errors(422)}}},
            "/v1/dropout/fits/{fit_id}": {
                "parameters": [_ID],
                "get": {"summary": "One MC-dropout fit, with epochs done while it trains.",
                        "operationId": "getDropoutFit",
                        "responses": {"200": _json("DropoutFit", "The fit."), **_errors(404)}},
                "delete": {"summary": "Delete an MC-dropout fit and its files; a running one is "
                                      "cancelled.",
                           "operationId": "deleteDropoutFit",
                           "responses": {"204": {"description": "Deleted."},
                                         "202": _json("DropoutFit", "Training is running: it is "
                                                      "asked to stop and ends as cancelled; "
                                                      "DELETE it again to remove it."),
                                         **_errors(404, 409, 503, why=_DELETE_WHY)}}},
            "/v1/dropout/fits/{fit_id}/data": {
                "parameters": [_ID],
                "get": {"summary": "The data the network was trained on.",
                        "operationId": "getDropoutFitData",
                        "responses": {"200": _json("FitData", "X, y and feature names."),
                                      **_errors(404, 409, why=_DATA_WHY)}}},
            "/v1/dropout/fits/{fit_id}/predict": {
                "parameters": [_ID],
                "post": {"summary": "MC predictive mean, sd (incl. 1/tau), central interval "
                                    "and the deterministic (weight-scaled) prediction.",
                         "operationId": "predictDropout",
                         "requestBody": {"required": True, "content": {"application/json": {
                             "schema": {"$ref": "#/components/schemas/DropoutPredictRequest"}}}},
                         "responses": {"200": _json("DropoutPrediction", "Predictions."),
                                       **_errors(400, 404, 409, 413, 415, 422)}}},
        },
        "components": {"schemas": {
            "FitRequest": schemas.fit_request(cfg),
            "FitForm": schemas.fit_form(cfg),
            "PredictRequest": schemas.predict_request(cfg),
            "Fit": schemas.FIT,
            "FitList": schemas.FIT_LIST,
            "FitData": schemas.FIT_DATA,
            "Prediction": schemas.PREDICTION,
            "DropoutFitRequest": schemas.dropout_request(cfg),
            "DropoutPredictRequest": schemas.dropout_predict_request(cfg),
            "DropoutFit": schemas.DROPOUT_FIT,
            "DropoutFitList": schemas.DROPOUT_FIT_LIST,
            "DropoutPrediction": schemas.DROPOUT_PREDICTION,
            "Health": schemas.HEALTH,
            "Problem": schemas.PROBLEM,
        }},
    }


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
