"""The /v1/fits resource: create, read, list, delete, predict, download."""

import json
import uuid

from bayesreg.horseshoe import HORSESHOE_PRIORS
from bayesreg.priors import Prior
from bayesreg.validation import InputError
from flask import Blueprint, current_app, request, send_file

from . import collection, jobs, schemas, validation
from .errors import Problem, invalid
from .collection import enqueue, reading, require_succeeded, settle, store
from .store import DONE, storage_error

__all__ = ["CD_SWEEPS", "KIND", "NOUN", "PREFIX", "SYNC_METHODS", "bp", "progress", "resource",
           "settings", "sync_cost"]

KIND, PREFIX, NOUN = "regression", "/v1/fits", "fit"
bp = Blueprint("fits", __name__, url_prefix=PREFIX)

SYNC_METHODS = ("map", "exact")
# Worst-case coordinate-descent sweeps of the core's lasso / elastic-net MAP
# (bayesreg.map: enet_path's max_iter); one sweep costs p^2 with the Gram matrix
# (n >= p), n p without.
CD_SWEEPS = 100_000


def sync_cost(options, n, p):
    """Worst-case multiply-adds of a map or exact fit of an n x p problem.

    Ridge's MAP is a Cholesky solve of X'X (or of X X' when p > n):
    min(n, p)^2 max(n, p). Lasso and elastic net add up to ``CD_SWEEPS``
    sweeps of coordinate descent. The exact posterior adds X'X (n p^2), its
    factor and inverse (2 p^3) and the draws (draws x chains x p^2); its PSIS-LOO, when
    asked, the linear predictor of every row and draw (draws x chains x n p).
    """
    small, large = min(n, p), max(n, p)
    o = {**schemas.FIT_DEFAULTS, **options}
    if o["method"] == "exact":
        loo = o["draws"] * o["chains"] * n * p if o.get("loo") else 0
        return n * p * p + 2 * p**3 + o["draws"] * o["chains"] * p * p + loo
    cost = small * small * large
    if Prior.create(o["prior"], o["alpha"], o["l1_ratio"]).l1_ratio > 0 and o["alpha"] > 0:
        cost += CD_SWEEPS * (p * p if n >= p else n * p)
    return cost


