"""``Client``: the bayesreg HTTP service from Python, answering like the in-process estimators.

A fit made over HTTP is a :class:`Fit` whose ``coef_``, ``intercept_``, ``summary()``,
``predict`` and ``predict_interval`` are those of :class:`bayesreg.BayesianRegression` fitted
in process on the same data with the same settings and seed: the server runs that estimator
and sends its numbers as JSON, which round-trips float64 exactly::

    from bayesreg.client import Client

    api = Client("http://127.0.0.1:8000")
    fit = api.fit(X, y, prior="lasso", alpha=0.1, method="nuts", seed=1)   # waits
    fit.summary(), fit.predict_interval(X_new)

Where each kind of error surfaces:

* the server refused a request (an option out of range, an unknown id, a full queue):
  :class:`APIError`, carrying the RFC 9457 problem document;
* a fit ended failed or cancelled, or its results were asked before it ended: :class:`FitError`;
* ``wait`` ran out of its ``timeout``: :class:`WaitTimeout` (the fit goes on on the server);
* data that cannot be sent (NaN, ragged rows, the wrong width for a prediction) is refused here,
  before any request, with the core's :class:`bayesreg.InputError`, as in process;
* the server cannot be reached: requests' own exceptions (``requests.ConnectionError``,
  ``requests.Timeout``), unwrapped.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import os
import tempfile
import time
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np
import pandas as pd
import requests

from ._validation import InputError, check_param, check_X, check_Xy

if TYPE_CHECKING:
    import arviz

    from .path import RegularizationPath

    from .estimator import BayesianRegression, PredictiveInterval

__all__ = ["Client", "Fit", "DropoutFit", "Path", "APIError", "FitError", "WaitTimeout"]

#: statuses a fit never leaves
FINAL = ("succeeded", "failed", "cancelled")
_CHUNK = 1 << 20


class APIError(Exception):
    """The server refused a request; ``problem`` is its RFC 9457 problem document.

    ``status``, ``title``, ``detail`` and ``errors`` (a list of ``{"field", "message"}``) are
    the document's fields; ``retry_after`` is the Retry-After header in seconds (a full queue,
    a full disk) or None. An error page that is not a problem document (a proxy's) becomes one
    with the HTTP status, its reason as title and the start of the body as detail.
    """

    def __init__(self, problem: dict, retry_after: float | None = None):
        self.problem = problem
        self.status = int(problem.get("status") or 0)
        self.title = str(problem.get("title") or "")
        self.detail = str(problem.get("detail") or "")
        self.errors = list(problem.get("errors") or [])
        self.retry_after = retry_after
        super().__init__(f"{self.status} {self.title}: {self.detail}")

    @classmethod
    def from_response(cls, resp: requests.Response) -> "APIError":
        try:
            problem = resp.json()
        except ValueError:
            problem = None
        if not isinstance(problem, dict) or "status" not in problem:
            problem = {"type": "about:blank", "title": resp.reason or "",
                       "status": resp.status_code, "detail": resp.text[:500], "errors": []}
        retry = resp.headers.get("Retry-After")
        return cls(problem, float(retry) if retry and retry.isdigit() else None)


class FitError(RuntimeError):
    """A fit that did not succeed, or whose results were asked for before it ended.

    ``fit`` is the handle, ``status`` its status then, ``error`` the server's
    ``{"message", "field"}`` for a failed or cancelled fit (else None).
    """

    def __init__(self, fit: "_Handle", message: str):
        super().__init__(message)
        self.fit = fit
        self.status = fit._resource["status"]
        self.error = fit.error


class WaitTimeout(TimeoutError):
    """``wait`` gave up after its timeout; the fit goes on on the server. ``fit`` is its handle
    (``fit.wait()`` again, or ``fit.delete()``)."""

    def __init__(self, fit: "_Handle", message: str):
        super().__init__(message)
        self.fit = fit


class Client:
    """The bayesreg HTTP service at ``url``.

    ``timeout`` bounds each HTTP request in seconds (connecting, then each read); waiting for a
    fit is bounded separately, by ``fit(..., timeout=)`` and ``wait(timeout=)``. ``session``:
    a ``requests.Session`` to send with (headers, proxies, retries); by default one of its own,
    closed by :meth:`close` or on leaving a ``with`` block.
    """

    def __init__(self, url: str = "http://127.0.0.1:8000", *, timeout: float = 60.0,
                 session: requests.Session | None = None):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = session if session is not None else requests.Session()

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def request(self, method: str, path: str, body: Any = None,
                stream: bool = False) -> requests.Response:
        """Send one request (``body`` as JSON) and return the response; an error status
        raises :class:`APIError`. Reaches any endpoint, e.g. ``request("GET", "/openapi.json")``."""
        data = None if body is None else json.dumps(body, allow_nan=False, default=_plain)
        headers = {"Content-Type": "application/json"} if data is not None else None
        resp = self.session.request(method, self.url + path, data=data, headers=headers,
                                    timeout=self.timeout, stream=stream)
        if resp.status_code >= 400:
            raise APIError.from_response(resp)
        return resp

    def health(self) -> dict:
        """``GET /health``: status, queue depth, sampling workers."""
        return self.request("GET", "/health").json()

    # ------------------------------------------------------------------ regression fits
    def fit(self, X=None, y=None, *, dataset: str | None = None, feature_names=None,
            wait: bool = True, timeout: float | None = None,
            progress: Callable | None = None, **options) -> "Fit":
        """``POST /v1/fits``: fit ``X``, ``y`` (or an embedded ``dataset``, e.g. "diabetes").

        ``options`` are the request's fields, under the API's names (``seed``, not
        ``random_seed``): prior, alpha, l1_ratio, sigma, fit_intercept, standardize,
        learn_alpha, method, draws, tune, chains, seed, hdi_prob, time_limit, loo (the
        resource's PSIS-LOO block, ``to_dict()["loo"]``); the server
        checks them and fills in its defaults (``settings`` shows the values used). X may be
        an array, a list of rows or a DataFrame, whose columns name the features unless
        ``feature_names`` does.

        With ``wait`` (the default) the call returns once the fit has succeeded, polling the
        server for as long as it takes, or ``timeout`` seconds (:class:`WaitTimeout`); a fit
        that fails or is cancelled raises :class:`FitError`. ``progress(done, total)`` is
        called as draws are done (tuning included); a callback with a parameter named
        ``phase`` also gets the phase ("queued", "starting", "tuning", "sampling", "done").
        Without ``wait`` the handle returns at once, queued or running.
        """
        return self._create("/v1/fits", Fit, X, y, dataset, feature_names, options, wait,
                            timeout, progress)

    def get(self, fit_id: str) -> "Fit":
        """``GET /v1/fits/{id}``: the handle of an existing fit."""
        return Fit(self, self.request("GET", f"/v1/fits/{fit_id}").json())

    def fits(self, status: str | None = None, page: int = 100) -> Iterator["Fit"]:
        """``GET /v1/fits``: every fit, newest first (optionally of one ``status``), read
        ``page`` at a time."""
        return self._pages("/v1/fits", Fit, status, page)

    # ------------------------------------------------------------------ MC-dropout fits
    def fit_dropout(self, X=None, y=None, *, dataset: str | None = None, feature_names=None,
                    wait: bool = True, timeout: float | None = None,
                    progress: Callable | None = None, **options) -> "DropoutFit":
        """``POST /v1/dropout/fits``: train an MC-dropout network; as :meth:`fit`, with the
        options of :class:`bayesreg.MCDropoutRegressor` under the API's names (hidden,
        dropout, tau, length_scale, epochs, batch_size, learning_rate, mc_samples,
        standardize, seed, time_limit). ``progress(done, total)`` counts epochs."""
        return self._create("/v1/dropout/fits", DropoutFit, X, y, dataset, feature_names,
                            options, wait, timeout, progress)

    def get_dropout(self, fit_id: str) -> "DropoutFit":
        """``GET /v1/dropout/fits/{id}``: the handle of an existing MC-dropout fit."""
        return DropoutFit(self, self.request("GET", f"/v1/dropout/fits/{fit_id}").json())

    def dropout_fits(self, status: str | None = None, page: int = 100) -> Iterator["DropoutFit"]:
        """``GET /v1/dropout/fits``: every MC-dropout fit, newest first."""
        return self._pages("/v1/dropout/fits", DropoutFit, status, page)

    # ------------------------------------------------------------------ regularization paths
    def path(self, X=None, y=None, *, dataset: str | None = None, feature_names=None,
             wait: bool = True, timeout: float | None = None,
             progress: Callable | None = None, **options) -> "Path":
        """``POST /v1/paths``: a regularization path run by the server's
        :func:`bayesreg.regularization_path`; as :meth:`fit`, with its options under the
        API's names (prior, l1_ratio, alphas, n_alphas, alpha_min_ratio, method, draws, tune,
        chains, hdi_prob, seed, sigma, fit_intercept, standardize, time_limit).
        ``progress(done, total)`` counts fits (one per alpha)."""
        if options.get("alphas") is not None:
            options["alphas"] = [float(a) for a in options["alphas"]]
        return self._create("/v1/paths", Path, X, y, dataset, feature_names, options, wait,
                            timeout, progress)

    def get_path(self, path_id: str) -> "Path":
        """``GET /v1/paths/{id}``: the handle of an existing path."""
        return Path(self, self.request("GET", f"/v1/paths/{path_id}").json())

    def paths(self, status: str | None = None, page: int = 100) -> Iterator["Path"]:
        """``GET /v1/paths``: every path, newest first."""
        return self._pages("/v1/paths", Path, status, page)

    # ------------------------------------------------------------------ shared
    def _create(self, path, cls, X, y, dataset, feature_names, options, wait, timeout, progress):
        body = {**_data(X, y, dataset, feature_names), **options}
        handle = cls(self, self.request("POST", path, body).json())
        return handle.wait(timeout, progress) if wait else handle

    def _pages(self, path, cls, status, page):
        query = f"{path}?limit={int(page)}" + (f"&status={status}" if status else "")
        while query:
            listing = self.request("GET", query).json()
            yield from (cls(self, item) for item in listing["items"])
            query = listing["next"]


def _data(X, y, dataset, feature_names) -> dict:
    """The data fields of a fit request, checked as the estimators check them."""
    body = {}
    if dataset is not None:
        body["dataset"] = dataset
    if X is not None or y is not None:
        if X is None or y is None:
            missing = "X" if X is None else "y"
            raise InputError(missing, "X and y go together: pass both, or dataset=")
        X_arr, y_arr = check_Xy(X, y)
        body["X"], body["y"] = X_arr.tolist(), y_arr.tolist()
    names = _names(X, feature_names)
    if names is not None:
        body["feature_names"] = names
    return body


def _names(X, feature_names) -> list | None:
    """``feature_names``, else a DataFrame's columns when unique (as ``BayesianRegression``
    names them), else None: the server's x0, x1, ..."""
    if feature_names is not None:
        return [str(f) for f in feature_names]
    columns = getattr(X, "columns", None)
    if columns is not None and len(set(map(str, columns))) == len(columns):
        return [str(c) for c in columns]
    return None


