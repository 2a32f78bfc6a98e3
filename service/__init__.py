"""bayesreg's JSON service: a Flask app over the core's public API.

``create_app(config)`` builds the app; ``service.server.serve`` runs it under
gunicorn with one shared sampling pool (see ``service.pool``).
"""

import atexit

from flask import Flask

from .config import DEFAULTS
from .store import Store

__all__ = ["create_app"]


def create_app(config=None):
    """Flask app factory: defaults, then ``BAYESREG_*`` environment, then ``config``."""
    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("BAYESREG")
    if config:
        app.config.from_mapping(config)
    app.extensions["bayesreg.store"] = Store(app.config["DATA_DIR"])

    from . import dropout, errors, fits, meta, paths

    errors.register(app)
    app.register_blueprint(meta.bp)
    app.register_blueprint(fits.bp)
    app.register_blueprint(dropout.bp)
    app.register_blueprint(paths.bp)

    if app.config["START_POOL"]:
        from .pool import Supervisor

        cfg = app.config
        pool = Supervisor(cfg["DATA_DIR"], cfg["WORKERS"], cfg["POLL_INTERVAL"],
                          cfg["FIT_TIME_LIMIT"], cfg["STALL_TIMEOUT"], cfg["CANCEL_GRACE"],
                          cfg["ORPHAN_GRACE"]).start()
        app.extensions["bayesreg.pool"] = pool
        atexit.register(pool.stop)
    return app
