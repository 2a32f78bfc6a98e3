"""What /v1/fits and /v1/dropout/fits share: the queue, the bounded wait, and the bodies of
their list, show, delete and data views. Each resource module declares its own routes and
calls these with its fit kind, its path and its resource."""

import contextlib
import functools
import json
import os
import time
import uuid

from bayesreg import load_diabetes
from bayesreg.validation import check_feature_names
from flask import current_app, request, send_file

from . import jobs, schemas, validation
from .errors import Problem, invalid
from .store import DONE, QueueFull, is_fit_id, storage_error


__all__ = ["DAMAGED", "cached_file", "data", "dataset", "delete", "enqueue", "intact", "lookup",
           "page", "queued_resource", "read_request", "reading", "require_succeeded",
           "row_or_404", "settle", "store", "stored_options"]


def store():
    """The app's fit store."""
    return current_app.extensions["bayesreg.store"]


def require_succeeded(row):
    """409 unless the fit has finished successfully."""
    if row["status"] != "succeeded":
        detail = f"fit {row['id']} is {row['status']}, not succeeded"
        if row["error"]:
            detail += f": {json.loads(row['error'])['message']}"
        raise Problem(409, detail, [{"field": "status", "message": detail}])


def enqueue(fit_id, method, options, names, total, kind):
    """Queue a fit for the worker pool; a full queue is a 503 with Retry-After."""
    cfg, st = current_app.config, store()
    try:
        st.insert(fit_id, "queued", method, options, names, total, max_queue=cfg["MAX_QUEUE"],
                  kind=kind)
    except BaseException as exc:
        jobs.discard(st, fit_id)  # its data was written: nothing stays without its row
        if not isinstance(exc, QueueFull):
            raise
        full = exc
        retry = cfg["RETRY_AFTER"]
        detail = (f"the fit queue is full ({full.args[0]} of BAYESREG_MAX_QUEUE={cfg['MAX_QUEUE']}); "
                  f"retry in {retry} s")
        raise Problem(503, detail, [{"field": "queue", "message": detail}],
                      headers={"Retry-After": str(retry)}) from None


def settle(fit_id, wait):
    """The fit's row, after waiting at most BAYESREG_WAIT_TIMEOUT s for it to end when asked."""
    cfg, st = current_app.config, store()
    row = st.get(fit_id)
    if wait:
        deadline = time.monotonic() + float(cfg["WAIT_TIMEOUT"])
        while row is not None and row["status"] not in DONE and time.monotonic() < deadline:
            time.sleep(cfg["POLL_INTERVAL"])
            row = st.get(fit_id)
    return row


DAMAGED = ("the stored files of this fit are damaged ({names} missing or failing their SHA-256 "
           "checksum); it cannot be served: delete it and fit again")


def intact(row):
    """The row, or, if a succeeded fit's files no longer match their checksums, the row
    after marking the fit failed with the names of the damaged files."""
    if row["status"] != "succeeded" or not row["checksums"]:
        return row
    bad = jobs.damaged_files(store(), row)
    if not bad:
        return row
    current_app.logger.error("fit %s: damaged files %s", row["id"], bad)
    store().mark_damaged(row["id"], DAMAGED.format(names=", ".join(bad)))
    return store().get(row["id"]) or row


@contextlib.contextmanager
def reading(fit_id, noun="fit"):
    """Reads of a fit's files: if the fit was deleted meanwhile, the answer is its 404."""
    try:
        yield
    except Exception:
        if store().get(fit_id) is None:
            detail = f"no {noun} with id {fit_id!r} (it was deleted)"
            raise Problem(404, detail, [{"field": "id", "message": detail}]) from None
        raise


def lookup(fit_id, kind, noun):
    """The fit's row as stored, or a 404 (no checksum work: DELETE uses it as is)."""
    row = store().get(fit_id, kind=kind) if is_fit_id(fit_id) else None
    if row is None:
        detail = f"no {noun} with id {fit_id!r}"
        raise Problem(404, detail, [{"field": "id", "message": detail}])
    return row


def row_or_404(fit_id, kind, noun):
    """The fit's row, checked against its checksums (a damaged fit reads as failed), or a 404."""
    return intact(lookup(fit_id, kind, noun))


def page(kind, prefix, resource):
    """GET of a collection: a page of ``resource(row)``, newest first, and the next page's URL."""
    cfg = current_app.config
    limit = validation.query_int(request.args, "limit", cfg["PAGE_LIMIT"], 1,
                                 cfg["MAX_PAGE_LIMIT"])
    offset = validation.query_int(request.args, "offset", 0, 0, 2**62)
    status = request.args.get("status")
    if status is not None and status not in schemas.STATUSES:
        raise invalid("status", f"must be one of {', '.join(schemas.STATUSES)}; got {status!r}")
    rows, total = store().page(limit, offset, status, kind=kind)
    nxt = None
    if offset + limit < total:
        extra = f"&status={status}" if status else ""
        nxt = f"{prefix}?limit={limit}&offset={offset + limit}{extra}"
    return {"items": [resource(r) for r in rows], "total": total, "limit": limit,
            "offset": offset, "next": nxt}


