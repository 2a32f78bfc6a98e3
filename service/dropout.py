"""The /v1/dropout/fits resource: MC-dropout networks trained in the sampling pool.

Same conventions as /v1/fits: the same table (``kind = 'mc_dropout'``), queue,
workers, watchdog and recovery; the same problem documents. Training always
runs in a worker (202 + Location, or ``"wait": true`` for a bounded wait);
prediction runs in the request thread from the saved model file.
"""

import json
import uuid

from flask import Blueprint, current_app, request

from . import jobs, schemas, validation
from .collection import add_routes, enqueue, reading, require_succeeded, settle, store
from .fits import _dataset
from .store import DONE

KIND = "mc_dropout"
bp = Blueprint("dropout", __name__, url_prefix="/v1/dropout/fits")


def resource(row):
    fit_id = row["id"]
    result = json.loads(row["result"]) if row["result"] else None
    timing = result.pop("timing", None) if result else None
    links = {"self": f"/v1/dropout/fits/{fit_id}", "data": f"/v1/dropout/fits/{fit_id}/data"}
    if row["status"] == "succeeded":
        links["predict"] = f"/v1/dropout/fits/{fit_id}/predict"
    return {
        "id": fit_id,
        "kind": KIND,
        "status": row["status"],
        "request": json.loads(row["request"]),
        "feature_names": json.loads(row["feature_names"]),
        # Reported by the worker after every epoch (throttled to one DB write per 0.2 s).
        "progress": {"epochs_done": row["draws_done"], "epochs_total": row["draws_total"]},
        # A DELETE asked this running fit to stop; it ends as "cancelled".
        "cancel_requested": row["cancel_requested"] is not None,
        "result": result,
        "timing": timing,
        "error": json.loads(row["error"]) if row["error"] else None,
        "worker_pid": row["worker_pid"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "links": links,
    }


_row_or_404 = add_routes(bp, KIND, "/v1/dropout/fits", resource, "MC-dropout fit")


@bp.post("")
def create():
    cfg = current_app.config
    body = validation.parse_json(request, cfg["MAX_JSON_DEPTH"])
    validation.check(schemas.dropout_request(cfg), body)
    X, y = validation.check_data(body, cfg)
    source = "json"
    if X is None:
        X, y, names = _dataset(body["dataset"])
        source = body["dataset"]
        validation.check_names(body.get("feature_names"), X.shape[1])
        body.setdefault("feature_names", names)
    validation.check_dropout_fit(body, cfg, X.shape[0])
    names = body.get("feature_names") or [f"x{j}" for j in range(X.shape[1])]
    wait = body.pop("wait", False)
    options = {k: v for k, v in body.items() if k not in ("X", "y", "feature_names")}
    options.update(source=source, n_samples=int(X.shape[0]), n_features=int(X.shape[1]))

    fit_id = str(uuid.uuid4())
    st = store()
    jobs.save_data(st, fit_id, X, y, names)
    enqueue(fit_id, KIND, options, names, int(options.get("epochs", 400)), KIND)
    row = settle(fit_id, wait)
    done = row["status"] in DONE
    return resource(row), 201 if done else 202, {"Location": f"/v1/dropout/fits/{fit_id}"}


@bp.post("/<fit_id>/predict")
def predict(fit_id):
    cfg = current_app.config
    body = validation.parse_json(request, cfg["MAX_JSON_DEPTH"])
    validation.check(schemas.dropout_predict_request(cfg), body)
    require_succeeded(_row_or_404(fit_id))
    with reading(fit_id, "MC-dropout fit"):
        est = jobs.load_dropout(store(), fit_id)
    X = validation.check_dropout_predict(body, est.n_features_in_, est.mc_samples, cfg)
    prob = body.get("prob", 0.95)
    with jobs.DROPOUT_LOCK:
        mean, sd = est.predict(X, return_std=True)
        interval = est.predict_interval(X, prob=prob)
        deterministic = est.predict_deterministic(X)
    return jobs.jsonable({
        "fit_id": fit_id, "mean": mean.tolist(), "sd": sd.tolist(),
        "lower": interval.lower.tolist(), "upper": interval.upper.tolist(),
        "deterministic": deterministic.tolist(), "prob": prob, "mc_samples": int(est.mc_samples)})
