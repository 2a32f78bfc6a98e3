"""The /v1/dropout/fits resource: MC-dropout networks trained in the sampling pool.

Same conventions as /v1/fits: the same table (``kind = 'mc_dropout'``), queue,
workers, watchdog and recovery; the same problem documents. Training always
runs in a worker (202 + Location, or ``"wait": true`` for a bounded wait);
prediction runs in the request thread from the saved model file.
"""

import json
import time
import uuid

from flask import Blueprint, current_app, request

from . import jobs, schemas, validation
from .errors import Problem, invalid
from .fits import _dataset, _query_int, store
from .store import QueueFull, is_fit_id

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
        "result": result,
        "timing": timing,
        "error": json.loads(row["error"]) if row["error"] else None,
        "worker_pid": row["worker_pid"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "links": links,
    }


def _row_or_404(fit_id):
    row = store().get(fit_id, kind=KIND) if is_fit_id(fit_id) else None
    if row is None:
        detail = f"no MC-dropout fit with id {fit_id!r}"
        raise Problem(404, detail, [{"field": "id", "message": detail}])
    return row


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
        body.setdefault("feature_names", names)
    validation.check_dropout_fit(body, cfg, X.shape[0])
    names = body.get("feature_names") or [f"x{j}" for j in range(X.shape[1])]
    wait = body.pop("wait", False)
    options = {k: v for k, v in body.items() if k not in ("X", "y", "feature_names")}
    options.update(source=source, n_samples=int(X.shape[0]), n_features=int(X.shape[1]))

    fit_id = str(uuid.uuid4())
    st = store()
    jobs.save_data(st, fit_id, X, y, names)
    epochs = int(options.get("epochs", 400))
    try:
        st.insert(fit_id, "queued", KIND, options, names, epochs, max_queue=cfg["MAX_QUEUE"],
                  kind=KIND)
    except QueueFull as full:
        jobs.discard(st, fit_id)
        retry = cfg["RETRY_AFTER"]
        detail = (f"the fit queue is full ({full.args[0]} of BAYESREG_MAX_QUEUE={cfg['MAX_QUEUE']}); "
                  f"retry in {retry} s")
        raise Problem(503, detail, [{"field": "queue", "message": detail}],
                      headers={"Retry-After": str(retry)}) from None
    row = st.get(fit_id)
    if wait:
        deadline = time.monotonic() + float(cfg["WAIT_TIMEOUT"])
        while row["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(cfg["POLL_INTERVAL"])
            row = st.get(fit_id)
    done = row["status"] in ("succeeded", "failed")
    return resource(row), 201 if done else 202, {"Location": f"/v1/dropout/fits/{fit_id}"}


@bp.get("")
def index():
    cfg = current_app.config
    limit = _query_int("limit", cfg["PAGE_LIMIT"], 1, cfg["MAX_PAGE_LIMIT"])
    offset = _query_int("offset", 0, 0, 2**62)
    status = request.args.get("status")
    if status is not None and status not in schemas.STATUSES:
        raise invalid("status", f"must be one of {', '.join(schemas.STATUSES)}; got {status!r}")
    rows, total = store().page(limit, offset, status, kind=KIND)
    nxt = None
    if offset + limit < total:
        extra = f"&status={status}" if status else ""
        nxt = f"/v1/dropout/fits?limit={limit}&offset={offset + limit}{extra}"
    return {"items": [resource(r) for r in rows], "total": total, "limit": limit,
            "offset": offset, "next": nxt}


@bp.get("/<fit_id>")
def show(fit_id):
    return resource(_row_or_404(fit_id))


@bp.delete("/<fit_id>")
def delete(fit_id):
    _row_or_404(fit_id)
    if not store().delete(fit_id):
        detail = "fit is running; delete it once it has finished"
        raise Problem(409, detail, [{"field": "status", "message": detail}])
    return "", 204


@bp.get("/<fit_id>/data")
def data(fit_id):
    _row_or_404(fit_id)
    X, y, names = jobs.load_data(store(), fit_id)
    return {"X": X.tolist(), "y": y.tolist(), "feature_names": names}


@bp.post("/<fit_id>/predict")
def predict(fit_id):
    cfg = current_app.config
    body = validation.parse_json(request, cfg["MAX_JSON_DEPTH"])
    validation.check(schemas.dropout_predict_request(cfg), body)
    row = _row_or_404(fit_id)
    if row["status"] != "succeeded":
        detail = f"fit {fit_id} is {row['status']}, not succeeded"
        raise Problem(409, detail, [{"field": "status", "message": detail}])
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
