"""Service-level endpoints: /health, /openapi.json, /docs."""

import time

from flask import Blueprint, current_app, redirect

from . import openapi

__all__ = ["bp"]
bp = Blueprint("meta", __name__)


def _version():
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bayesreg")
    except PackageNotFoundError:
        import bayesreg

        return bayesreg.__version__


@bp.get("/")
def root():
    """A person at a browser gets the API's documentation."""
    return redirect("/docs", code=302)


@bp.get("/health")
def health():
    store = current_app.extensions["bayesreg.store"]
    counts = store.counts()
    now, timeout = time.time(), current_app.config["HEARTBEAT_TIMEOUT"]
    workers = [{"pid": w["pid"], "fit_id": w["fit_id"], "heartbeat_age_s": round(now - w["heartbeat"], 3)}
               for w in store.workers()]
    alive = sum(w["heartbeat_age_s"] <= timeout for w in workers)
    pool = store.pool()
    supervisor = None
    if pool is not None:
        age = round(now - pool["heartbeat"], 3)
        supervisor = {"pid": pool["pid"], "alive": age <= timeout, "heartbeat_age_s": age,
                      "started_at": pool["started_at"], "restarts": pool["restarts"],
                      "last_exit": pool["last_exit"]}
    return {
        # Degraded, not down: map and exact fits still work without sampling workers.
        "status": "ok" if alive and (supervisor or {}).get("alive") else "degraded",
        "version": _version(),
        "queue_depth": counts.get("queued", 0),
        "running": counts.get("running", 0),
        "workers_alive": alive,
        "workers": workers,
        # The process that watches the samplers; a replaced one counts a restart and
        # says how its predecessor ended.
        "supervisor": supervisor,
    }


@bp.get("/openapi.json")
def spec():
    return openapi.document(current_app.config, _version())


@bp.get("/docs")
def docs():
    return openapi.docs_html(openapi.document(current_app.config, _version()))
