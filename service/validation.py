"""The boundary: turn a request into checked Python values or a 4xx Problem.

Schema checks come from ``schemas`` (via jsonschema); what a schema cannot
say (rectangular X, finite numbers, matching lengths, size caps) is checked
here, once, with messages naming the field, what is allowed and what came.
"""

import functools
import io
import json
import math
import re

import numpy as np
from jsonschema import Draft202012Validator

from .errors import Problem, invalid

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _json_depth(raw: bytes) -> int:
    """Deepest bracket nesting of a JSON text, without recursing (strings removed)."""
    bare = np.frombuffer(_STRING.sub(b"", raw), dtype=np.uint8)
    step = (np.isin(bare, (ord("["), ord("{"))).astype(np.int32)
            - np.isin(bare, (ord("]"), ord("}"))).astype(np.int32))
    return int(step.cumsum().max()) if step.size else 0


def parse_json(request, max_depth):
    if request.mimetype != "application/json":
        got = request.mimetype or "none"
        raise Problem(415, f"Content-Type must be application/json; got {got}",
                      [{"field": "Content-Type", "message": f"must be application/json; got {got}"}])
    raw = request.get_data(cache=False)
    depth = _json_depth(raw)
    if depth > max_depth:
        msg = f"JSON nests {depth} levels deep; at most {max_depth} allowed"
        raise invalid("body", msg, status=400)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise invalid("body", f"malformed JSON: {exc}", status=400) from None


