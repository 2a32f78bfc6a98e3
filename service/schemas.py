"""JSON Schemas of every request and response body, as Python dicts.

They are the one source of truth: ``validation`` checks requests against them
and ``openapi`` publishes them. Caps come from the app's configuration, so the
published limits are the enforced ones. The core supplies the rest: the priors
and methods (``bayesreg.priors.PRIORS``, ``bayesreg.estimator.METHODS``), every
default (the estimators' constructors) and the numeric bounds
(``bayesreg.validation.BOUNDS``), which it refuses too.
"""

from bayesreg import BayesianRegression, MCDropoutRegressor
from bayesreg.estimator import METHODS as _CORE_METHODS
from bayesreg.estimator import PRIOR_NAMES as _CORE_PRIORS
from bayesreg.path import PRIORS as _CORE_PATH_PRIORS
from bayesreg.dropout.regressor import HDI_PROB
from bayesreg.dropout.regressor import RANGES as DROPOUT_RANGES
from bayesreg.validation import BOUNDS, RANGES, REASONS

__all__ = ["DATA", "DATASETS", "DATUM", "DROPOUT_DEFAULTS", "DROPOUT_FIT", "DROPOUT_FIT_LIST",
           "DROPOUT_PREDICTION", "FIT", "FIT_DATA", "FIT_DEFAULTS", "FIT_LIST", "HEALTH", "MATRIX",
           "LOO", "METHODS", "NAME_PATTERN", "PATH", "PATH_DEFAULTS", "PATH_LIST", "PATH_PRIORS",
           "PREDICTION", "PREDICTION_SHARED", "PRIORS", "PROBLEM", "STATUSES", "dropout_options",
           "dropout_predict_request", "dropout_request", "fit_form", "fit_options",
           "fit_options_request", "fit_request", "path_form", "path_options",
           "path_options_request", "path_request", "predict_request"]

PRIORS = sorted(_CORE_PRIORS)
METHODS = sorted(_CORE_METHODS)
DATASETS = ["diabetes"]
STATUSES = ["cancelled", "failed", "queued", "running", "succeeded"]

NUMBER = {"type": "number"}
NULLABLE_NUMBER = {"type": ["number", "null"]}
#: a number of X or y; ``x-reason`` says why a bound exists and is quoted in the 422
DATUM = {"type": "number", "minimum": -BOUNDS.data, "maximum": BOUNDS.data,
         "x-reason": REASONS["data"]}
MATRIX = {
    "type": "array",
    "minItems": 1,
    "items": {"type": "array", "minItems": 1, "items": DATUM},
    "description": "Rows of the design matrix; every row has one number per feature.",
}
#: no control characters (C0, DEL, C1): names are stored, echoed in JSON and drawn in plots
NAME_PATTERN = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"


def _defaults(estimator, names):
    """The constructor defaults of ``estimator`` for the API's ``names`` (tuples as lists)."""
    params = estimator().get_params()
    return {name: list(params[name]) if isinstance(params[name], tuple) else params[name]
            for name in names}


#: what a fit runs with when the request does not say: the estimators' own defaults
FIT_DEFAULTS = {**_defaults(BayesianRegression, (
    "prior", "alpha", "l1_ratio", "sigma", "fit_intercept", "standardize", "learn_alpha",
    "method", "draws", "tune", "chains", "hdi_prob", "global_scale", "expected_nonzero",
    "slab_df", "slab_scale")), "seed": None}
DROPOUT_DEFAULTS = {**_defaults(MCDropoutRegressor, (
    "hidden", "dropout", "tau", "length_scale", "epochs", "batch_size", "learning_rate",
    "mc_samples", "standardize")), "seed": None}