def resource(row):
    result = json.loads(row["result"]) if row["result"] else {}
    fit_id = row["id"]
    links = {"self": f"/v1/fits/{fit_id}", "data": f"/v1/fits/{fit_id}/data"}
    if row["status"] == "succeeded":
        links["predict"] = f"/v1/fits/{fit_id}/predict"
        if result.get("posterior") is not None:
            links["posterior"] = f"/v1/fits/{fit_id}/posterior.nc"
            links["plot"] = f"/v1/fits/{fit_id}/plot.png"
    request_ = json.loads(row["request"])
    return {
        "id": fit_id,
        "status": row["status"],
        "request": request_,
        "settings": settings(request_, result.get("settings")),
        "feature_names": json.loads(row["feature_names"]),
        "map": result.get("map"),
        "posterior": result.get("posterior"),
        "diagnostics": result.get("diagnostics"),
        "timing": result.get("timing"),
        "loo": result.get("loo"),
        "error": json.loads(row["error"]) if row["error"] else None,
        "progress": progress(row),
        # A DELETE asked this running fit to stop; it ends as "cancelled".
        "cancel_requested": row["cancel_requested"] is not None,
        "worker_pid": row["worker_pid"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "links": links,
    }


def progress(row):
    """Draws done of the total over all chains, tuning included, and the phase: queued,
    starting (before the first draw: the data, the MAP, the kernel), tuning (while any chain
    still tunes), sampling, or done (in a final state)."""
    if row["status"] in DONE:
        phase = "done"
    elif row["status"] == "queued":
        phase = "queued"
    else:
        phase = row["phase"] or "starting"
    return {"phase": phase, "draws_done": row["draws_done"], "draws_total": row["draws_total"]}


def settings(request_, ran=None):
    """Every setting of the fit, resolved: what the request gave, else the default; once the
    fit ran, what it ran with (the seed drawn for an unseeded fit included)."""
    options = schemas.fit_options(current_app.config)
    out = {name: request_.get(name, options[name].get("default")) for name in jobs.SETTINGS}
    out.update({k: v for k, v in (ran or {}).items() if k in out})
    return out


@bp.get("")
def index():
    return collection.page(KIND, PREFIX, resource)


@bp.get("/<fit_id>")
def show(fit_id):
    return resource(_row_or_404(fit_id))


@bp.delete("/<fit_id>")
def delete(fit_id):
    return collection.delete(fit_id, KIND, PREFIX, resource, NOUN)


@bp.get("/<fit_id>/data")
def data(fit_id):
    return collection.data(fit_id, KIND, NOUN)


def _row_or_404(fit_id):
    return collection.row_or_404(fit_id, KIND, NOUN)


def _succeeded(row, need_posterior=False):
    require_succeeded(row)
    if need_posterior and row["method"] == "map":
        detail = "fit has no posterior: it was fitted with method 'map'"
        raise Problem(409, detail, [{"field": "method", "message": detail}])


def _body():
    """The request's options, its data as arrays and feature names, and the data's source."""
    return collection.read_request(schemas.fit_options, schemas.fit_request,
                                   schemas.fit_options_request, validation.check_fit)


@bp.post("")
def create():
    cfg = current_app.config
    body, X, y, names, source = _body()
    wait = body.pop("wait", False)
    options = collection.stored_options(body, X, source)
    options.setdefault("method", schemas.FIT_DEFAULTS["method"])
    o = {**schemas.FIT_DEFAULTS, **options}
    method, draws, chains = o["method"], o["draws"], o["chains"]
    if method in ("nuts", "exact"):
        validation.check_posterior_cells(draws, chains, X.shape[1], cfg)
    sync = method in SYNC_METHODS and sync_cost(options, *X.shape) <= cfg["MAX_SYNC_COST"]
    fit_id = str(uuid.uuid4())
    st = store()
    jobs.save_data(st, fit_id, X, y, names)
    if sync:
        return _create_sync(st, fit_id, options, X, y, names)

    # nuts, and map or exact fits too costly for the request thread: the worker pool
    total = chains * (draws + o["tune"]) if method == "nuts" else 0
    enqueue(fit_id, method, options, names, total, KIND)
    row = settle(fit_id, wait)
    done = row["status"] in DONE
    return resource(row), 201 if done else 202, {"Location": f"/v1/fits/{fit_id}"}


def _create_sync(st, fit_id, options, X, y, names):
    # map and exact within BAYESREG_MAX_SYNC_COST: about a second at worst in the request thread.
    checksums = None
    try:
        result = jobs.fit(st, fit_id, options, X, y, names)
        checksums = jobs.file_checksums(st, fit_id, (jobs.DATA_FILE, jobs.MODEL_FILE))
        status, error = "succeeded", None
    except InputError:  # the core refused an argument: a 422 (errors.py), nothing kept
        jobs.discard(st, fit_id)
        raise
    except Exception as exc:  # a numerical failure is the fit's outcome, kept and reported
        if storage_error(exc) is not None:  # the disk's fault, not the fit's: 507/503
            jobs.discard(st, fit_id)
            raise
        result, status, error = None, "failed", jobs.error_of(exc)
    try:
        st.insert(fit_id, status, options["method"], options, names, 0, result=result,
                  error=error, checksums=checksums)
    except BaseException:
        jobs.discard(st, fit_id)  # nothing stays on disk without its row
        raise
    return resource(st.get(fit_id)), 201, {"Location": f"/v1/fits/{fit_id}"}


@bp.post("/<fit_id>/predict")
def predict(fit_id):
    cfg = current_app.config
    body = validation.parse_json(request, cfg["MAX_JSON_DEPTH"])
    validation.check(schemas.predict_request(cfg), body)
    row = _row_or_404(fit_id)
    _succeeded(row)
    with reading(fit_id):
        est = jobs.load_estimator(store(), fit_id, cfg["ESTIMATOR_CACHE_BYTES"])
    X = validation.check_predict(body, len(est.feature_names_))
    _check_predict_size(X, est, cfg)
    out = {"fit_id": fit_id, "map": est.predict(X).tolist(), "posterior": None,
           "hdi_prob": None}
    if est.prior in HORSESHOE_PRIORS:
        # no finite mode: the point prediction is at the posterior medians (coef_), named so
        out["map"], out["median"] = None, out["map"]
        out["note"] = (f"the {est.prior} prior has no finite mode, so no MAP: 'median' is the "
                       f"prediction at the coefficients' posterior medians")
    if est.posterior_ is None:
        out["note"] = "fit has no posterior (method 'map'): MAP prediction only"
    else:
        prob = body.get("hdi_prob", est.hdi_prob)
        out["posterior"] = est.predict_interval(X, hdi_prob=prob).to_dict()
        out["hdi_prob"] = prob
    validation.check_prediction(out)  # within the bound on |X|, huge coefficients can overflow
    return jobs.jsonable(out)


def _check_predict_size(X, est, cfg):
    """413 unless X, and for a posterior the draws x rows matrices, are within their caps."""
    n, p = X.shape
    if n * p > cfg["MAX_CELLS"]:
        raise invalid("X", f"n x p must be <= {cfg['MAX_CELLS']} (BAYESREG_MAX_CELLS); "
                           f"got {n} x {p} = {n * p}", status=413)
    if est.posterior_ is not None:
        draws = est.posterior_.posterior.sizes["chain"] * est.posterior_.posterior.sizes["draw"]
        if draws * n > cfg["MAX_PREDICT_DRAW_ROWS"]:
            raise invalid("X", f"rows of X x posterior draws of the fit must be <= "
                               f"{cfg['MAX_PREDICT_DRAW_ROWS']} (BAYESREG_MAX_PREDICT_DRAW_ROWS); "
                               f"got {n} x {draws} = {n * draws}", status=413)
        if draws * n * p > cfg["MAX_PREDICT_MULADDS"]:
            raise invalid("X", f"rows of X x posterior draws x features must be <= "
                               f"{cfg['MAX_PREDICT_MULADDS']} (BAYESREG_MAX_PREDICT_MULADDS); "
                               f"got {n} x {draws} x {p} = {n * draws * p}", status=413)


@bp.get("/<fit_id>/posterior.nc")
def posterior(fit_id):
    row = _row_or_404(fit_id)
    _succeeded(row, need_posterior=True)
    with reading(fit_id):
        return send_file(store().path(fit_id, jobs.MODEL_FILE), mimetype="application/x-netcdf",
                         as_attachment=True, download_name=f"{fit_id}.nc")


@bp.get("/<fit_id>/plot.png")
def plot(fit_id):
    row = _row_or_404(fit_id)
    _succeeded(row, need_posterior=True)

    def draw():
        import pandas as pd

        from .plot import forest_png

        # from the stored result (its summary rows), not the model file: the result is
        # stored once, in SQLite, and model.nc holds the draws
        result = json.loads(row["result"])
        rows = pd.DataFrame(result["posterior"]["coef"]).set_index("name")
        rows = rows[["mean", "hdi_low", "hdi_high", "map"]].astype(float)  # None: NaN
        return forest_png(rows, rows.index, result["settings"]["hdi_prob"],
                          current_app.config["PLOT_MAX_COEFS"])

    with reading(fit_id):
        return collection.cached_file(fit_id, "plot.png", draw, "image/png")