def _plain(value):
    """JSON for NumPy values in the options (``np.int64(4)``, an array of names)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _floats(values) -> np.ndarray:
    """A JSON array of numbers (null where the server had NaN) as float64."""
    return np.asarray([np.nan if v is None else v for v in values], dtype=float)


def _takes_phase(callback) -> bool:
    try:
        return "phase" in inspect.signature(callback).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False


class _Handle:
    """A fit resource on the server: its last known state, and the calls that change it."""

    _path = ""
    _unit = ""

    def __init__(self, client: Client, resource: dict):
        self.client = client
        self.id: str = resource["id"]
        self._resource = resource

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self._resource['status']}>"

    @property
    def url(self) -> str:
        return f"{self._path}/{self.id}"

    @property
    def status(self) -> str:
        """queued, running, succeeded, failed or cancelled; while not final, read afresh."""
        if self._resource["status"] not in FINAL:
            self.refresh()
        return self._resource["status"]

    @property
    def error(self) -> dict | None:
        """``{"message", "field"}`` of a failed or cancelled fit, else None."""
        return self._resource["error"]

    @property
    def feature_names_in_(self) -> np.ndarray:
        return np.asarray(self._resource["feature_names"], dtype=object)

    @property
    def n_features_in_(self) -> int:
        return len(self._resource["feature_names"])

    @property
    def progress(self) -> dict:
        """The resource's progress as of the last read: ``{"phase", "draws_done",
        "draws_total"}`` of a fit, ``{"epochs_done", "epochs_total"}`` of an MC-dropout fit,
        ``{"fits_done", "fits_total"}`` of a path."""
        return dict(self._resource["progress"])

    def to_dict(self) -> dict:
        """The resource as the server last sent it (a copy)."""
        return copy.deepcopy(self._resource)

    def refresh(self) -> "_Handle":
        """Read the resource again (``GET``); returns ``self``."""
        self._resource = self.client.request("GET", self.url).json()
        return self

    def wait(self, timeout: float | None = None, progress: Callable | None = None,
             poll: float = 0.5) -> "_Handle":
        """Poll until the fit ends; returns ``self`` once it has succeeded.

        Polls quickly at first, then every ``poll`` seconds. Raises :class:`FitError` if the
        fit fails or is cancelled, :class:`WaitTimeout` after ``timeout`` seconds (None: no
        limit). ``progress`` as in :meth:`Client.fit`, called when the count changes.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        report = self._reporter(progress)
        delay = 0.02
        while self._resource["status"] not in FINAL:
            report()
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise WaitTimeout(self, f"fit {self.id} still {self._resource['status']} after "
                                        f"{timeout:g} s ({self._progress_text()}); it goes on "
                                        f"on the server")
            time.sleep(delay if left is None else min(delay, left))
            delay = min(1.5 * delay, poll)
            self.refresh()
        report()
        return self._succeeded()

    def cancel(self) -> "_Handle":
        """``DELETE`` once: a running fit stops and ends as cancelled (kept until deleted);
        a queued or finished fit is removed at once (reading it then raises
        :class:`APIError` 404). Returns ``self``."""
        resp = self.client.request("DELETE", self.url)
        if resp.status_code == 202:
            self._resource = resp.json()
        return self

    def delete(self, timeout: float | None = 60.0) -> None:
        """Remove the fit; a running one is cancelled first, and waited for (at most
        ``timeout`` seconds, :class:`WaitTimeout`) until it has stopped."""
        resp = self.client.request("DELETE", self.url)
        if resp.status_code != 202:
            return
        self._resource = resp.json()
        try:
            self.wait(timeout)
        except FitError:
            pass  # cancelled, as asked
        try:
            self.client.request("DELETE", self.url)
        except APIError as exc:
            if exc.status != 404:  # deleted meanwhile by someone else: done too
                raise

    # ---- helpers
    def _succeeded(self) -> "_Handle":
        """``self`` if the fit has succeeded (reading it afresh if it has not ended), else
        :class:`FitError`."""
        if self._resource["status"] not in FINAL:
            self.refresh()
        status = self._resource["status"]
        if status == "succeeded":
            return self
        if status in FINAL:
            message = (self.error or {}).get("message", "")
            raise FitError(self, f"fit {self.id} {status}: {message}")
        raise FitError(self, f"fit {self.id} is {status} ({self._progress_text()}): its "
                             f"results are not there yet; wait() for them")

    def _done_total(self) -> tuple[int, int, str | None]:
        raise NotImplementedError

    def _progress_text(self) -> str:
        done, total, _ = self._done_total()
        return f"{done} of {total} {self._unit}"

    def _reporter(self, progress):
        """A function that calls ``progress`` with the state of the last read, when it changed."""
        if progress is None:
            return lambda: None
        phase, last = _takes_phase(progress), [None]

        def report():
            done, total, now = self._done_total()
            state = (done, total, now) if phase else (done, total)
            if state == last[0]:
                return
            last[0] = state
            if phase:
                progress(done, total, phase=now)
            else:
                progress(done, total)
        return report

    def _check_X(self, X) -> np.ndarray:
        """X as the estimators check it: finite, one column per feature, and a DataFrame's
        columns named as the fit's features (unless the fit has the default names)."""
        names = list(self._resource["feature_names"])
        arr = check_X(X, len(names), f"fit {self.id}")
        columns = getattr(X, "columns", None)
        default = names == [f"x{j}" for j in range(len(names))]
        if columns is not None and not default and [str(c) for c in columns] != names:
            raise InputError("X", f"columns {[str(c) for c in columns]} are not the features "
                                  f"of the fit, in order: {names}")
        return arr

    def _predict(self, X, **fields) -> dict:
        body = {"X": self._check_X(X).tolist(), **fields}
        return self.client.request("POST", f"{self.url}/predict", body).json()