def fit_options(cfg):
    """The fields of a fit request other than the data (the CSV form accepts the same), with
    the estimator's defaults."""
    d = FIT_DEFAULTS
    return {
        "feature_names": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 200,
                      "pattern": NAME_PATTERN},
            "maxItems": cfg["MAX_FEATURES"],
            "description": "One name per column of X; defaults to x0, x1, ... Names hold no "
                           "control characters and no lone surrogates.",
        },
        "prior": {"type": "string", "enum": PRIORS, "default": d["prior"]},
        "alpha": {"type": "number", "minimum": 0, "maximum": BOUNDS.alpha, "default": d["alpha"],
                  "x-reason": REASONS["alpha"],
                  "description": "Penalty strength in scikit-learn's ElasticNet convention."},
        "l1_ratio": {**RANGES["l1_ratio"].schema(), "default": d["l1_ratio"],
                     "description": "Share of the L1 penalty; used by prior elastic_net."},
        "sigma": {"type": ["number", "null"], "minimum": BOUNDS.sigma_low,
                  "maximum": BOUNDS.sigma_high, "default": d["sigma"],
                  "x-reason": REASONS["sigma"],
                  "description": "Known noise scale, at least eps x max|y| (the rounding of "
                                 "y) for exact and nuts; null learns it, which needs more rows "
                                 "than the intercept takes (and under alpha = 0 the "
                                 "coefficients too)."},
        "fit_intercept": {"type": "boolean", "default": d["fit_intercept"]},
        "standardize": {"type": "boolean", "default": d["standardize"]},
        "learn_alpha": {"type": "boolean", "default": d["learn_alpha"]},
        "method": {"type": "string", "enum": METHODS, "default": d["method"],
                   "description": "map and exact answer at once (201) when their worst-case cost "
                                  "is within BAYESREG_MAX_SYNC_COST, else they are queued like "
                                  "nuts (202)."},
        "draws": {**RANGES["draws"].schema(), "maximum": cfg["MAX_DRAWS"], "default": d["draws"],
                  "description": "Draws per chain. Fewer than 100 succeed with a diagnostics "
                                 "warning (too few to check convergence reliably, as in PyMC)."},
        "tune": {**RANGES["tune"].schema(), "maximum": cfg["MAX_TUNE"], "default": d["tune"]},
        "chains": {**RANGES["chains"].schema(), "maximum": cfg["MAX_CHAINS"],
                   "default": d["chains"]},
        "seed": {**RANGES["seed"].schema(), "type": ["integer", "null"], "default": d["seed"]},
        "hdi_prob": {**RANGES["hdi_prob"].schema(), "default": d["hdi_prob"]},
        **_horseshoe_options(cfg),
        "wait": {"type": "boolean", "default": False,
                 "description": "For nuts: hold the request until the fit ends "
                                "(at most BAYESREG_WAIT_TIMEOUT s)."},
        "time_limit": _time_limit(cfg),
        "loo": {"type": "boolean", "default": False,
                "description": "nuts and exact: also compute PSIS-LOO (ArviZ) of the fit on its "
                               "data; the fit resource's loo block (null otherwise)."},
    }


def _horseshoe_options(cfg):
    """The horseshoe priors' fields (used by those priors only; method must be nuts)."""
    d = FIT_DEFAULTS
    return {
        "global_scale": {**RANGES["global_scale"].schema(), "type": ["number", "null"],
                         "default": d["global_scale"],
                         "description": "Horseshoes: tau0, the scale of tau's Half-Cauchy prior; "
                                        "null: from expected_nonzero, else 1."},
        "expected_nonzero": {**RANGES["expected_nonzero"].schema(), "type": ["integer", "null"],
                             "maximum": cfg["MAX_FEATURES"] - 1,
                             "default": d["expected_nonzero"],
                             "description": "Horseshoes: a guess p0 of the non-zero "
                                            "coefficients, at most p - 1; tau0 = p0 / (p - p0) "
                                            "/ sqrt(n). Not with global_scale."},
        "slab_df": {**RANGES["slab_df"].schema(), "default": d["slab_df"],
                    "description": "Regularized horseshoe: the slab's degrees of freedom."},
        "slab_scale": {**RANGES["slab_scale"].schema(), "default": d["slab_scale"],
                       "description": "Regularized horseshoe: the slab's scale (of w / sigma)."},
    }


