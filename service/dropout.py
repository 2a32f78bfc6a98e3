"""The /v1/dropout/fits resource: MC-dropout networks trained in the sampling pool.

Same conventions as /v1/fits: the same table (``kind = 'mc_dropout'``), queue,
workers, watchdog and recovery; the same problem documents. Training always
runs in a worker (202 + Location, or ``"wait": true`` for a bounded wait);
prediction runs in the request thread from the saved model file, within
BAYESREG_MAX_PREDICT_COST, and without a lock: concurrent predictions run side by side.
"""

import uuid

from bayesreg.dropout.regressor import HDI_PROB
from bayesreg.validation import check_feature_names
from flask import Blueprint, current_app, request

from . import collection, jobs, schemas, validation
from .collection import dataset, enqueue, reading, require_succeeded, settle, store
from .errors import invalid
from .schemas import DROPOUT_DEFAULTS, FLAT_PROB
from .store import DONE

__all__ = ["KIND", "MASK_COST", "NOUN", "PREFIX", "SUMMARY_COST", "bp", "create", "data", "delete",
           "index", "predict", "predict_cost", "resource", "show"]

KIND, PREFIX, NOUN = "mc_dropout", "/v1/dropout/fits", "MC-dropout fit"
bp = Blueprint("dropout", __name__, url_prefix=PREFIX)

# The cost of one MC pass of one row, in multiply-adds of one thread (see
# BAYESREG_MAX_PREDICT_COST): one per weight, MASK_COST per input or hidden unit
# (drawing and applying its keep mask), SUMMARY_COST for the pass's share of the
# mean, sd and two mixture quantiles.
MASK_COST = 50
SUMMARY_COST = 4_000


def predict_cost(rows, mc_samples, n_features, hidden):
    """``(cost, weights, units)`` of predicting ``rows`` rows with ``mc_samples`` passes."""
    widths = (n_features, *hidden, 1)
    weights = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    units = sum(widths[:-1])
    return rows * mc_samples * (weights + MASK_COST * units + SUMMARY_COST), weights, units


def _per_row(mc_samples, weights, units):
    return f"{mc_samples} x ({weights} + {MASK_COST} x {units} + {SUMMARY_COST})"


def resource(row):
    fit_id = row["id"]
    links = {"self": f"/v1/dropout/fits/{fit_id}", "data": f"/v1/dropout/fits/{fit_id}/data"}
    if row["status"] == "succeeded":
        links["predict"] = f"/v1/dropout/fits/{fit_id}/predict"
    # Reported by the worker after every epoch (throttled to one DB write per 0.2 s).
    progress = {"epochs_done": row["draws_done"], "epochs_total": row["draws_total"]}
    return collection.queued_resource(row, KIND, progress, links)


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


@bp.post("")
def create():
    cfg = current_app.config
    body = validation.parse_json(request, cfg["MAX_JSON_DEPTH"])
    validation.check(schemas.dropout_request(cfg), body)
    X, y = validation.check_data(body, cfg)
    source = "json"
    if X is None:
        X, y, names = dataset(body["dataset"])
        source = body["dataset"]
        check_feature_names(body.get("feature_names"), X.shape[1], controls=True)
        body.setdefault("feature_names", names)
    validation.check_dropout_fit(body, cfg, X.shape[0])
    jobs.dropout_estimator(body).check_params()  # the core's own rules, at the door
    _check_one_row(body, X.shape[1], cfg)
    names = body.get("feature_names") or [f"x{j}" for j in range(X.shape[1])]
    wait = body.pop("wait", False)
    options = collection.stored_options(body, X, source)

    fit_id = str(uuid.uuid4())
    st = store()
    jobs.save_data(st, fit_id, X, y, names)
    enqueue(fit_id, KIND, options, names, int(options.get("epochs", DROPOUT_DEFAULTS["epochs"])), KIND)
    row = settle(fit_id, wait)
    done = row["status"] in DONE
    return resource(row), 201 if done else 202, {"Location": f"/v1/dropout/fits/{fit_id}"}


@bp.post("/<fit_id>/predict")
def predict(fit_id):
    cfg = current_app.config
    body = validation.parse_json(request, cfg["MAX_JSON_DEPTH"])
    validation.check(schemas.dropout_predict_request(cfg), body)
    require_succeeded(_row_or_404(fit_id))
    with reading(fit_id, NOUN):
        est = jobs.load_dropout(store(), fit_id, cfg["ESTIMATOR_CACHE_BYTES"])
    X = validation.check_dropout_predict(body, est.n_features_in_, est.mc_samples, cfg)
    rows, T = X.shape[0], int(est.mc_samples)
    cost, weights, units = predict_cost(rows, T, est.n_features_in_, est.hidden_)
    if cost > cfg["MAX_PREDICT_COST"]:
        raise invalid("X", f"rows of X x mc_samples x (weights + {MASK_COST} x units + "
                           f"{SUMMARY_COST}) of the network must be <= {cfg['MAX_PREDICT_COST']} "
                           f"(BAYESREG_MAX_PREDICT_COST); got {rows} x "
                           f"{_per_row(T, weights, units)} = {cost}", status=413)
    # posterior: HDIs at hdi_prob (the core's default HDI_PROB). The deprecated flat fields
    # keep their former meaning whatever the request sends: central intervals at "prob"
    # (default 0.95, as before). Both from one set of T passes.
    prob = body.get("prob", FLAT_PROB)
    hdis, flat = est.predict_summaries(X, [(body.get("hdi_prob"), False), (prob, True)])
    summary = hdis.to_dict()
    out = {"fit_id": fit_id, "posterior": summary, "hdi_prob": body.get("hdi_prob", HDI_PROB),
           "deterministic": est.predict_deterministic(X).tolist(), "mc_samples": T,
           # the former flat shape, kept for one release (deprecated in the OpenAPI document)
           **_flat(flat.to_dict(), prob)}
    # within the bound on |X|, a network's products can still overflow: 422, never null
    validation.check_prediction({"map": out["deterministic"], "posterior": summary})
    return jobs.jsonable(out)


def _flat(central, prob):
    """The deprecated flat fields: the central intervals as before, obs_low and obs_high also
    under their older names lower and upper, and their mass prob."""
    return {**central, "lower": central["obs_low"], "upper": central["obs_high"], "prob": prob}


def _check_one_row(body, n_features, cfg):
    """422 for a network that could not predict even one row within BAYESREG_MAX_PREDICT_COST."""
    hidden = tuple(body.get("hidden", DROPOUT_DEFAULTS["hidden"]))
    T = body.get("mc_samples", DROPOUT_DEFAULTS["mc_samples"])
    cost, weights, units = predict_cost(1, T, n_features, hidden)
    if cost > cfg["MAX_PREDICT_COST"]:
        raise invalid("mc_samples", f"mc_samples x (weights + {MASK_COST} x units + "
                                    f"{SUMMARY_COST}) of one row must be <= "
                                    f"{cfg['MAX_PREDICT_COST']} (BAYESREG_MAX_PREDICT_COST), or "
                                    f"the network could never predict; got "
                                    f"{_per_row(T, weights, units)} = {cost}: use fewer "
                                    f"mc_samples or a smaller hidden")