class Fit(_Handle):
    """A regression fit on the server, with the results API of ``BayesianRegression``.

    ``coef_``, ``intercept_``, ``summary()`` and ``predict`` come from the resource (no
    request once it has succeeded); ``predict_interval`` asks the server; ``posterior()``
    and ``estimator()`` download the model file. Asking for results of a fit that has not
    succeeded raises :class:`FitError`.
    """

    _path = "/v1/fits"
    _unit = "draws"
    _estimator = None  # the downloaded model, once asked for

    @property
    def settings(self) -> dict:
        """Every setting the fit runs with (defaults and the drawn seed included)."""
        return dict(self._resource["settings"])

    @property
    def diagnostics_(self) -> dict | None:
        """divergences, max_r_hat, min_ess_bulk, warnings (None for a map fit)."""
        return self._succeeded()._resource["diagnostics"]

    @property
    def coef_(self) -> np.ndarray:
        """MAP coefficients, in feature order (a horseshoe's posterior medians, as
        ``BayesianRegression.coef_``)."""
        res = self._succeeded()._resource
        if self._no_mode():
            return _floats([row["median"] for row in res["posterior"]["coef"]])
        return _floats(res["map"]["coef"])

    @property
    def intercept_(self) -> float:
        res = self._succeeded()._resource
        value = (res["posterior"]["intercept"]["median"] if self._no_mode() else
                 res["map"]["intercept"])
        return np.nan if value is None else float(value)

    def _no_mode(self) -> bool:
        """A horseshoe prior: no finite mode, so the point estimate is the posterior median."""
        from .horseshoe import HORSESHOE_PRIORS

        return self._resource["settings"]["prior"] in HORSESHOE_PRIORS

    def summary(self, hdi_prob: float | None = None) -> pd.DataFrame:
        """MAP beside the posterior: one row per coefficient (feature order), intercept,
        sigma (and alpha with ``learn_alpha``), the columns of ``BayesianRegression.summary``.

        At the fit's own ``hdi_prob`` it is read from the resource. Another ``hdi_prob`` needs
        the draws: the model file is downloaded once (:meth:`estimator`) and summarized here,
        exactly as in process. A map fit has the ``map`` column only (sigma's row: the mode of
        sigma given the MAP, or the known sigma).
        """
        post = self._succeeded()._resource["posterior"]
        if hdi_prob is not None:
            hdi_prob = check_param("hdi_prob", hdi_prob, low=0.0, high=1.0, low_open=True,
                                   high_open=True)
        if post is None:
            return self._map_summary()
        if hdi_prob is None or hdi_prob == self._resource["settings"]["hdi_prob"]:
            return _posterior_summary(post)
        return self.estimator().summary(hdi_prob)

    def _map_summary(self) -> pd.DataFrame:
        from .diagnostics import SUMMARY_COLUMNS  # imports ArviZ (seconds): not at import

        res = self._resource
        known = res["settings"].get("sigma")
        sigma = res["map"].get("sigma", known)
        rows = dict(zip(res["feature_names"], self.coef_.tolist()))
        rows["intercept"] = self.intercept_
        rows["sigma"] = np.nan if sigma is None else float(sigma)
        return pd.DataFrame({"map": rows}).reindex(columns=SUMMARY_COLUMNS)

    def predict(self, X) -> np.ndarray:
        """MAP predictions ``X @ coef_ + intercept_``, computed here (no request, no size cap)."""
        arr = self._check_X(X)
        return arr @ self.coef_ + self.intercept_

    def predict_interval(self, X, hdi_prob: float | None = None) -> "PredictiveInterval":
        """Posterior predictive at ``X`` (``POST .../predict``): mean, HDI of the mean and HDI
        of a new observation, at ``hdi_prob`` (default: the fit's)."""
        from .estimator import PredictiveInterval  # imports ArviZ (seconds): not at import

        self._succeeded()
        out = self._predict(X, **({} if hdi_prob is None else {"hdi_prob": hdi_prob}))
        if out["posterior"] is None:
            raise InputError("method", "no posterior: the model was fitted with method='map'")
        return PredictiveInterval(*(_floats(out["posterior"][k])
                                    for k in PredictiveInterval._fields))

    def estimator(self) -> "BayesianRegression":
        """The fit as an in-process ``BayesianRegression``, loaded from its model file
        (``GET .../posterior.nc``, the file of ``BayesianRegression.save``). Downloaded on the
        first call and kept; a map fit has no such file (:class:`APIError` 409)."""
        if self._estimator is None:
            self._succeeded()
            self._estimator = _download_estimator(self.client, f"{self.url}/posterior.nc")
        return self._estimator

    def posterior(self) -> "arviz.InferenceData":
        """All posterior draws: ``posterior`` group (coef by feature, intercept, sigma) and the
        sampler's ``sample_stats``; read into memory, no file left open."""
        return self.estimator().posterior_

    def _done_total(self):
        p = self._resource["progress"]
        return p["draws_done"], p["draws_total"], p.get("phase")


