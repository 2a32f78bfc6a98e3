"""Default configuration of the service; every key can be overridden by
``create_app(config)`` or by an environment variable ``BAYESREG_<KEY>``."""

import os

DEFAULTS = {
    # Where the SQLite database and the per-fit files live.
    "DATA_DIR": os.path.join(os.getcwd(), "bayesreg-data"),
    # Sampling worker processes owned by the supervisor (see service/pool.py).
    "WORKERS": 2,
    # Whether create_app starts its own supervisor. ``serve`` turns it off and
    # starts one supervisor in gunicorn's master instead, so that several HTTP
    # workers share a single pool.
    "START_POOL": True,
    # Body size cap in bytes; Flask answers 413 above it.
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    "MAX_FORM_MEMORY_SIZE": 16 * 1024 * 1024,
    # Deepest JSON nesting accepted; a fit body needs 3 levels (object, X, row).
    "MAX_JSON_DEPTH": 16,
    # Caps on the size of a problem: cells of X, and posterior draws in total.
    "MAX_CELLS": 2_000_000,
    "MAX_FEATURES": 2_000,
    "MAX_DRAWS": 20_000,
    "MAX_TUNE": 20_000,
    "MAX_CHAINS": 8,
    "MAX_DRAWS_TOTAL": 80_000,
    # Caps of MC-dropout fits: epochs x training rows (Adam passes over data), the
    # number of hidden layers and the width of each, MC passes per prediction, and
    # MC passes x rows of one predict request (it runs in the HTTP thread).
    "MAX_EPOCHS": 100_000,
    "MAX_EPOCH_ROWS": 20_000_000,
    "MAX_HIDDEN_LAYERS": 8,
    "MAX_HIDDEN_UNITS": 1_024,
    "MAX_BATCH_SIZE": 100_000,
    "MAX_MC_SAMPLES": 10_000,
    "MAX_PREDICT_PASSES": 50_000_000,
    # Fits waiting or sampling at once; above it POST answers 503 + Retry-After.
    "MAX_QUEUE": 16,
    "RETRY_AFTER": 5,
    # Longest a ``"wait": true`` request holds its connection, in seconds.
    "WAIT_TIMEOUT": 30.0,
    # How often workers look for queued fits and the watchdog for dead workers.
    "POLL_INTERVAL": 0.005,
    # A worker whose heartbeat is older than this is not counted as alive.
    "HEARTBEAT_TIMEOUT": 3.0,
    "PAGE_LIMIT": 20,
    "MAX_PAGE_LIMIT": 200,
    # -- Faults and time (service/pool.py, service/front.py) -----------------
    # Longest a queued fit (nuts or dropout) may run once claimed, in seconds; past it the
    # worker stops it and it fails with a reason naming this limit.
    "FIT_TIME_LIMIT": 3600.0,
    # A sampler whose heartbeat is older than this (stopped, hung) is killed and replaced.
    "STALL_TIMEOUT": 60.0,
    # Seconds a worker has to stop a fit cancelled by DELETE (or past its time limit)
    # before the watchdog kills it.
    "CANCEL_GRACE": 10.0,
    # Fit directories with no database row (left by a failed request) older than this
    # many seconds are removed by the pool.
    "ORPHAN_GRACE": 900.0,
    # The buffering front: the request head must arrive within HEADER_TIMEOUT seconds and
    # the body within BODY_TIMEOUT; at most MAX_CONNECTIONS open connections and
    # MAX_BUFFERED bytes of request bodies held at once (503 + Retry-After above).
    "FRONT_HEADER_TIMEOUT": 10.0,
    "FRONT_BODY_TIMEOUT": 60.0,
    "FRONT_MAX_CONNECTIONS": 1024,
    "FRONT_MAX_BUFFERED": 512 * 1024 * 1024,
}
