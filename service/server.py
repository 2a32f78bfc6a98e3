"""Run the service under gunicorn, with one sampling pool for all HTTP workers.

Pool ownership: gunicorn's master starts the pool supervisor (``python -m
service.pool``) from its ``when_ready`` hook and stops it from ``on_exit``.
It is a child process of the master rather than threads in it, because the
master forks HTTP workers (threads do not survive a fork) and reaps every
child with ``waitpid(-1)`` (which would steal the exit codes the watchdog
reads). HTTP workers are gthread workers that run map/exact fits in the
request thread and queue nuts fits in SQLite for the pool.
"""

import os
import subprocess
import sys

from gunicorn.app.base import BaseApplication

from .config import DEFAULTS
from .pool import pool_lock, recover


class _Gunicorn(BaseApplication):
    def __init__(self, options):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from . import create_app

        return create_app()


def serve(host: str, port: int, data_dir: str, workers: int | None = None) -> int:
    """Serve in the foreground until SIGINT/SIGTERM; ``workers`` = sampling processes."""
    data_dir = os.path.abspath(data_dir)
    os.makedirs(data_dir, exist_ok=True)
    workers = int(workers or os.environ.get("BAYESREG_WORKERS") or DEFAULTS["WORKERS"])
    # HTTP workers build their app from the environment.
    os.environ["BAYESREG_DATA_DIR"] = data_dir
    os.environ["BAYESREG_START_POOL"] = "false"
    os.environ["BAYESREG_WORKERS"] = str(workers)
    poll = os.environ.get("BAYESREG_POLL_INTERVAL", str(DEFAULTS["POLL_INTERVAL"]))
    pool = {}

    def when_ready(server):
        # Before any HTTP worker exists, so no client sees a dead fit as running;
        # skipped if a live pool (another server) owns this data directory.
        probe = pool_lock(data_dir)
        if probe is not None:
            recover(data_dir)
            probe.close()
        pool["proc"] = subprocess.Popen(
            [sys.executable, "-m", "service.pool", "--data-dir", data_dir,
             "--workers", str(workers), "--poll", poll])
        url = f"http://{host}:{port}"
        print(f"bayesreg service on {url} (data in {data_dir}, {workers} sampling workers)\n"
              f"  docs:  {url}/docs\n"
              f"  try:   curl -s -X POST {url}/v1/fits -H 'Content-Type: application/json' "
              f"-d '{{\"dataset\": \"diabetes\", \"prior\": \"lasso\", \"alpha\": 0.1, "
              f"\"method\": \"map\"}}'", flush=True)

    def on_exit(server):
        proc = pool.get("proc")
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
            except ChildProcessError:
                pass  # the master's SIGCHLD handler reaped it already

    options = {
        "bind": f"{host}:{port}",
        "workers": int(os.environ.get("BAYESREG_HTTP_WORKERS", 2)),
        "worker_class": "gthread",
        "threads": int(os.environ.get("BAYESREG_HTTP_THREADS", 4)),
        # A ``"wait": true`` request may hold a thread for BAYESREG_WAIT_TIMEOUT seconds.
        "timeout": 120,
        "graceful_timeout": 10,
        "accesslog": os.environ.get("BAYESREG_ACCESS_LOG") or None,
        # Several servers may share a machine; gunicorn's default control
        # socket path (one per user) would collide.
        "control_socket_disable": True,
        "when_ready": when_ready,
        "on_exit": on_exit,
    }
    _Gunicorn(options).run()
    return 0
