"""The boundary: turn a request into checked Python values or a 4xx Problem.

Schema checks come from ``schemas`` (via jsonschema); the size caps are checked here; the data
rules a schema cannot say (rectangular X, finite numbers, one y per row, feature names one per
column and unique, the width a fit predicts) are the core's own checks
(``bayesreg.validation``), called here before anything is saved: their ``InputError`` names the
cell, and becomes the 422 in ``errors.py``.

Why jsonschema and not pydantic v2 models (evaluated with pydantic 2.14 on a prototype of the
fit request): pydantic's messages give no allowed range, value or reason ("Input should be
less than or equal to 1" against "must be <= 1 (allowed range [0, 1]); got 1.5"), name cells
``X.0.1`` rather than ``X[0][1]``, print the 1e100 bound as 101 digits, and build every error
of a body (744 ms for a million bad cells) where this module stops at 20 (under 1 ms). Keeping
the malformed-input tests as strong would need a translation layer the size of this one, so
the adoption condition (less code, no weaker test) does not hold.
"""

import csv
import functools
import io
import itertools
import json
import math
import re

import numpy as np
from jsonschema import Draft202012Validator

from bayesreg.path import check_alphas
from bayesreg.validation import (RANGES, InputError, check_expected_nonzero,
                                 check_feature_names, check_names, check_noise_dof,
                                 check_sigma_resolved, check_X, check_Xy)

from .errors import Problem, invalid
from .jobs import estimator
from .schemas import DROPOUT_DEFAULTS, FIT_DEFAULTS, PATH_DEFAULTS

__all__ = ["MAX_ERRORS", "check", "check_data", "check_draws_total", "check_dropout_fit",
           "check_dropout_predict", "check_fit", "check_path",
           "check_posterior_cells", "check_predict", "check_prediction", "parse_form",
           "parse_json", "query_int"]

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")

#: most errors one 422 lists: a body with a million bad cells gets the first 20, found lazily
MAX_ERRORS = 20