def _time_limit(cfg):
    return {"type": "number", "exclusiveMinimum": 0,
            "maximum": cfg["FIT_TIME_LIMIT"] or 1e9,  # FIT_TIME_LIMIT = 0: no server limit
            "default": cfg["FIT_TIME_LIMIT"],
            "description": "For queued fits: seconds the fit may run once a worker takes it; "
                           "past it the fit fails with a reason naming the limit "
                           "(at most BAYESREG_FIT_TIME_LIMIT)."}


#: the data of a fit: X and y, or the name of an embedded data set
DATA = {
    "X": MATRIX,
    "y": {"type": "array", "minItems": 1, "items": DATUM},
    "dataset": {"type": "string", "enum": DATASETS,
                "description": "Embedded demo data instead of X and y."},
}


def fit_request(cfg):
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            **DATA,
            **fit_options(cfg),
        },
        "oneOf": [
            {"required": ["X", "y"], "not": {"required": ["dataset"]}},
            {"required": ["dataset"], "not": {"anyOf": [{"required": ["X"]}, {"required": ["y"]}]}},
        ],
    }


def fit_options_request(cfg):
    """The fields of a CSV upload once parsed: a fit request's options, its data aside."""
    return {"type": "object", "additionalProperties": False, "properties": fit_options(cfg)}


def fit_form(cfg):
    """multipart/form-data: a CSV file, the name of its target column, options as text."""
    options = {name: {"type": "string", "description": f"Parsed as {spec['type']}."}
               for name, spec in fit_options(cfg).items() if name != "feature_names"}
    return {
        "type": "object",
        "required": ["file", "target"],
        "properties": {
            "file": {"type": "string", "format": "binary",
                     "description": "CSV with a header row; every column numeric."},
            "target": {"type": "string", "description": "Name of the column to predict."},
            **options,
        },
    }


def predict_request(cfg):
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["X"],
        "properties": {
            "X": MATRIX,
            "hdi_prob": RANGES["hdi_prob"].schema(),
        },
    }


_PARAM = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        **{key: NULLABLE_NUMBER for key in (
            "map", "mean", "sd", "median", "hdi_low", "hdi_high", "r_hat", "ess_bulk",
            "ess_tail", "mcse_mean", "prob_positive")},
        "map_in_hdi": {"type": ["boolean", "null"]},
    },
}

#: PSIS-LOO of one fit: the core's LooResult.to_dict()
LOO = {
    "type": "object",
    "required": ["elpd_loo", "se", "p_loo", "n_obs", "n_draws", "pareto_k_max", "pareto_k_bad",
                 "pareto_k_very_bad", "warning"],
    "description": "PSIS-LOO (ArviZ) on the fit's data: elpd_loo and its standard error, the "
                   "effective number of parameters p_loo, and the Pareto k diagnostics "
                   "(pareto_k_bad: observations with k > 0.7, pareto_k_very_bad: k > 1).",
    "properties": {
        **{key: NULLABLE_NUMBER for key in ("elpd_loo", "se", "p_loo", "pareto_k_max")},
        **{key: {"type": "integer", "minimum": 0} for key in (
            "n_obs", "n_draws", "pareto_k_bad", "pareto_k_very_bad")},
        "warning": {"type": ["string", "null"]}},
}