def _field(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _show(value) -> str:
    text = json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_TYPE_NAMES = {"number": "a number", "integer": "an integer", "boolean": "a boolean (true/false)",
               "string": "a string", "array": "an array", "object": "an object", "null": "null"}


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def _message(error, instance_root):
    v, lim, value = error.validator, error.validator_value, error.instance
    path = list(error.absolute_path)
    if v == "type":
        wanted = lim if isinstance(lim, list) else [lim]
        names = " or ".join(_TYPE_NAMES.get(t, t) for t in wanted)
        return _field(path), f"must be {names}; got {_json_type(value)} {_show(value)}"
    if v == "enum":
        return _field(path), f"must be one of {', '.join(map(str, lim))}; got {_show(value)}"
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        op = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[v]
        schema = error.schema
        lo = schema.get("minimum", schema.get("exclusiveMinimum"))
        hi = schema.get("maximum", schema.get("exclusiveMaximum"))
        span = ""
        if lo is not None and hi is not None:
            left = "[" if "minimum" in schema else "("
            right = "]" if "maximum" in schema else ")"
            span = f" (allowed range {left}{lo}, {hi}{right})"
        return _field(path), f"must be {op} {lim}{span}; got {_show(value)}"
    if v == "required":
        missing = [k for k in lim if k not in value]
        return _field(path + missing[:1]), "is required"
    if v == "additionalProperties":
        extra = sorted(set(value) - set(error.schema.get("properties", {})))
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        return _field(path + extra[:1]), f"is not a known field; allowed: {allowed}"
    if v in ("minItems", "maxItems"):
        op = "at least" if v == "minItems" else "at most"
        return _field(path), f"must have {op} {lim} items; got {len(value)}"
    if v in ("minLength", "maxLength"):
        op = "at least" if v == "minLength" else "at most"
        return _field(path), f"must have {op} {lim} characters; got {len(value)}"
    if v == "oneOf" and not path and isinstance(value, dict):
        if "dataset" in value and ("X" in value or "y" in value):
            return "dataset", "give either dataset or X and y, not both"
        if "X" in value:
            return "y", "is required with X"
        if "y" in value:
            return "X", "is required with y"
        return "X", "is required (with y), or give dataset"
    return _field(path), error.message


@functools.lru_cache(maxsize=32)
def _validator(schema_json: str):
    return Draft202012Validator(json.loads(schema_json))


_PLAIN_ARRAY = {"type", "items", "minItems", "maxItems", "description"}


def _numbers(values, spec):
    """Whether ``values`` satisfies an array-of-numbers schema (booleans are not numbers)."""
    return (type(values) is list and set(spec) <= _PLAIN_ARRAY
            and set(spec["items"]) <= {"type", "description"} and spec["items"]["type"] == "number"
            and spec.get("minItems", 0) <= len(values) <= spec.get("maxItems", math.inf)
            and all(type(v) is float or type(v) is int for v in values))


def _stand_in(instance, schema):
    """The instance with big, valid numeric arrays cut to one element.

    jsonschema walks every number of X in Python (tens of ms for a few
    thousand); a type scan decides the same thing in well under a millisecond.
    Only arrays the scan proves valid are cut, so the verdict is unchanged and
    invalid input still gets jsonschema's exact error paths.
    """
    if type(instance) is not dict:
        return instance
    out = instance
    for name, spec in schema.get("properties", {}).items():
        value = instance.get(name)
        if type(value) is not list or len(value) < 32 or spec.get("type") != "array":
            continue
        rows = spec.get("items", {})
        if rows.get("type") == "number":
            ok = _numbers(value, spec)
        else:
            ok = (rows.get("type") == "array" and set(spec) <= _PLAIN_ARRAY
                  and spec.get("minItems", 0) <= len(value) <= spec.get("maxItems", math.inf)
                  and all(_numbers(row, rows) for row in value))
        if ok:
            out = dict(out) if out is instance else out
            out[name] = value[:1]
    return out


def _types(schema):
    kind = schema.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


def _as_integers(schema, instance):
    """JSON has one number type, so JSON Schema counts 2.0 as an integer; make it the int 2
    (for top-level fields and arrays of integers) so the core never sees a float draw count."""
    if not isinstance(instance, dict):
        return
    for key, sub in schema.get("properties", {}).items():
        value = instance.get(key)
        if isinstance(value, float) and "integer" in _types(sub) and value.is_integer():
            instance[key] = int(value)
        elif isinstance(value, list) and "integer" in _types(sub.get("items", {})):
            instance[key] = [int(v) if isinstance(v, float) and v.is_integer() else v
                             for v in value]


def check(schema, instance):
    """Validate against a JSON Schema; raise a 422 listing every violation."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    if validator.is_valid(_stand_in(instance, schema)):
        _as_integers(schema, instance)
        return
    errors = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
        field, message = _message(error, instance)
        errors.append({"field": field, "message": message})
        if len(errors) >= 20:
            break
    raise Problem(422, "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors)


def _finite_matrix(rows, field):
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise invalid(f"{field}[{i}]", f"must have {width} values like row 0 "
                                           f"({field} must be rectangular); got {len(row)}")
    try:
        X = np.asarray(rows, dtype=float)
    except OverflowError:
        raise invalid(field, "holds an integer outside the floating-point range") from None
    bad = np.argwhere(~np.isfinite(X))
    if bad.size:
        i, j = map(int, bad[0])
        raise invalid(f"{field}[{i}][{j}]", f"must be a finite number; got {float(X[i, j])!r}")
    return X


def _finite_vector(values, field):
    try:
        v = np.asarray(values, dtype=float)
    except OverflowError:
        raise invalid(field, "holds a number outside the floating-point range") from None
    bad = np.flatnonzero(~np.isfinite(v))
    if bad.size:
        i = int(bad[0])
        raise invalid(f"{field}[{i}]", f"must be a finite number; got {float(v[i])!r}")
    return v


def _finite_scalars(body, names):
    for name in names:
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 1e300:
            raise invalid(name, f"must be a finite number of sane size; got {_show(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            raise invalid(name, f"must be a finite number; got {value!r}")


def check_fit(body, cfg):
    """Semantic checks of a schema-valid fit request; returns (X, y) arrays or (None, None)."""
    _finite_scalars(body, ("alpha", "l1_ratio", "sigma", "hdi_prob"))
    if body.get("learn_alpha") and body.get("alpha") == 0:
        # Caught here so a nuts request fails at the door, not later in a worker.
        raise invalid("alpha", "with learn_alpha, alpha is the scale of its prior and must be > 0; "
                               "got 0")
    draws, chains = body.get("draws", 1000), body.get("chains", 4)
    if body.get("method", "nuts") == "nuts" and draws * chains > cfg["MAX_DRAWS_TOTAL"]:
        raise invalid("draws", f"draws x chains must be <= {cfg['MAX_DRAWS_TOTAL']} "
                               f"(BAYESREG_MAX_DRAWS_TOTAL); got {draws} x {chains} = {draws * chains}")
    return check_data(body, cfg)


def check_data(body, cfg):
    """X, y and feature_names of a schema-valid body: arrays, or (None, None) for a dataset."""
    if "X" not in body:
        return None, None
    X = body["X"]
    n, p = len(X), len(X[0])
    if p > cfg["MAX_FEATURES"]:
        raise invalid("X", f"must have at most {cfg['MAX_FEATURES']} columns "
                           f"(BAYESREG_MAX_FEATURES); got {p}")
    if n * p > cfg["MAX_CELLS"]:
        raise invalid("X", f"n x p must be <= {cfg['MAX_CELLS']} (BAYESREG_MAX_CELLS); "
                           f"got {n} x {p} = {n * p}", status=413)
    X = _finite_matrix(X, "X")
    y = _finite_vector(body["y"], "y")
    if len(y) != n:
        raise invalid("y", f"must have one value per row of X ({n}); got {len(y)}")
    check_names(body.get("feature_names"), p)
    return X, y


def check_names(names, p):
    """User-given feature names: one per column, all different."""
    if names is not None:
        if len(names) != p:
            raise invalid("feature_names", f"must have one name per column of X ({p}); got {len(names)}")
        if len(set(names)) != len(names):
            raise invalid("feature_names", "must be unique")


def check_dropout_fit(body, cfg, n_rows):
    """Semantic checks of a schema-valid MC-dropout request, once the row count is known."""
    _finite_scalars(body, ("dropout", "tau", "length_scale", "learning_rate"))
    epochs = body.get("epochs", 400)
    if epochs * n_rows > cfg["MAX_EPOCH_ROWS"]:
        raise invalid("epochs", f"epochs x rows of X must be <= {cfg['MAX_EPOCH_ROWS']} "
                                f"(BAYESREG_MAX_EPOCH_ROWS); got {epochs} x {n_rows} = "
                                f"{epochs * n_rows}")


def check_dropout_predict(body, p, mc_samples, cfg):
    X = check_predict(body, p)
    passes = X.shape[0] * mc_samples
    if passes > cfg["MAX_PREDICT_PASSES"]:
        raise invalid("X", f"rows of X x mc_samples of the fit must be <= "
                           f"{cfg['MAX_PREDICT_PASSES']} (BAYESREG_MAX_PREDICT_PASSES); got "
                           f"{X.shape[0]} x {mc_samples} = {passes}", status=413)
    _finite_scalars(body, ("prob",))
    return X


def check_predict(body, p):
    X = _finite_matrix(body["X"], "X")
    if X.shape[1] != p:
        raise invalid("X", f"rows must have {p} values, one per feature of the fit; got {X.shape[1]}")
    _finite_scalars(body, ("hdi_prob",))
    return X


def _coerce(name, text, spec):
    """A form field is text; read it strictly as the schema's type, never guess."""
    kinds = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
    if "null" in kinds and text in ("", "null"):
        return None
    if "boolean" in kinds:
        if text in ("true", "false"):
            return text == "true"
        raise invalid(name, f"must be true or false; got {_show(text)}")
    if "integer" in kinds:
        if _INT.fullmatch(text.strip()):
            return int(text)
        raise invalid(name, f"must be an integer; got {_show(text)}")
    if "number" in kinds:
        if _FLOAT.fullmatch(text.strip()):
            return float(text)
        raise invalid(name, f"must be a finite number; got {_show(text)}")
    return text


def parse_form(request, options):
    """A CSV upload: returns a body dict shaped like the JSON request."""
    import pandas as pd

    upload = request.files.get("file")
    if upload is None:
        raise invalid("file", "is required: a CSV file with a header row")
    form = request.form
    if "target" not in form:
        raise invalid("target", "is required: the name of the column to predict")
    body = {}
    for name, text in form.items():
        if name == "target":
            continue
        if name not in options or name == "feature_names":
            allowed = ", ".join(sorted(set(options) - {"feature_names"} | {"file", "target"}))
            raise invalid(name, f"is not a known field; allowed: {allowed}")
        body[name] = _coerce(name, text, options[name])
    try:
        frame = pd.read_csv(io.BytesIO(upload.read()))
    except Exception as exc:  # pandas raises many types for unreadable text
        raise invalid("file", f"is not a readable CSV: {exc}") from None
    target = form["target"]
    if target not in frame.columns:
        raise invalid("target", f"must be a column of the CSV ({', '.join(map(str, frame.columns))}); "
                                f"got {_show(target)}")
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]) or pd.api.types.is_bool_dtype(frame[column]):
            raise invalid(f"file.{column}", "must hold only numbers")
        if frame[column].isna().any():
            row = int(np.flatnonzero(frame[column].isna().to_numpy())[0])
            raise invalid(f"file.{column}[{row}]", "must be a number; got an empty or NaN cell")
    features = [c for c in frame.columns if c != target]
    if not features:
        raise invalid("file", "needs at least one feature column besides the target")
    body["X"] = frame[features].to_numpy(dtype=float).tolist()
    body["y"] = frame[target].to_numpy(dtype=float).tolist()
    body["feature_names"] = [str(c) for c in features]
    return body
