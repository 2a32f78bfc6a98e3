"""Run the service: a buffering front, gunicorn behind it, one sampling pool.

``serve`` is a small manager process. It owns three things:

- the front (``service.front``), in its own event loop: the public socket,
  which reads every request in full before gunicorn sees it;
- gunicorn (``python -m service.server``), a child serving the Flask app on a
  Unix socket with gthread workers, which run map/exact fits in the request
  thread and queue nuts and dropout fits in SQLite;
- the pool supervisor (``python -m service.pool``), a child that owns the
  sampling processes.

It checks both children twice a second and replaces either one when it dies,
telling the new pool how the old one ended (``/health`` reports it). On
SIGTERM or SIGINT it stops the front, then gunicorn (gracefully), then the pool.
"""

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from gunicorn.app.base import BaseApplication

from .config import DEFAULTS
from .front import Front, Limits
from .pool import describe_exit, pool_lock, recover

__all__ = ["Manager", "front_limits", "run_http", "serve"]

log = logging.getLogger("bayesreg.server")


class _Gunicorn(BaseApplication):
    def __init__(self, options):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from . import create_app

        # in each HTTP worker: fit state changes (and the app's warnings) to stdout
        logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                            format="%(asctime)s http[%(process)d] %(message)s")
        return create_app()


def _setting(key, cast=float):
    return cast(os.environ.get(f"BAYESREG_{key}", DEFAULTS[key]))


def _die_with_parent():
    """Children get SIGTERM when the manager dies, even by SIGKILL (Linux; else a no-op)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Manager:
    """Starts gunicorn and the pool, and replaces whichever dies."""

    def __init__(self, data_dir, workers, socket_path):
        self.data_dir, self.workers, self.socket_path = data_dir, workers, socket_path
        self.http = self.pool = None
        self.restarts = {"http": 0, "pool": 0}
        self.last_exit = {"http": None, "pool": None}
        self._last_start = {"http": 0.0, "pool": 0.0}
        self._quick = {}

    def start_pool(self):
        env = dict(os.environ)
        cmd = [sys.executable, "-m", "service.pool", "--data-dir", self.data_dir,
               "--workers", str(self.workers), "--poll", str(_setting("POLL_INTERVAL")),
               "--fit-time-limit", str(_setting("FIT_TIME_LIMIT")),
               "--stall-timeout", str(_setting("STALL_TIMEOUT")),
               "--cancel-grace", str(_setting("CANCEL_GRACE")),
               "--orphan-grace", str(_setting("ORPHAN_GRACE")),
               "--restarts", str(self.restarts["pool"])]
        if self.last_exit["pool"]:
            cmd += ["--last-exit", self.last_exit["pool"]]
        self.pool = subprocess.Popen(cmd, env=env, preexec_fn=_die_with_parent)
        self._last_start["pool"] = time.monotonic()

    def start_http(self):
        # One BLAS thread per HTTP worker: the request threads are the parallelism, and the
        # cost caps (BAYESREG_MAX_PREDICT_COST, ...) are calibrated on one thread.
        env = dict(os.environ)
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(name, "1")
        self.http = subprocess.Popen(
            [sys.executable, "-m", "service.server", "--bind", f"unix:{self.socket_path}"],
            env=env, preexec_fn=_die_with_parent)
        self._last_start["http"] = time.monotonic()

    def check(self):
        """Replace a dead child: at once if it had run a while, else after a delay that
        doubles with each quick death (up to a minute), so a crash loop cannot spin."""
        for name, start in (("pool", self.start_pool), ("http", self.start_http)):
            proc = getattr(self, name)
            code = proc.poll()
            if code is None:
                continue
            lived = time.monotonic() - self._last_start[name]
            quick = self._quick.get(name, 0)
            if lived < min(60.0, 2.0 ** quick):
                continue  # wait out the delay (measured from its last start)
            self._quick[name] = quick + 1 if lived < 30.0 else 0
            how = describe_exit(code)
            self.restarts[name] += 1
            self.last_exit[name] = f"pid {proc.pid} ended with {how}"
            log.warning("bayesreg: the %s process %d ended with %s; starting a new one",
                        "sampling pool" if name == "pool" else "HTTP server", proc.pid, how)
            start()

    def stop(self):
        for proc in (self.http, self.pool):
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in (self.http, self.pool):
            if proc is None:
                continue
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def front_limits():
    return Limits(max_body=_setting("MAX_CONTENT_LENGTH", int),
                  header_timeout=_setting("FRONT_HEADER_TIMEOUT"),
                  body_timeout=_setting("FRONT_BODY_TIMEOUT"),
                  max_connections=_setting("FRONT_MAX_CONNECTIONS", int),
                  max_buffered=_setting("FRONT_MAX_BUFFERED", int),
                  retry_after=_setting("RETRY_AFTER", int))


def serve(host: str, port: int, data_dir: str, workers: int | None = None) -> int:
    """Serve in the foreground until SIGINT/SIGTERM; ``workers`` = sampling processes."""
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s front[%(process)d] %(message)s")
    data_dir = os.path.abspath(data_dir)
    os.makedirs(data_dir, exist_ok=True)
    workers = int(workers or os.environ.get("BAYESREG_WORKERS") or DEFAULTS["WORKERS"])
    # gunicorn's workers build their app from the environment.
    os.environ["BAYESREG_DATA_DIR"] = data_dir
    os.environ["BAYESREG_START_POOL"] = "false"
    os.environ["BAYESREG_WORKERS"] = str(workers)
    # A short path: a Unix socket path is limited to about 100 bytes.
    sock_dir = tempfile.mkdtemp(prefix="bayesreg-")
    manager = Manager(data_dir, workers, os.path.join(sock_dir, "http.sock"))
    # Before any HTTP worker exists, so no client sees a dead fit as running; skipped if a
    # live pool (another server) owns this data directory.
    probe = pool_lock(data_dir)
    if probe is not None:
        recover(data_dir)
        probe.close()
    manager.start_pool()
    manager.start_http()
    front = Front(manager.socket_path, front_limits())
    url = f"http://{host}:{port}"
    print(f"bayesreg service on {url} (data in {data_dir}, {workers} sampling workers)\n"
          f"  docs:  {url}/docs\n"
          f"  try:   curl -s -X POST {url}/v1/fits -H 'Content-Type: application/json' "
          f"-d '{{\"dataset\": \"diabetes\", \"prior\": \"lasso\", \"alpha\": 0.1, "
          f"\"method\": \"map\"}}'", flush=True)

    async def main():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

        async def watch():
            while not stop.is_set():
                try:
                    manager.check()
                except Exception:  # e.g. fork fails for a moment: keep watching
                    log.exception("bayesreg: could not check or restart a child; retrying")
                await asyncio.sleep(0.5)

        watcher = asyncio.create_task(watch())
        await front.serve(host, port, stop)
        watcher.cancel()

    try:
        asyncio.run(main())
    finally:
        manager.stop()
        shutil.rmtree(sock_dir, ignore_errors=True)
    return 0


def run_http(bind):
    """gunicorn serving the app on ``bind`` (the manager's Unix socket)."""
    options = {
        "bind": bind,
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
    }
    _Gunicorn(options).run()
    return 0


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m service.server",
                                     description="gunicorn serving the bayesreg app (started by serve)")
    parser.add_argument("--bind", required=True)
    sys.exit(run_http(parser.parse_args().bind))