FIT = {
    "type": "object",
    "required": ["id", "status", "request", "feature_names", "map", "posterior",
                 "diagnostics", "timing", "error", "progress", "created_at", "updated_at"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "status": {"type": "string", "enum": STATUSES},
        "request": {"type": "object",
                    "description": "The options as sent, plus n_samples, n_features and "
                                   "source; the data itself is at /v1/fits/{id}/data."},
        "feature_names": {"type": "array", "items": {"type": "string"}},
        "map": {"type": ["object", "null"], "properties": {
            "coef": {"type": "array", "items": NULLABLE_NUMBER},
            "intercept": NULLABLE_NUMBER,
            "sigma": {**NULLABLE_NUMBER, "description": "The mode of sigma given the MAP "
                                                        "coefficients (the known sigma if given)."}}},
        "posterior": {"type": ["object", "null"], "properties": {
            "coef": {"type": "array", "items": _PARAM},
            "intercept": {"anyOf": [_PARAM, {"type": "null"}]},
            "sigma": {"anyOf": [_PARAM, {"type": "null"}]},
            "alpha": {"anyOf": [_PARAM, {"type": "null"}]},
            "tau": {"anyOf": [_PARAM, {"type": "null"}],
                    "description": "Horseshoes: the global scale (no MAP)."},
            "c": {"anyOf": [_PARAM, {"type": "null"}],
                  "description": "Regularized horseshoe: the slab's scale (no MAP)."}}},
        "diagnostics": {"type": ["object", "null"], "properties": {
            "divergences": {"type": ["integer", "null"]},
            "max_r_hat": NULLABLE_NUMBER,
            "min_ess_bulk": NULLABLE_NUMBER,
            "warnings": {"type": "array", "items": {"type": "string"}}}},
        "timing": {"type": ["object", "null"],
                   "additionalProperties": NULLABLE_NUMBER},
        "loo": {**LOO, "type": ["object", "null"],
                "description": "PSIS-LOO of a fit asked for with \"loo\": true, else null."},
        "error": {"type": ["object", "null"], "properties": {
            "message": {"type": "string"}, "field": {"type": ["string", "null"]}}},
        "progress": {
            "type": "object", "required": ["phase", "draws_done", "draws_total"],
            "description": "Draws done of the total, over all chains and tuning included "
                           "(chains x (tune + draws); 0 for map and exact).",
            "properties": {
                "phase": {"enum": ["queued", "starting", "tuning", "sampling", "done"],
                          "description": "starting: before the first draw (the data, the "
                                         "MAP, the kernel); tuning: while any chain still "
                                         "tunes; done: the fit is in a final state."},
                "draws_done": {"type": "integer", "minimum": 0},
                "draws_total": {"type": "integer", "minimum": 0}}},
        "settings": {"type": "object",
                     "description": "Every setting the fit runs with: the request's value, else "
                                    "the default; once it ran, the values used (the seed drawn "
                                    "for an unseeded fit included)."},
        "cancel_requested": {"type": "boolean",
                             "description": "A DELETE asked this running fit to stop; it ends "
                                            "as cancelled."},
        "worker_pid": {"type": ["integer", "null"],
                       "description": "Process sampling this fit (nuts only)."},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "links": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}

FIT_LIST = {
    "type": "object",
    "required": ["items", "total", "limit", "offset", "next"],
    "properties": {
        "items": {"type": "array", "items": FIT},
        "total": {"type": "integer", "minimum": 0},
        "limit": {"type": "integer", "minimum": 1},
        "offset": {"type": "integer", "minimum": 0},
        "next": {"type": ["string", "null"]},
    },
}

FIT_DATA = {
    "type": "object",
    "required": ["X", "y", "feature_names"],
    "properties": {"X": {"type": "array", "items": {"type": "array", "items": NUMBER}},
                   "y": {"type": "array", "items": NUMBER},
                   "feature_names": {"type": "array", "items": {"type": "string"}}},
}

# The five interval fields of a PredictiveInterval, the same names for every kind of fit.
INTERVAL_FIELDS = ("mean", "mean_low", "mean_high", "obs_low", "obs_high")

#: What every prediction answers, a regression's (Prediction) and MC dropout's
#: (DropoutPrediction): fit_id, posterior (the five interval fields), hdi_prob, and one point
#: prediction, whose name says what it is.
PREDICTION_SHARED = {
    "type": "object",
    "required": ["fit_id", "posterior", "hdi_prob"],
    "description": "The shape every prediction shares: fit_id; posterior, the "
                   "PredictiveInterval (mean, mean_low, mean_high: the HDI of the mean "
                   "function; obs_low, obs_high: the HDI of a new observation), null for a fit "
                   "without a posterior (method map); hdi_prob, their mass; and one point "
                   "prediction, named for what it is: map (the prediction at the posterior "
                   "mode, which only a regression with a mode has), median (a horseshoe "
                   "regression: no finite mode, so map is null and the prediction is at the "
                   "coefficients' posterior medians) or deterministic (MC dropout: the network "
                   "with dropout off, weight-scaled; it has no posterior mode to name).",
    "properties": {
        "fit_id": {"type": "string"},
        "posterior": {"type": ["object", "null"], "required": list(INTERVAL_FIELDS),
                      "properties": {key: {"type": "array", "items": NULLABLE_NUMBER}
                                     for key in INTERVAL_FIELDS}},
        "hdi_prob": NULLABLE_NUMBER,
    },
    "anyOf": [{"required": ["map"], "properties": {"map": {"type": "array"}}},
              {"required": ["median"]}, {"required": ["deterministic"]}],
}

PREDICTION = {
    "allOf": [PREDICTION_SHARED],
    "type": "object",
    "required": ["fit_id", "map", "posterior"],
    "description": "A regression's prediction (the shared shape): map, or for a horseshoe "
                   "prior median with map null.",
    "properties": {
        "fit_id": {"type": "string"},
        "map": {"type": ["array", "null"], "items": NULLABLE_NUMBER,
                "description": "the prediction at the MAP; null for a horseshoe prior (no mode)"},
        "median": {"type": "array", "items": NULLABLE_NUMBER,
                   "description": "a horseshoe prior only: the prediction at the "
                                  "coefficients' posterior medians (coef_)"},
        "posterior": {"type": ["object", "null"], "properties": {
            key: {"type": "array", "items": NULLABLE_NUMBER} for key in INTERVAL_FIELDS}},
        "hdi_prob": NULLABLE_NUMBER,
        "note": {"type": "string"},
    },
}

HEALTH = {
    "type": "object",
    "required": ["status", "version", "queue_depth", "running", "workers_alive", "workers"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded"]},
        "version": {"type": "string"},
        "queue_depth": {"type": "integer"},
        "running": {"type": "integer"},
        "workers_alive": {"type": "integer"},
        "workers": {"type": "array", "items": {"type": "object", "properties": {
            "pid": {"type": "integer"}, "fit_id": {"type": ["string", "null"]},
            "heartbeat_age_s": {"type": "number"}}}},
        "supervisor": {
            "type": ["object", "null"],
            "description": "The process that watches the samplers; a replaced one counts a "
                           "restart and says how its predecessor ended.",
            "properties": {
                "pid": {"type": "integer"}, "alive": {"type": "boolean"},
                "heartbeat_age_s": {"type": "number"},
                "started_at": {"type": "string", "format": "date-time"},
                "restarts": {"type": "integer", "minimum": 0},
                "last_exit": {"type": ["string", "null"]}}},
    },
}

PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "errors"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["field", "message"],
            "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}},
    },
}


