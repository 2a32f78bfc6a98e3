"""service.schemas: every schema is valid JSON Schema (jsonschema's own meta-schema), and what
it publishes (priors, methods, defaults, ranges, bounds, the name pattern) is the core's, checked
against the core's objects, jsonschema and unicodedata."""

import unicodedata

import pytest
from jsonschema import Draft202012Validator

from bayesreg import BayesianRegression, MCDropoutRegressor
from bayesreg.estimator import METHODS
from bayesreg.estimator import PRIOR_NAMES as PRIORS
from bayesreg.validation import RANGES, InputError, check_names, check_Xy
from service import schemas


@pytest.mark.parametrize("name, inside, outside", [("l1_ratio", 1, 1.001), ("hdi_prob", 0.999, 1),
                                                    ("seed", 2**32 - 1, 2**32)])
def test_numeric_ranges_are_the_cores(client, name, inside, outside):
    """The schema's bound is the core's: the core and the API accept and refuse alike."""
    keys = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
    published = schemas.fit_options(client.application.config)[name]
    assert {k: published.get(k) for k in keys} == {k: RANGES[name].schema().get(k) for k in keys}
    RANGES[name].check(name, inside)
    with pytest.raises(InputError):
        RANGES[name].check(name, outside)
    body = {"dataset": "diabetes", "method": "map", name: outside}
    reply = client.post("/v1/fits", json=body)
    assert reply.status_code == 422 and reply.get_json()["errors"][0]["field"] == name
    assert client.post("/v1/fits", json={**body, name: inside}).status_code == 201


@pytest.mark.parametrize("name, inside, outside, cap", [
    ("draws", 4, 3, "MAX_DRAWS"), ("tune", 1, 0, "MAX_TUNE"), ("chains", 1, 0, "MAX_CHAINS")])
def test_sampling_bounds_are_the_cores_with_the_services_caps(client, name, inside, outside,
                                                              cap):
    """Lower bounds from RANGES (the core refuses what HTTP refuses, for the same reason),
    upper bounds the service's caps: checked by behaviour, not by reading the schema."""
    cfg = client.application.config
    check = Draft202012Validator(schemas.fit_options(cfg)[name]).is_valid
    assert check(inside) and check(cfg[cap]) and not check(outside) and not check(cfg[cap] + 1)
    RANGES[name].check(name, inside)
    with pytest.raises(InputError) as err:
        BayesianRegression(**{name: outside}).check_params()
    assert err.value.field == name
    reply = client.post("/v1/fits", json={"dataset": "diabetes", "method": "nuts", name: outside})
    assert reply.status_code == 422
    (error,) = reply.get_json()["errors"]
    assert error["field"] == name and f"got {outside}" in error["message"]
    # the same reason after the range, in Python and over HTTP (draws: ArviZ's 4 draws)
    assert err.value.message.split(f"got {outside}")[1] == error["message"].split(
        f"got {outside}")[1]


def test_two_draws_are_refused_by_the_core_as_over_http(client):
    with pytest.raises(InputError, match=r"draws: must be in the range \[4, inf\]; got 2: "
                                         r"rank-normalized split r_hat and ESS \(ArviZ\) need "
                                         r"at least 4 draws per chain"):
        BayesianRegression(draws=2).check_params()
    reply = client.post("/v1/fits", json={"dataset": "diabetes", "method": "nuts", "draws": 2})
    assert reply.get_json()["errors"][0]["message"].endswith(
        "got 2: rank-normalized split r_hat and ESS (ArviZ) need at least 4 draws per chain, "
        "and HDIs from fewer mean nothing")


def test_dropout_ranges_are_the_cores(client):
    """The dropout schema's lower bounds are MCDropoutRegressor's own (the service only adds
    caps above), and a value the core refuses is a 422 naming the field."""
    from bayesreg.dropout.regressor import RANGES as DROPOUT_RANGES

    published = schemas.dropout_options(client.application.config)
    for name, rule in DROPOUT_RANGES.items():
        if name not in published:  # weight_decay, learning_rate_decay: not offered over HTTP
            continue
        core = rule.schema()
        for key in ("minimum", "exclusiveMinimum", "exclusiveMaximum"):
            assert published[name].get(key) == core.get(key), (name, key)
        if "maximum" in core:
            assert published[name]["maximum"] == core["maximum"], name
    with pytest.raises(InputError) as err:
        MCDropoutRegressor(tau=0.0).check_params()
    assert err.value.field == "tau"
    reply = client.post("/v1/dropout/fits", json={"dataset": "diabetes", "tau": 0.0})
    assert reply.status_code == 422 and reply.get_json()["errors"][0]["field"] == "tau"