def _posterior_summary(post: dict) -> pd.DataFrame:
    """The resource's posterior rows as ``BayesianRegression.summary()`` lays them out."""
    from .diagnostics import SUMMARY_COLUMNS  # imports ArviZ (seconds): not at import

    rows = list(post["coef"]) + [post[k] for k in ("intercept", "sigma", "alpha", "tau", "c")
                                 if post.get(k)]
    table = {r["name"]: {c: (np.nan if r[c] is None and c != "map_in_hdi" else r[c])
                         for c in SUMMARY_COLUMNS} for r in rows}
    frame = pd.DataFrame.from_dict(table, orient="index")[SUMMARY_COLUMNS]
    return frame.astype({c: float for c in SUMMARY_COLUMNS if c != "map_in_hdi"})


def _download_estimator(client: Client, path: str) -> "BayesianRegression":
    """Stream a model file to a temporary file, load it eagerly, remove the file."""
    from .estimator import BayesianRegression

    fd, name = tempfile.mkstemp(prefix="bayesreg-", suffix=".nc")
    try:
        with os.fdopen(fd, "wb") as out, client.request("GET", path, stream=True) as resp:
            for block in resp.iter_content(_CHUNK):
                out.write(block)
        return BayesianRegression.load(name)
    finally:
        os.remove(name)