# --------------------------------------------------------------------------
# MC dropout (/v1/dropout/fits): the estimator's constructor names and defaults.
# --------------------------------------------------------------------------

def dropout_options(cfg):
    """The fields of an MC-dropout request other than the data, with the estimator's defaults."""
    d = DROPOUT_DEFAULTS
    return {
        "feature_names": fit_options(cfg)["feature_names"],
        "hidden": {"type": "array", "maxItems": cfg["MAX_HIDDEN_LAYERS"], "default": d["hidden"],
                   "items": {"type": "integer", "minimum": 1, "maximum": cfg["MAX_HIDDEN_UNITS"]},
                   "description": "Widths of the hidden ReLU layers; [] for a linear model."},
        "dropout": {**DROPOUT_RANGES["dropout"].schema(), "default": d["dropout"],
                    "description": "Drop probability of the inputs and of every hidden layer."},
        "tau": {**DROPOUT_RANGES["tau"].schema(), "default": d["tau"],
                "description": "Model precision in the units of y (predictive noise 1/tau)."},
        "length_scale": {**DROPOUT_RANGES["length_scale"].schema(), "default": d["length_scale"],
                         "description": "Prior length-scale l of the weight decay "
                                        "l^2 (1 - dropout) / (2 N tau)."},
        "epochs": {**DROPOUT_RANGES["epochs"].schema(), "maximum": cfg["MAX_EPOCHS"],
                   "default": d["epochs"],
                   "description": "Passes over the data; epochs x rows is capped by "
                                  "BAYESREG_MAX_EPOCH_ROWS."},
        "batch_size": {**DROPOUT_RANGES["batch_size"].schema(), "maximum": cfg["MAX_BATCH_SIZE"],
                       "default": d["batch_size"]},
        "learning_rate": {**DROPOUT_RANGES["learning_rate"].schema(), "maximum": 10,
                          "default": d["learning_rate"], "description": "Adam step size."},
        "mc_samples": {**DROPOUT_RANGES["mc_samples"].schema(), "maximum": cfg["MAX_MC_SAMPLES"],
                       "default": d["mc_samples"], "description": "Stochastic passes per prediction."},
        "standardize": {"type": "boolean", "default": d["standardize"]},
        "seed": {**RANGES["seed"].schema(), "type": ["integer", "null"], "default": d["seed"],
                 "description": "Seeds initialization, minibatches and all dropout masks; "
                                "a seeded fit is reproducible bit for bit."},
        "wait": {"type": "boolean", "default": False,
                 "description": "Hold the request until training ends "
                                "(at most BAYESREG_WAIT_TIMEOUT s)."},
        "time_limit": _time_limit(cfg),
    }


