"""The service as a thin adapter over the core: a refusal of the core keeps nothing; routes
declared by the module that owns the resource; the OpenAPI document built from a route table.
(The core's names, defaults and ranges in the schemas: test_schemas.py; the translation of
its refusals: test_errors.py and test_jobs.py.)"""

import os
import uuid

from service import fits, openapi


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
    # a component may also be used by others: PredictionShared, the part both predictions share
    shared = {part["$ref"].rsplit("/", 1)[-1] for spec in doc["components"]["schemas"].values()
              for part in spec.get("allOf", ()) if "$ref" in part}
    assert shared == {"PredictionShared"} and not shared & refs
    assert refs | shared == set(doc["components"]["schemas"]) == set(openapi.COMPONENTS)