def test_priors_methods_and_defaults_are_the_cores(app):
    # against literals: the names a user writes (a new prior or method is a deliberate edit)
    assert schemas.PRIORS == ["elastic_net", "horseshoe", "lasso", "regularized_horseshoe",
                              "ridge"] == sorted(PRIORS)
    assert schemas.METHODS == ["exact", "map", "nuts"] == sorted(METHODS)
    for options, est in ((schemas.fit_options(app.config), BayesianRegression()),
                         (schemas.dropout_options(app.config), MCDropoutRegressor())):
        params = est.get_params()
        shared = {name for name in options if name in params}
        assert len(shared) >= 9
        for name in shared:
            default = params[name]
            assert options[name]["default"] == (list(default) if isinstance(default, tuple)
                                                else default), name


def _all_schemas(cfg):
    made = {name: getattr(schemas, name)(cfg) for name in (
        "fit_options", "fit_request", "fit_options_request", "fit_form", "predict_request",
        "dropout_options", "dropout_request", "dropout_predict_request")}
    fixed = {name: getattr(schemas, name) for name in (
        "DATA", "DATUM", "FIT", "FIT_LIST", "FIT_DATA", "PREDICTION", "HEALTH", "PROBLEM",
        "DROPOUT_FIT", "DROPOUT_FIT_LIST", "DROPOUT_PREDICTION")}
    return {**made, **fixed}


def test_every_schema_is_valid_json_schema(app):
    found = _all_schemas(app.config)
    for name, schema in found.items():
        if name in ("fit_options", "dropout_options"):   # property maps, not schemas
            for field, spec in schema.items():
                Draft202012Validator.check_schema(spec)
            continue
        Draft202012Validator.check_schema(schema)
    assert set(schemas.__all__) >= {n.upper() for n in found if n.isupper()}


def test_a_fit_request_is_data_or_a_dataset_not_both(app):
    """The request schema alone, through jsonschema: X goes with y, or a dataset is named."""
    check = Draft202012Validator(schemas.fit_request(app.config)).is_valid
    assert check({"X": [[1.0, 2.0]], "y": [1.0]})
    assert check({"dataset": "diabetes", "prior": "lasso", "alpha": 0.1})
    assert not check({"X": [[1.0, 2.0]]})
    assert not check({"dataset": "diabetes", "X": [[1.0]], "y": [1.0]})
    assert not check({"dataset": "iris"})
    assert not check({"dataset": "diabetes", "method": "vi"})
    assert not check({"dataset": "diabetes", "surprise": 1})


def test_data_cells_are_bounded_by_the_cores_bound_with_its_reason(client):
    # by behaviour: the schema and the core accept and refuse the same cells, at 1e100
    check = Draft202012Validator(schemas.DATUM).is_valid
    for value in (1e100, -1e100, 1e100 * 1.0000001, -1e101, float("inf")):
        try:
            check_Xy([[value]], [0.0])
            core = True
        except InputError:
            core = False
        assert check(value) is core is (abs(value) <= 1e100), value
    # and a refusal over HTTP says why, as the core does
    reply = client.post("/v1/fits", json={"X": [[1.0], [1e101]], "y": [0.0, 1.0]})
    assert reply.status_code == 422
    assert reply.get_json()["errors"][0]["message"].endswith(
        "overflow X'X and y'y in float64; rescale the data")


def test_the_dropout_predict_request_names_the_mass_as_regression_does(app):
    """hdi_prob, with regression's range; prob, deprecated: the mass of the flat fields only."""
    spec = schemas.dropout_predict_request(app.config)["properties"]
    keys = ("exclusiveMinimum", "exclusiveMaximum", "type")
    assert {k: spec["hdi_prob"][k] for k in keys} == {k: RANGES["hdi_prob"].schema()[k]
                                                      for k in keys}
    assert spec["prob"]["deprecated"] is True
    shared = set(schemas.PREDICTION["properties"]) & set(schemas.DROPOUT_PREDICTION["properties"])
    assert shared == {"fit_id", "posterior", "hdi_prob"}
    interval = schemas.PREDICTION["properties"]["posterior"]["properties"]
    assert set(interval) < set(schemas.DROPOUT_PREDICTION["properties"]["posterior"]["properties"])


def test_the_name_pattern_refuses_exactly_the_control_characters():
    """The schema's pattern and the core's check refuse the same characters: Unicode's Cc."""
    check = Draft202012Validator({"type": "string", "pattern": schemas.NAME_PATTERN}).is_valid
    for code in list(range(0x300)) + [0x2028, 0xFEFF, 0x1F600]:
        ch = chr(code)
        control = unicodedata.category(ch) == "Cc"
        assert check(f"a{ch}b") is not control, hex(code)
        if control:
            with pytest.raises(InputError):
                check_names([f"a{ch}b"], controls=True)
        else:
            check_names([f"a{ch}b"], controls=True)