def dropout_request(cfg):
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            **DATA,
            **dropout_options(cfg),
        },
        "oneOf": fit_request(cfg)["oneOf"],
    }


# The mass of the deprecated flat fields' central intervals when a request gives no "prob":
# their former default, fixed for the one release they are kept (not the HDIs' HDI_PROB).
FLAT_PROB = 0.95


def dropout_predict_request(cfg):
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["X"],
        "properties": {
            "X": MATRIX,
            "hdi_prob": {**RANGES["hdi_prob"].schema(), "default": HDI_PROB,
                         "description": "Mass of the highest-density intervals in posterior, "
                                        "as for /v1/fits/{id}/predict."},
            "prob": {**RANGES["hdi_prob"].schema(), "default": FLAT_PROB, "deprecated": True,
                     "description": "Deprecated: the mass of the central (equal-tailed) "
                                    "intervals of the deprecated flat fields (their former "
                                    "meaning). It does not change posterior."},
        },
    }


DROPOUT_FIT = {
    "type": "object",
    "required": ["id", "kind", "status", "request", "feature_names", "progress", "result",
                 "timing", "error", "created_at", "updated_at"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "kind": {"type": "string", "enum": ["mc_dropout"]},
        "status": {"type": "string", "enum": STATUSES},
        "request": {"type": "object",
                    "description": "The options as sent, plus n_samples, n_features and "
                                   "source; the data itself is at /v1/dropout/fits/{id}/data."},
        "feature_names": {"type": "array", "items": {"type": "string"}},
        "progress": {"type": "object", "required": ["epochs_done", "epochs_total"], "properties": {
            "epochs_done": {"type": "integer", "minimum": 0},
            "epochs_total": {"type": "integer", "minimum": 0}}},
        "cancel_requested": {"type": "boolean",
                             "description": "A DELETE asked this running fit to stop; it ends "
                                            "as cancelled."},
        "result": {"type": ["object", "null"], "properties": {
            **{key: NULLABLE_NUMBER for key in (
                "train_rmse", "log_likelihood_train", "final_loss", "tau", "dropout",
                "weight_decay")},
            **{key: {"type": "integer"} for key in (
                "n_features", "n_samples", "epochs", "mc_samples")},
            "hidden": {"type": "array", "items": {"type": "integer"}}}},
        "timing": {"type": ["object", "null"], "properties": {
            "train_s": NUMBER, "evaluate_s": NUMBER}},
        "error": {"type": ["object", "null"], "properties": {
            "message": {"type": "string"}, "field": {"type": ["string", "null"]}}},
        "worker_pid": {"type": ["integer", "null"]},
        "created_at": {"type": "string"},
        "updated_at": {"type": "string"},
        "links": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}

DROPOUT_FIT_LIST = dict(FIT_LIST, properties=dict(FIT_LIST["properties"],
                                                  items={"type": "array", "items": DROPOUT_FIT}))

_FLAT = {"description": "Deprecated: the former flat shape, kept for one release; read "
                        "posterior.", "deprecated": True}

DROPOUT_PREDICTION = {
    "allOf": [PREDICTION_SHARED],
    "type": "object",
    "required": ["fit_id", "posterior", "hdi_prob", "deterministic", "mc_samples", "mean", "sd",
                 "mean_low", "mean_high", "obs_low", "obs_high", "lower", "upper", "prob"],
    "description": "The shape of Prediction (POST /v1/fits/{id}/predict): posterior holds "
                   "mean, mean_low, mean_high (the HDI of the T passes: the network's mean "
                   "function), obs_low, obs_high (the HDI of the predictive mixture: a new "
                   "observation), and sd; hdi_prob is their mass; deterministic (the "
                   "weight-scaled network) stands where a regression has map. Changed: the "
                   "intervals were central (equal-tailed) before and are HDIs now, in "
                   "posterior. The flat fields mean, sd, mean_low, mean_high, obs_low, "
                   "obs_high, lower and upper (obs_low and obs_high under their older names) "
                   "and prob (their mass, the request's prob, default 0.95) are the former "
                   "shape with its former meaning, central intervals, whatever the request "
                   "sends; kept for one release: deprecated.",
    "properties": {
        "fit_id": {"type": "string"},
        "posterior": {"type": "object", "properties": {
            key: {"type": "array", "items": NULLABLE_NUMBER}
            for key in ("mean", "sd", "mean_low", "mean_high", "obs_low", "obs_high")}},
        "hdi_prob": NUMBER,
        "deterministic": {"type": "array", "items": NULLABLE_NUMBER},
        "mc_samples": {"type": "integer"},
        **{key: {"type": "array", "items": NULLABLE_NUMBER, **_FLAT}
           for key in ("mean", "sd", "mean_low", "mean_high", "obs_low", "obs_high", "lower",
                       "upper")},
        "prob": {**NUMBER, **_FLAT},
    },
}


# --------------------------------------------------------------------------
# The regularization path (/v1/paths): bayesreg.regularization_path's names and defaults.
# --------------------------------------------------------------------------

def _path_defaults():
    """What a path runs with when the request does not say: ``regularization_path``'s own
    defaults, and the estimator's for the options it passes on."""
    import inspect

    from bayesreg import regularization_path

    params = inspect.signature(regularization_path).parameters
    names = ("prior", "l1_ratio", "alphas", "n_alphas", "alpha_min_ratio", "method", "draws",
             "tune", "chains", "hdi_prob", "seed")
    return {**{name: params[name].default for name in names},
            **{name: FIT_DEFAULTS[name] for name in ("sigma", "fit_intercept", "standardize")}}


PATH_DEFAULTS = _path_defaults()
#: the priors with a penalty to vary along a path (the core's list)
PATH_PRIORS = sorted(_CORE_PATH_PRIORS)


def path_options(cfg):
    """The fields of a path request other than the data (the CSV form accepts the same)."""
    fit, d = fit_options(cfg), PATH_DEFAULTS
    alpha = {key: fit["alpha"][key] for key in ("maximum", "x-reason")}
    most = cfg["MAX_PATH_ALPHAS"]
    return {
        **{name: fit[name] for name in ("feature_names", "sigma", "fit_intercept", "standardize",
                                        "time_limit")},
        **{name: {**fit[name], "default": d[name]} for name in (
            "l1_ratio", "draws", "tune", "chains", "hdi_prob", "seed")},
        "prior": {"type": "string", "enum": PATH_PRIORS, "default": d["prior"]},
        "method": {"type": "string", "enum": METHODS, "default": d["method"],
                   "description": "nuts: the posterior and PSIS-LOO at every alpha; exact: the "
                                  "same for ridge, in closed form; map: the MAP path only. "
                                  "Every path runs in the worker pool (202)."},
        "alphas": {"type": ["array", "null"], "minItems": 1, "maxItems": most,
                   "items": {"type": "number", "minimum": 0, **alpha},
                   "default": d["alphas"],
                   "description": f"The penalties of the path (sorted descending); null: "
                                  f"n_alphas log-spaced from alpha_max, the smallest alpha that "
                                  f"zeroes every coefficient, down to alpha_min_ratio x "
                                  f"alpha_max, as glmnet. At most {most} "
                                  f"(BAYESREG_MAX_PATH_ALPHAS)."},
        "n_alphas": {"type": "integer", "minimum": 1, "maximum": most, "default": d["n_alphas"],
                     "description": "Alphas of the default grid (when alphas is null)."},
        "alpha_min_ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1,
                            "default": d["alpha_min_ratio"],
                            "description": "Smallest alpha of the default grid over alpha_max."},
        "wait": {"type": "boolean", "default": False,
                 "description": "Hold the request until the path ends "
                                "(at most BAYESREG_WAIT_TIMEOUT s)."},
    }


