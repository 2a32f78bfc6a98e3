"""Service-level endpoints: /health, /openapi.json, /docs."""

import time

from flask import Blueprint, current_app

from . import openapi

bp = Blueprint("meta", __name__)


def _version():
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bayesreg")
    except PackageNotFoundError:
        import bayesreg

        return bayesreg.__version__


@bp.get("/health")
def health():
    store = current_app.extensions["bayesreg.store"]
    counts = store.counts()
    now, timeout = time.time(), current_app.config["HEARTBEAT_TIMEOUT"]
    workers = [{"pid": w["pid"], "fit_id": w["fit_id"], "heartbeat_age_s": round(now - w["heartbeat"], 3)}
               for w in store.workers()]
    alive = sum(w["heartbeat_age_s"] <= timeout for w in workers)
    return {
        # Degraded, not down: map and exact fits still work without sampling workers.
        "status": "ok" if alive else "degraded",
        "version": _version(),
        "queue_depth": counts.get("queued", 0),
        "running": counts.get("running", 0),
        "workers_alive": alive,
        "workers": workers,
    }


@bp.get("/openapi.json")
def spec():
    return openapi.document(current_app.config, _version())


@bp.get("/docs")
def docs():
    return openapi.docs_html(openapi.document(current_app.config, _version()))