class DropoutFit(_Handle):
    """An MC-dropout network on the server, with the prediction API of
    ``MCDropoutRegressor`` (each call one ``POST .../predict``: the server's MC passes)."""

    _path = "/v1/dropout/fits"
    _unit = "epochs"

    @property
    def result(self) -> dict:
        """train_rmse, log_likelihood_train, final_loss, tau, dropout, weight_decay, ..."""
        return dict(self._succeeded()._resource["result"])

    def predict(self, X, return_std: bool = False):
        """MC predictive mean (and sd with ``return_std``)."""
        post = self._succeeded()._predict(X)["posterior"]
        mean = _floats(post["mean"])
        return (mean, _floats(post["sd"])) if return_std else mean

    def predict_interval(self, X, prob: float | None = None, *,
                         hdi_prob: float | None = None) -> "PredictiveInterval":
        """HDIs of the network's mean function and of a new observation at ``hdi_prob``
        (keyword-only, default 0.95), as ``MCDropoutRegressor.predict_interval``:
        ``PredictiveInterval(mean, mean_low, mean_high, obs_low, obs_high)``. ``prob``
        (positional as before, or by keyword) is deprecated (a ``FutureWarning``): the former
        central intervals, as in process, read from the answer's deprecated flat fields."""
        from .dropout import PredictiveInterval
        from .dropout.regressor import interval_mass

        mass, central = interval_mass(hdi_prob, prob, "predict_interval")
        out = self._succeeded()._predict(X, **{"prob" if central else "hdi_prob": mass})
        fields = out if central else out["posterior"]
        return PredictiveInterval(*(_floats(fields[k]) for k in PredictiveInterval._fields))

    def predict_deterministic(self, X) -> np.ndarray:
        """The network with dropout switched off (weight scaling)."""
        return _floats(self._succeeded()._predict(X)["deterministic"])

    def _done_total(self):
        p = self._resource["progress"]
        return p["epochs_done"], p["epochs_total"], None



