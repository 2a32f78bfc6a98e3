"""The /v1/paths resource: posterior regularization paths, run in the sampling pool.

Same conventions as /v1/fits: the same table (``kind = 'path'``), queue, workers, watchdog,
time limit, cancellation by DELETE and recovery at restart; the same data (JSON, a data set
or a CSV upload) and problem documents. A path runs ``bayesreg.regularization_path`` in a
worker, one fit per alpha, and always there (202 + Location, or ``"wait": true`` for a
bounded wait): its progress is fits done of the path's alphas. Its result is the path's
``to_dict()``, kept once, in the database; its plot is drawn from there.
"""

import json
import uuid

from flask import Blueprint, current_app

from . import collection, jobs, schemas, validation
from .collection import enqueue, reading, require_succeeded, settle, store
from .store import DONE

__all__ = ["KIND", "NOUN", "PREFIX", "bp", "resource", "settings"]

KIND, PREFIX, NOUN = "path", "/v1/paths", "path"
bp = Blueprint("paths", __name__, url_prefix=PREFIX)


def settings(request_, ran=None):
    """Every setting of the path, resolved: the request's value, else the default; once the
    path ran, the values it states it ran with (the seed drawn for an unseeded path)."""
    out = {name: request_.get(name, schemas.PATH_DEFAULTS[name]) for name in jobs.PATH_OPTIONS}
    out["time_limit"] = request_.get("time_limit", current_app.config["FIT_TIME_LIMIT"])
    out.update({k: v for k, v in (ran or {}).items() if k in out})
    return out


def resource(row):
    path_id = row["id"]
    links = {"self": f"{PREFIX}/{path_id}", "data": f"{PREFIX}/{path_id}/data"}
    if row["status"] == "succeeded":
        links["plot"] = f"{PREFIX}/{path_id}/plot.png"
    ran = json.loads(row["result"]).get("settings") if row["result"] else None
    # Reported by the worker after every fit of the path (one per alpha).
    progress = {"fits_done": row["draws_done"], "fits_total": row["draws_total"]}
    return collection.queued_resource(row, KIND, progress, links,
                                      settings=settings(json.loads(row["request"]), ran))


@bp.get("")
def index():
    return collection.page(KIND, PREFIX, resource)


@bp.get("/<path_id>")
def show(path_id):
    return resource(collection.row_or_404(path_id, KIND, NOUN))


@bp.delete("/<path_id>")
def delete(path_id):
    return collection.delete(path_id, KIND, PREFIX, resource, NOUN)


@bp.get("/<path_id>/data")
def data(path_id):
    return collection.data(path_id, KIND, NOUN)


@bp.get("/<path_id>/plot.png")
def plot(path_id):
    row = collection.row_or_404(path_id, KIND, NOUN)
    require_succeeded(row)

    def draw():
        from .plot import path_png

        return path_png(json.loads(row["result"]))  # the stored to_dict(), as fits' plots

    with reading(path_id, NOUN):
        return collection.cached_file(path_id, "plot.png", draw, "image/png")


@bp.post("")
def create():
    cfg = current_app.config
    body, X, y, names, source = collection.read_request(
        schemas.path_options, schemas.path_request, schemas.path_options_request,
        validation.check_path)
    o = {**schemas.PATH_DEFAULTS, **body}
    n_alphas = len(o["alphas"]) if o["alphas"] is not None else o["n_alphas"]
    if o["method"] != "map":
        # every fit's draws stay in memory until the path is stored: the cap is on them all
        validation.check_posterior_cells(o["draws"], o["chains"], X.shape[1], cfg)
        validation.check_posterior_cells(o["draws"], o["chains"], X.shape[1], cfg, n_alphas,
                                         "alphas" if o["alphas"] is not None else "n_alphas")
    wait = body.pop("wait", False)
    options = collection.stored_options(body, X, source)

    path_id = str(uuid.uuid4())
    jobs.save_data(store(), path_id, X, y, names)
    enqueue(path_id, o["method"], options, names, n_alphas, KIND)
    row = settle(path_id, wait)
    return resource(row), 201 if row["status"] in DONE else 202, {"Location": f"{PREFIX}/{path_id}"}