def delete(fit_id, kind, prefix, resource, noun):
    """DELETE of a fit; a running one is cancelled first (202), and a second DELETE of the
    cancelled fit removes it. A plain lookup, no checksum: on a full disk DELETE must
    work, and a damaged fit must be deletable."""
    st = store()
    lookup(fit_id, kind, noun)
    if st.delete(fit_id):
        return "", 204
    if st.request_cancel(fit_id):
        row = st.get(fit_id)
        if row is not None:
            return resource(row), 202, {"Location": f"{prefix}/{fit_id}"}
    if st.delete(fit_id):  # it ended between the two calls
        return "", 204
    lookup(fit_id, kind, noun)  # 404 if another request deleted it meanwhile
    detail = "fit changed state during DELETE; retry"
    raise Problem(409, detail, [{"field": "status", "message": detail}])


def data(fit_id, kind, noun):
    """GET of a fit's data: X, y and the feature names it was made from."""
    row = row_or_404(fit_id, kind, noun)
    if row["checksums"] and jobs.DATA_FILE in jobs.damaged_files(store(), row):
        require_succeeded(row)  # failed as damaged: the message names the file
    with reading(fit_id, noun):
        X, y, names = jobs.load_data(store(), fit_id)
    return {"X": X.tolist(), "y": y.tolist(), "feature_names": names}


@functools.lru_cache(maxsize=None)
def dataset(name):
    """Embedded demo data ``(X, y, feature_names)``, read once per process (scikit-learn
    parses a CSV per call); the arrays are read-only, shared by all requests."""
    frame, target = {"diabetes": load_diabetes}[name]()
    X, y = frame.to_numpy(dtype=float), target.to_numpy(dtype=float)
    X.flags.writeable = y.flags.writeable = False
    return X, y, [str(c) for c in frame.columns]


def read_request(options, json_schema, form_schema, check):
    """A create request, JSON or a CSV upload: ``(body, X, y, names, source)``.

    ``options``, ``json_schema`` and ``form_schema`` are functions of the config giving the
    resource's option fields, its JSON body's schema and its parsed form's schema;
    ``check(body, cfg, X, y)`` runs its semantic checks and returns the data as arrays (the
    CSV's, or the body's), or ``(None, None)`` for an embedded data set."""
    cfg = current_app.config
    X = y = None
    if request.mimetype == "multipart/form-data":
        body, X, y = validation.parse_form(request, options(cfg), cfg)
        validation.check(form_schema(cfg), body)
        source = "csv"
    elif request.mimetype == "application/json":
        body, source = validation.parse_json(request, cfg["MAX_JSON_DEPTH"]), "json"
        validation.check(json_schema(cfg), body)
    else:
        got = request.mimetype or "none"
        msg = f"must be application/json or multipart/form-data; got {got}"
        raise Problem(415, f"Content-Type {msg}", [{"field": "Content-Type", "message": msg}])
    X, y = check(body, cfg, X, y)
    if X is None:
        X, y, names = dataset(body["dataset"])
        source = body["dataset"]
        check_feature_names(body.get("feature_names"), X.shape[1], controls=True)
        body.setdefault("feature_names", names)
    names = body.get("feature_names") or [f"x{j}" for j in range(X.shape[1])]
    return body, X, y, names, source


def stored_options(body, X, source):
    """What a fit's row keeps of its request: the options (not the data) and the data's shape
    and source."""
    options = {k: v for k, v in body.items() if k not in ("X", "y", "feature_names")}
    options.update(source=source, n_samples=int(X.shape[0]), n_features=int(X.shape[1]))
    return options


def cached_file(fit_id, name, make, mimetype):
    """A file derived from a fit's stored results (a plot), made by ``make()`` -> bytes on its
    first read and kept beside the fit; a full disk serves it without keeping it."""
    path = store().path(fit_id, name)
    if not os.path.exists(path):
        content = make()
        tmp = f"{path}.{uuid.uuid4().hex}.tmp"  # one per request: threads share a pid
        try:
            with open(tmp, "wb") as fh:
                fh.write(content)
            os.replace(tmp, path)  # atomic, so concurrent requests never read half a file
        except OSError as exc:
            if os.path.exists(tmp):
                os.remove(tmp)
            if storage_error(exc) is None:
                raise
            return current_app.response_class(content, mimetype=mimetype)  # no room to keep it
    return send_file(path, mimetype=mimetype)


def queued_resource(row, kind, progress, links, **extra):
    """The resource of a job that always runs in the pool (an MC-dropout fit, a path):
    ``progress`` as the resource names it, its ``links``, the result (its timing apart), and
    ``extra`` fields after ``request``."""
    result = json.loads(row["result"]) if row["result"] else None
    timing = result.pop("timing", None) if result else None
    return {
        "id": row["id"],
        "kind": kind,
        "status": row["status"],
        "request": json.loads(row["request"]),
        **extra,
        "feature_names": json.loads(row["feature_names"]),
        "progress": progress,
        # A DELETE asked this running job to stop; it ends as "cancelled".
        "cancel_requested": row["cancel_requested"] is not None,
        "result": result,
        "timing": timing,
        "error": json.loads(row["error"]) if row["error"] else None,
        "worker_pid": row["worker_pid"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "links": links,
    }