def path_request(cfg):
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {**DATA, **path_options(cfg)},
        "oneOf": fit_request(cfg)["oneOf"],
    }


def path_options_request(cfg):
    """The fields of a path's CSV upload once parsed: the options, its data aside."""
    return {"type": "object", "additionalProperties": False, "properties": path_options(cfg)}


def path_form(cfg):
    """multipart/form-data of a path: the CSV, its target column, the options as text."""
    form = fit_form(cfg)
    options = {name: {"type": "string", "description": f"Parsed as {spec['type']}."}
               for name, spec in path_options(cfg).items() if name != "feature_names"}
    options["alphas"]["description"] = "Comma-separated numbers, e.g. 1,0.1,0.01."
    return {**form, "properties": {**{k: form["properties"][k] for k in ("file", "target")},
                                   **options}}


_PATH_ROW = {
    "type": "object",
    "properties": {
        "alpha": NUMBER, "feature": {"type": "string"},
        **{key: NULLABLE_NUMBER for key in (
            "map", "mean", "sd", "median", "hdi_low", "hdi_high", "r_hat", "ess_bulk")}},
}

PATH = {
    "type": "object",
    "required": ["id", "kind", "status", "request", "settings", "feature_names", "progress",
                 "result", "error", "created_at", "updated_at"],
    "properties": {
        # what every job's resource says alike, as a fit's
        **{key: FIT["properties"][key] for key in (
            "id", "status", "feature_names", "cancel_requested", "timing", "error",
            "created_at", "updated_at", "links")},
        "kind": {"type": "string", "enum": ["path"]},
        "worker_pid": {"type": ["integer", "null"], "description": "Process running this path."},
        "request": {"type": "object",
                    "description": "The options as sent, plus n_samples, n_features and "
                                   "source; the data itself is at /v1/paths/{id}/data."},
        "settings": {"type": "object",
                     "description": "Every setting of the path: the request's value, else the "
                                    "default; once it ran, the values used."},
        "progress": {"type": "object", "required": ["fits_done", "fits_total"], "properties": {
            "fits_done": {"type": "integer", "minimum": 0},
            "fits_total": {"type": "integer", "minimum": 0}},
            "description": "Fits done of the path's alphas (one fit per alpha)."},
        "result": {"type": ["object", "null"],
                   "description": "The core's RegularizationPath.to_dict(): alphas (descending), "
                                  "coef_map (one row per alpha), summary (one record per alpha "
                                  "and feature), elpd_loo and elpd_loo_se per alpha (null for "
                                  "method map), loo per alpha, best_alpha (largest elpd_loo), "
                                  "alpha_1se (the largest alpha within one se of it), "
                                  "diagnostics per alpha.",
                   "properties": {
                       "alphas": {"type": "array", "items": NUMBER},
                       "feature_names": {"type": "array", "items": {"type": "string"}},
                       "coef_map": {"type": "array", "items": {"type": "array",
                                                               "items": NULLABLE_NUMBER}},
                       "summary": {"type": "array", "items": _PATH_ROW},
                       "elpd_loo": {"type": ["array", "null"], "items": NULLABLE_NUMBER},
                       "elpd_loo_se": {"type": ["array", "null"], "items": NULLABLE_NUMBER},
                       "loo": {"type": ["array", "null"],
                               "items": {**LOO, "type": ["object", "null"]}},
                       "best_alpha": NULLABLE_NUMBER, "alpha_1se": NULLABLE_NUMBER,
                       "hdi_prob": NUMBER}},
    },
}

PATH_LIST = dict(FIT_LIST, properties=dict(FIT_LIST["properties"],
                                           items={"type": "array", "items": PATH}))