class Path(_Handle):
    """A regularization path on the server, answering like
    :class:`bayesreg.RegularizationPath` (rebuilt with ``from_dict`` from the resource's
    result: everything but ``fits``, which stay on the server)."""

    _path = "/v1/paths"
    _unit = "fits"

    @property
    def settings(self) -> dict:
        """Every setting the path ran with (the request's, else the defaults)."""
        return dict(self._resource["settings"])

    def regularization_path(self) -> "RegularizationPath":
        """The path as a :class:`bayesreg.RegularizationPath` (``fits`` is None)."""
        return self._rebuilt

    @functools.cached_property
    def _rebuilt(self) -> "RegularizationPath":
        # built once, on the first read after success: a succeeded path's result never
        # changes, and every property below reads it (an unfinished path raises, uncached)
        from .path import RegularizationPath

        return RegularizationPath.from_dict(self._succeeded()._resource["result"])

    alphas = property(lambda self: self.regularization_path().alphas,
                      doc="The alphas, descending.")
    coef_map = property(lambda self: self.regularization_path().coef_map,
                        doc="(n_alphas, p): the exact MAP at each alpha.")
    elpd_loo = property(lambda self: self.regularization_path().elpd_loo,
                        doc="PSIS-LOO elpd at each alpha (None for method map).")
    elpd_loo_se = property(lambda self: self.regularization_path().elpd_loo_se,
                           doc="Its standard errors.")
    best_alpha = property(lambda self: self.regularization_path().best_alpha,
                          doc="The alpha of the largest elpd_loo.")
    alpha_1se = property(lambda self: self.regularization_path().alpha_1se,
                         doc="The largest alpha within one se of the best elpd_loo.")

    def to_dict(self) -> dict:
        """The path's ``RegularizationPath.to_dict()``, as the server computed it (a copy;
        the whole resource is ``resource()``)."""
        return copy.deepcopy(self._succeeded()._resource["result"])

    def resource(self) -> dict:
        """The resource as the server last sent it (a copy)."""
        return copy.deepcopy(self._resource)

    def summary(self) -> pd.DataFrame:
        """The long table: one row per (alpha, feature), as ``RegularizationPath.summary()``."""
        return self.regularization_path().summary()

    def plot(self):
        """The path's matplotlib Figure, as ``RegularizationPath.plot()``."""
        return self.regularization_path().plot()

    def _done_total(self):
        p = self._resource["progress"]
        return p["fits_done"], p["fits_total"], None
