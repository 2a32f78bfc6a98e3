"""The service as a thin adapter over the core: the core's names, defaults and refusals,
translated in one place each; routes declared by the module that owns the resource; the
OpenAPI document built from a route table."""

import os
import uuid

import pytest

from bayesreg import BayesianRegression, MCDropoutRegressor
from bayesreg.estimator import METHODS
from bayesreg.estimator import PRIOR_NAMES as PRIORS
from bayesreg.validation import RANGES, InputError
from service import collection, create_app, fits, jobs, openapi, schemas


@pytest.fixture()
def bare(tmp_path):
    """An app of its own (no pool), so a test may add a route."""
    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "START_POOL": False})


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
    assert schemas.PRIORS == sorted(PRIORS) and schemas.METHODS == sorted(METHODS)
    for options, est in ((schemas.fit_options(app.config), BayesianRegression()),
                         (schemas.dropout_options(app.config), MCDropoutRegressor())):
        params = est.get_params()
        shared = {name for name in options if name in params}
        assert len(shared) >= 9
        for name in shared:
            default = params[name]
            assert options[name]["default"] == (list(default) if isinstance(default, tuple)
                                                else default), name


def test_seed_reaches_the_core_as_seed_and_aliases_come_back_as_seed():
    assert jobs.api_name("random_seed") == jobs.api_name("random_state") == "seed"
    assert jobs.api_name("alpha") == "alpha"
    for est in (jobs.estimator({"seed": 7, "alpha": 0.3}),
                jobs.dropout_estimator({"seed": 7, "hidden": [4]})):
        params = est.get_params()
        # the API's seed is the constructor's seed; the deprecated aliases stay unset
        assert params["seed"] == 7
        assert params.get("random_seed") is None and params.get("random_state") is None
    # the core's own refusal of a deprecated alias is reported under the API's name
    with pytest.warns(FutureWarning), pytest.raises(InputError) as exc:
        BayesianRegression(seed=1, random_seed=2).fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    assert exc.value.field == "random_seed"
    assert jobs.error_of(exc.value)["field"] == "seed"
    with pytest.warns(FutureWarning), pytest.raises(InputError) as exc:
        MCDropoutRegressor(random_state=-1, epochs=1).fit([[0.0], [1.0]], [0.0, 1.0])
    assert exc.value.field == "random_state" and jobs.error_of(exc.value)["field"] == "seed"


def test_an_input_error_of_the_core_is_a_422_under_the_api_name(bare):
    @bare.get("/refused")
    def refused():
        raise InputError("random_seed", "must be an integer; got 'x'")

    resp = bare.test_client().get("/refused")
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"
    doc = resp.get_json()
    assert doc["errors"] == [{"field": "seed", "message": "must be an integer; got 'x'"}]
    assert doc["detail"] == "seed: must be an integer; got 'x'" and doc["status"] == 422


def test_a_fit_the_core_refuses_is_a_422_that_keeps_nothing(bare):
    store = bare.extensions["bayesreg.store"]
    fits_dir = os.path.dirname(store.fit_dir(str(uuid.uuid4())))
    resp = bare.test_client().post("/v1/fits", json={
        "X": [[1.0, 2.0], [3.0, 5.0], [4.0, 1.0], [2.0, 2.0]], "y": [1.0, 2.0, 3.0, 1.5],
        "method": "exact", "prior": "lasso"})
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert [e["field"] for e in resp.get_json()["errors"]] == ["method"]
    assert not os.path.isdir(fits_dir) or os.listdir(fits_dir) == []
    assert store.page(10, 0, None)[1] == 0


def test_the_fit_routes_are_the_views_of_fits_py(app):
    for name in ("index", "show", "delete", "data", "create", "predict", "posterior", "plot"):
        assert app.view_functions[f"fits.{name}"] is getattr(fits, name), name


def test_the_demo_data_is_read_once_and_shared_read_only():
    X, y, names = collection.dataset("diabetes")
    assert collection.dataset("diabetes")[0] is X and X.shape == (442, len(names))
    with pytest.raises(ValueError):
        X[0, 0] = 1.0


def test_the_openapi_paths_are_the_route_table(app):
    doc = openapi.document(app.config, "test")
    ops = [(path, method, op["operationId"]) for path, item in doc["paths"].items()
           for method, op in item.items() if method != "parameters"]
    assert ops == [(r.path, r.method, r.operation) for r in openapi.ROUTES]
    assert len({r.operation for r in openapi.ROUTES}) == len(openapi.ROUTES)
    refs = {media["schema"]["$ref"].rsplit("/", 1)[-1]
            for item in doc["paths"].values() for method, op in item.items()
            if method != "parameters" for part in (op.get("requestBody", {}), *op["responses"].values())
            for media in part.get("content", {}).values() if "$ref" in media["schema"]}
    assert refs == set(doc["components"]["schemas"]) == set(openapi.COMPONENTS)
