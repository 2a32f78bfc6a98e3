"""Default configuration of the service; every key can be overridden by
``create_app(config)`` or by an environment variable ``BAYESREG_<KEY>``."""

import os

__all__ = ["DEFAULTS"]

DEFAULTS = {
    # Where the SQLite database and the per-fit files live.
    "DATA_DIR": os.path.join(os.getcwd(), "bayesreg-data"),
    # Sampling worker processes owned by the supervisor (see service/pool.py).
    "WORKERS": 2,
    # Whether create_app starts its own supervisor. ``serve`` turns it off and
    # starts one supervisor as a child of its manager process instead, so that
    # several HTTP workers share a single pool.
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
    # -- Cost caps of the request thread (service/fits.py, dropout.py, jobs.py) --
    # POST /v1/fits/{id}/predict of a fit with a posterior holds three float64
    # (posterior draws x rows) matrices at once (means, noise, draws): 24 bytes per draw
    # and row (tracemalloc). 10,000,000 -> about 240 MB peak and a second; e.g. 2,500 rows
    # of a 4,000-draw fit, 125 rows of an 80,000-draw one. Above it: 413.
    "MAX_PREDICT_DRAW_ROWS": 10_000_000,
    # ... and its product (posterior draws x rows x p multiply-adds): 2e9 is about a second.
    "MAX_PREDICT_MULADDS": 2_000_000_000,
    # Posterior draws x p of a nuts or exact fit (draws x chains x columns): 20,000,000 is
    # 160 MB of float64 draws in model.nc and in memory when it is read. Above it: 422.
    "MAX_POSTERIOR_CELLS": 20_000_000,
    # POST /v1/dropout/fits/{id}/predict: rows x mc_samples x (weights + 50 x units + 4000),
    # in multiply-adds of one thread: a weight is one multiply-add of a matrix product
    # (about 0.04 ns here), a unit (input or hidden) its mask (about 2 ns, 50 of them), and
    # 4000 the summaries of one pass (mean, sd, two mixture quantiles: 100-150 ns).
    # 5e10 -> about 2 s of one core; a network that cannot predict one row within it is
    # refused at POST /v1/dropout/fits (422). Above it: 413.
    "MAX_PREDICT_COST": 50_000_000_000,
    # map and exact fits whose worst-case cost (service.fits.sync_cost, in multiply-adds:
    # Cholesky, exact draws, lasso's coordinate descent at its 100,000-sweep limit) is at
    # most this run in the request thread (201, about a second at worst); larger ones are
    # queued for the worker pool like nuts (202 + Location, MAX_QUEUE, FIT_TIME_LIMIT).
    "MAX_SYNC_COST": 5_000_000_000,
    # POST /v1/paths: at most this many alphas on a path (n_alphas, or the length of alphas).
    # Each alpha is one fit in the worker, and the path keeps every fit's draws until its
    # LOO is computed, so MAX_POSTERIOR_CELLS caps draws x chains x p x alphas in total too.
    "MAX_PATH_ALPHAS": 100,
    # plot.png draws at most this many coefficients (those with the largest |posterior
    # mean|); the image is 100 * (0.45 * rows + 1.7) px high.
    "PLOT_MAX_COEFS": 50,
    # Fitted models kept in memory by each HTTP worker process (at most 32 of them), by an
    # estimate of their arrays: posterior draws (draws x (p + 2) x 8 bytes), p^2 x 8 for an
    # exact fit's covariance, a network's weights. A larger model is loaded per request.
    "ESTIMATOR_CACHE_BYTES": 256 * 1024 * 1024,
}