# +1 for an opening bracket, -1 for a closing one, 0 for any other byte
_STEP = np.zeros(256, dtype=np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1


def _json_depth(raw: bytes) -> int:
    """Deepest bracket nesting of a JSON text, brackets inside strings not counted.

    Linear time and memory: escaped backslashes, then escaped quotes, are dropped (each
    ``bytes.replace`` is one left-to-right pass, pairing backslashes as a JSON parser does),
    so every quote left opens or closes a string, and a bracket counts when an even number of
    quotes precedes it. A body of escaped quotes costs what any body of its size does (the
    backtracking regex this replaces took 13 s on 300 kB). Exact for UTF-8, where these bytes
    never occur inside a multibyte character; ``parse_json`` reads bodies as UTF-8 only.
    """
    bare = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    data = np.frombuffer(bare, dtype=np.uint8)
    steps = _STEP[data]                                  # a copy: one int8 per byte
    quotes = np.flatnonzero(data == ord('"'))
    if quotes.size:
        brackets = np.flatnonzero(steps)
        steps[brackets[np.searchsorted(quotes, brackets) % 2 == 1]] = 0   # inside strings
    return max(int(steps.cumsum(dtype=np.int32).max()), 0) if steps.size else 0


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
        # UTF-8 only (RFC 8259), so the depth just measured is the depth json.loads meets
        return json.loads(raw.decode("utf-8-sig"))
    except (ValueError, RecursionError) as exc:
        raise invalid("body", f"malformed JSON: {exc}", status=400) from None


def _field(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _show(value) -> str:
    """At most 60 characters of a JSON value; a big array is not serialized whole to show it."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    text = ""
    for chunk in json.JSONEncoder().iterencode(value):
        text += chunk
        if len(text) > 60:
            return text[:57] + "..."
    return text


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


def _control(value):
    """First control character of a string and its position, or None."""
    for i, ch in enumerate(value):
        if ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F:
            return i, ch
    return None


def _message(error, prefix=()):
    """(field, message) of a jsonschema error; ``prefix`` is the path of what was validated."""
    v, lim, value = error.validator, error.validator_value, error.instance
    path = list(prefix) + list(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    why = f": {schema['x-reason']}" if "x-reason" in schema else ""
    if v in ("minimum", "exclusiveMinimum") and lim == 0:
        why = ""  # a sign rule needs no reason; the reason is about the other bound
    if v == "type":
        wanted = lim if isinstance(lim, list) else [lim]
        names = " or ".join(_TYPE_NAMES.get(t, t) for t in wanted)
        return _field(path), f"must be {names}; got {_json_type(value)} {_show(value)}"
    if v == "enum":
        return _field(path), f"must be one of {', '.join(map(str, lim))}; got {_show(value)}"
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        op = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[v]
        lo = schema.get("minimum", schema.get("exclusiveMinimum"))
        hi = schema.get("maximum", schema.get("exclusiveMaximum"))
        span = ""
        if lo is not None and hi is not None:
            left = "[" if "minimum" in schema else "("
            right = "]" if "maximum" in schema else ")"
            span = f" (allowed range {left}{lo}, {hi}{right})"
        return _field(path), f"must be {op} {lim}{span}; got {_show(value)}{why}"
    if v == "pattern" and isinstance(value, str) and _control(value) is not None:
        i, ch = _control(value)
        return _field(path), (f"must not contain control characters (U+0000-U+001F, "
                              f"U+007F-U+009F); got {_show(value)} with U+{ord(ch):04X} at "
                              f"position {i}")
    if v == "required":
        missing = [k for k in lim if k not in value]
        return _field(path + missing[:1]), "is required"
    if v == "additionalProperties":
        extra = sorted(set(value) - set(schema.get("properties", {})))
        allowed = ", ".join(sorted(schema.get("properties", {})))
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


@functools.lru_cache(maxsize=64)
def _validator(schema_json: str):
    return Draft202012Validator(json.loads(schema_json))


def _compiled(schema):
    return _validator(json.dumps(schema, sort_keys=True))


# Keywords a fast scan understands; other keys of a schema are annotations.
_ANNOTATIONS = {"description", "default", "format", "x-reason"}
_SCALAR_KEYS = {"type", "minimum", "maximum", "minLength", "maxLength", "pattern"}


def _scalar_test(spec):
    """A cheap predicate equivalent to jsonschema for a simple scalar schema, or None."""
    kind = spec.get("type")
    if set(spec) - _ANNOTATIONS - _SCALAR_KEYS or kind not in ("number", "integer", "string"):
        return None
    if kind == "string":
        lo, hi = spec.get("minLength", 0), spec.get("maxLength", math.inf)
        pattern = re.compile(spec["pattern"]) if "pattern" in spec else None
        return lambda v: (type(v) is str and lo <= len(v) <= hi
                          and (pattern is None or pattern.search(v) is not None))
    lo, hi = spec.get("minimum", -math.inf), spec.get("maximum", math.inf)
    if kind == "number":
        # NaN passes a JSON Schema range (every comparison is false), as in jsonschema
        return lambda v: (type(v) is float or type(v) is int) and not (v < lo or v > hi)
    return lambda v: ((type(v) is int or type(v) is float and v.is_integer())
                      and not (v < lo or v > hi))


def _array_test(spec):
    """A cheap predicate for an array of simple scalars (or of such arrays), or None."""
    if spec.get("type") != "array" or set(spec) - _ANNOTATIONS - {"type", "items", "minItems",
                                                                  "maxItems"}:
        return None
    items = spec.get("items", {})
    inner = _scalar_test(items) if items.get("type") != "array" else _array_test(items)
    if inner is None:
        return None
    lo, hi = spec.get("minItems", 0), spec.get("maxItems", math.inf)
    return lambda v: type(v) is list and lo <= len(v) <= hi and all(map(inner, v))


def _array_errors(value, spec, path, room):
    """Up to ``room`` errors of a big array, found by a scan; jsonschema sees only bad items."""
    out = []
    for key, op in (("minItems", "at least"), ("maxItems", "at most")):
        lim = spec.get(key)
        if lim is not None and not (len(value) >= lim if key == "minItems" else len(value) <= lim):
            out.append((path, _field(path), f"must have {op} {lim} items; got {len(value)}"))
    items = spec.get("items", {})
    nested = items.get("type") == "array"
    test = _array_test(items) if nested else _scalar_test(items)
    # items past maxItems are not examined: a million names cost what the allowed 2000 do
    for i, item in itertools.islice(enumerate(value), spec.get("maxItems")):
        if len(out) >= room:
            break
        if test(item):
            continue
        if nested and type(item) is list:
            out += _array_errors(item, items, path + [i], room - len(out))
        else:
            out += [(path + [i] + list(e.absolute_path), *_message(e, path + [i]))
                    for e in itertools.islice(_compiled(items).iter_errors(item), room - len(out))]
    return out[:room]


def _split(instance, schema):
    """Take the big arrays out of a body: checked here by a scan, the rest by jsonschema.

    jsonschema walks each number of X in Python (about 10 us each), so a million cells took
    seconds even when the first was bad; a type scan takes well under a microsecond per cell.
    Returns the body with the big arrays emptied (keys kept, so ``required`` and ``oneOf``
    judge it the same), its schema with their constraints lifted, and the arrays' errors.
    """
    if type(instance) is not dict:
        return instance, schema, []
    light, props, errors = instance, schema.get("properties", {}), []
    for name, spec in schema.get("properties", {}).items():
        value = instance.get(name)
        if type(value) is not list or _array_test(spec) is None:
            continue
        # cells, not rows: one row of a million numbers is as costly as a million rows
        if sum(len(r) if type(r) is list else 1 for r in value) < 32:
            continue
        errors += _array_errors(value, spec, [name], MAX_ERRORS - len(errors))
        if light is instance:
            light, props = dict(instance), dict(props)
        light[name], props[name] = [], {}
    if light is not instance:
        schema = dict(schema, properties=props)
    return light, schema, errors


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
    """Validate against a JSON Schema; raise a 422 listing the first ``MAX_ERRORS`` violations.

    Errors are found lazily and only that many are built, so a body with a bad value in each
    of a million cells costs about what parsing it did.
    """
    light, light_schema, found = _split(instance, schema)
    validator = _compiled(light_schema)
    if not found and validator.is_valid(light):
        _as_integers(schema, instance)
        return
    rest = itertools.islice(validator.iter_errors(light), MAX_ERRORS)
    found += [(list(e.absolute_path), *_message(e)) for e in rest]
    # in path order, as a reader scans the body (indices as numbers: X[2] before X[10])
    found.sort(key=lambda row: [(0, part, "") if isinstance(part, int) else (1, 0, str(part))
                                for part in row[0]])
    errors = [{"field": field, "message": message} for _, field, message in found[:MAX_ERRORS]]
    raise Problem(422, "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors)


def check_fit(body, cfg, X=None, y=None):
    """Semantic checks of a schema-valid fit request; returns (X, y) arrays or (None, None).

    ``X`` and ``y`` are the data of a CSV upload, already checked by ``parse_form``; else they
    are read from the body."""
    # The core's own parameter rules (finite numbers in range, learn_alpha needs alpha > 0
    # and nuts, exact needs ridge, ...), so that a queued fit is refused at the door, not
    # failed in a worker.
    estimator(body).check_params()
    o = {**FIT_DEFAULTS, **body}
    draws, chains, method = o["draws"], o["chains"], o["method"]
    if method in ("nuts", "exact"):
        check_draws_total(draws, chains, cfg)
    if method == "map" and body.get("loo"):
        raise invalid("loo", "needs a posterior: method nuts or exact; got method 'map'")
    if X is None:
        X, y = check_data(body, cfg)
    if X is not None and method != "map":
        check_expected_nonzero(o["expected_nonzero"], X.shape[1])
        _check_noise(body, X, y, o["fit_intercept"], o["alpha"] == 0)
    return X, y


def _check_noise(body, X, y, fit_intercept, unpenalized):
    """The core's rules for sigma, here so that a queued fit is refused at the door, not
    failed in a worker: rows enough to learn it, or a known sigma above y's rounding."""
    if body.get("sigma") is None:
        check_noise_dof(X.shape[0], X.shape[1], fit_intercept, unpenalized)
    else:
        check_sigma_resolved(body["sigma"], y)


def check_posterior_cells(draws, chains, p, cfg, fits=1, field="draws"):
    """422 unless the posterior draws of ``fits`` fits of ``p`` columns (draws x chains x p
    each) are within BAYESREG_MAX_POSTERIOR_CELLS; ``field`` names the refusal."""
    cells = draws * chains * p * fits
    if cells > cfg["MAX_POSTERIOR_CELLS"]:
        what, got = "draws x chains x features", f"{draws} x {chains} x {p}"
        if fits > 1:
            what, got = what + " x alphas", got + f" x {fits}"
        raise invalid(field, f"{what} must be <= {cfg['MAX_POSTERIOR_CELLS']} "
                             f"(BAYESREG_MAX_POSTERIOR_CELLS); got {got} = {cells}")


def check_draws_total(draws, chains, cfg):
    """422 unless one fit's draws x chains are within BAYESREG_MAX_DRAWS_TOTAL."""
    if draws * chains > cfg["MAX_DRAWS_TOTAL"]:
        raise invalid("draws", f"draws x chains must be <= {cfg['MAX_DRAWS_TOTAL']} "
                               f"(BAYESREG_MAX_DRAWS_TOTAL); got {draws} x {chains} = "
                               f"{draws * chains}")


def check_path(body, cfg, X=None, y=None):
    """Semantic checks of a schema-valid path request; returns (X, y) arrays or (None, None).

    The core's own parameter rules run on an estimator with the path's settings (every
    alpha's fit shares them; at the largest given alpha, else 1), so a path is refused at
    the door, not failed in a worker."""
    if body.get("alphas") is not None:
        check_alphas(body["alphas"])
    o = {**PATH_DEFAULTS, **body}
    estimator({**body, "alpha": max(o["alphas"] or [1.0])}).check_params()
    if o["method"] != "map":
        check_draws_total(o["draws"], o["chains"], cfg)
    if X is None:
        X, y = check_data(body, cfg)
    if X is not None and o["method"] != "map":
        _check_noise(body, X, y, o["fit_intercept"], 0 in (o["alphas"] or ()))
    return X, y


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
    # the core's data rules, one statement each: rectangular, finite, within the bound, one y
    # per row, names one per column and unique (its InputError names the cell: a 422)
    X, y = check_Xy(X, body["y"])
    check_feature_names(body.get("feature_names"), p, controls=True)
    return X, y


def check_dropout_fit(body, cfg, n_rows):
    """Semantic checks of a schema-valid MC-dropout request, once the row count is known (the
    parameters' own rules are the core's: ``MCDropoutRegressor.check_params``)."""
    epochs = body.get("epochs", DROPOUT_DEFAULTS["epochs"])
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
    if body.get("prob") is not None:  # the deprecated flat fields' mass: the core's rule
        RANGES["hdi_prob"].check("prob", body["prob"])
    return X


def check_predict(body, p):
    X = check_X(body["X"], p, "the fit")  # the core's rules, and the width of the fit
    if "hdi_prob" in body:  # checked even where a map fit will not use it
        RANGES["hdi_prob"].check("hdi_prob", body["hdi_prob"])
    return X


def check_prediction(prediction):
    """Refuse a prediction that overflowed: every number of ``map`` (or ``median``) and of the
    ``posterior`` arrays must be finite, else 422 naming the row of X (within the bound on |X|, a fit whose
    coefficients are huge can still overflow ``X @ coef``)."""
    arrays = {"map": prediction.get("map"), "median": prediction.get("median")}
    arrays.update(prediction.get("posterior") or {})
    for key, values in arrays.items():
        if values is None:
            continue
        v = np.asarray(values, dtype=float)
        bad = np.flatnonzero(~np.isfinite(v))
        if bad.size:
            i = int(bad[0])
            raise invalid(f"X[{i}]", f"gives a prediction ({key}) outside the floating-point "
                                     f"range ({v[i]!r}): X times the coefficients overflows; "
                                     f"{bad.size} row(s) in all")


def query_int(args, name, default, low, high):
    """An integer query parameter within [low, high], ``default`` when absent, else a 422."""
    text = args.get(name)
    if text is None:
        return default
    if not _INT.fullmatch(text) or not low <= int(text) <= high:
        raise invalid(name, f"must be an integer in the range [{low}, {high}]; got {text!r}")
    return int(text)


def _coerce(name, text, spec):
    """A form field is text; read it strictly as the schema's type, never guess."""
    kinds = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
    if "null" in kinds and text in ("", "null"):
        return None
    if "array" in kinds:  # comma-separated items (alphas=1,0.1,0.01)
        return [_coerce(name, part, spec["items"]) for part in text.split(",")]
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


def _csv_header(raw: bytes):
    """The column names of a CSV's header record (its first non-blank one), read by the csv
    module: a wide header costs milliseconds here, against seconds to minutes in pandas."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise invalid("file", f"is not a readable CSV: not UTF-8 text ({exc})") from None
    try:
        for record in csv.reader(io.StringIO(text, newline="")):
            if any(field.strip() for field in record):
                return record
    except csv.Error as exc:
        raise invalid("file", f"is not a readable CSV: {exc}") from None
    return []


def _check_csv_shape(raw, cfg):
    """Caps of a CSV before pandas parses it: columns from the header; the most rows pandas
    may read so that rows x feature columns stays within the cells cap."""
    columns = len(_csv_header(raw))
    p = max(columns - 1, 1)  # one column is the target
    if columns - 1 > cfg["MAX_FEATURES"]:
        raise invalid("file", f"must have at most {cfg['MAX_FEATURES']} feature columns besides "
                              f"the target (BAYESREG_MAX_FEATURES); got {columns - 1} "
                              f"({columns} columns in the header)")
    return cfg["MAX_CELLS"] // p + 1


def _form_options(form, options):
    """The text fields of a CSV upload other than ``target``, each read as its schema's type."""
    body = {}
    for name, text in form.items():
        if name == "target":
            continue
        if name not in options or name == "feature_names":
            allowed = ", ".join(sorted(set(options) - {"feature_names"} | {"file", "target"}))
            # werkzeug reads a name it cannot parse (name="a\") as None: say "form"
            raise invalid(name or "form", f"is not a known field; allowed: {allowed}")
        body[name] = _coerce(name, text, options[name])
    return body


def _read_csv(raw, cfg):
    """The CSV as a DataFrame, within the caps: at most one row past the cells cap is read."""
    import pandas as pd

    max_rows = _check_csv_shape(raw, cfg)
    try:
        frame = pd.read_csv(io.BytesIO(raw), nrows=max_rows)
    except Exception as exc:  # pandas raises many types for unreadable text
        raise invalid("file", f"is not a readable CSV: {exc}") from None
    p = max(frame.shape[1] - 1, 1)
    if len(frame) * p > cfg["MAX_CELLS"]:
        raise invalid("file", f"n x p must be <= {cfg['MAX_CELLS']} (BAYESREG_MAX_CELLS); got "
                              f"at least {len(frame)} rows x {p} feature columns = "
                              f"{len(frame) * p}", status=413)
    # the core's rule for names it can store, under the CSV's own field names
    check_names([str(c) for c in frame.columns], field="file.columns", controls=True)
    return frame


def _column(frame, column):
    """One CSV column as float64 (its cells are checked by the core, in ``_check_cells``)."""
    import pandas as pd

    values = frame[column]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise invalid(f"file.{column}", "must hold only numbers")
    return values.to_numpy(dtype=float)


_CELL = re.compile(r"^(X)\[(\d+)\]\[(\d+)\]$|^(y)\[(\d+)\]$")


def _check_cells(X, y, names, target):
    """The core's cell rules (finite, within ``BOUNDS.data``) by its own ``check_Xy``, its
    ``X[i][j]`` / ``y[i]`` renamed to the CSV's ``file.<column>[i]``, in field and message."""
    try:
        check_Xy(X, y)
    except InputError as exc:
        m = _CELL.match(exc.field)
        if m is None:
            raise
        column, row = (names[int(m[3])], m[2]) if m[1] else (target, m[5])
        cell = f"file.{column}[{row}]"
        raise invalid(cell, exc.message.replace(exc.field, cell)) from None


def parse_form(request, options, cfg):
    """A CSV upload: ``(body, X, y)``, the options (and the columns' names as feature_names)
    shaped like a JSON request's, and the data as arrays, every cell checked here: finite and
    within the core's bound. The text is parsed once, by pandas, straight to NumPy."""
    upload = request.files.get("file")
    if upload is None:
        raise invalid("file", "is required: a CSV file with a header row")
    if "target" not in request.form:
        raise invalid("target", "is required: the name of the column to predict")
    body = _form_options(request.form, options)
    frame, target = _read_csv(upload.read(), cfg), request.form["target"]
    if target not in frame.columns:
        raise invalid("target", f"must be a column of the CSV "
                                f"({', '.join(map(str, frame.columns))}); got {_show(target)}")
    columns = {column: _column(frame, column) for column in frame.columns}
    y = columns.pop(target)
    if not columns:
        raise invalid("file", "needs at least one feature column besides the target")
    body["feature_names"] = [str(c) for c in columns]
    X = np.column_stack(list(columns.values()))
    _check_cells(X, y, body["feature_names"], target)
    return body, X, y
