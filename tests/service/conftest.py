"""Fixtures for the service tests: an in-process app (Flask test client, its
own sampling pool) and a real server (``python -m service``) on a free
loopback port, each with its own data directory."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Small caps so the cap tests send small bodies.
CAPS = {"MAX_CONTENT_LENGTH": 2 * 1024 * 1024, "MAX_CELLS": 100_000, "MAX_DRAWS_TOTAL": 40_000}


class BufferedClient(FlaskClient):
    """Flask's test client, its responses read whole and closed (``buffered=True``).

    Unbuffered, a file sent with ``send_file`` (posterior.nc, plot.png) stays open until the
    response is closed or collected: a ResourceWarning, an error under the suite's filters.
    """

    def open(self, *args, buffered=True, **kwargs):
        return super().open(*args, buffered=buffered, **kwargs)


# Every app's test_client() in these tests (the fixtures' and those the tests create) is one.
Flask.test_client_class = BufferedClient


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``python -m service`` in its own process group, stopped by its id."""

    def __init__(self, data_dir, workers=2, env=None, log_dir=None):
        self.data_dir = str(data_dir)
        self.log_dir = str(log_dir or data_dir)
        self.workers = workers
        self.env = {f"BAYESREG_{k}": str(v) for k, v in (env or {}).items()}
        self.proc = None
        self.base = None
        self.pids = set()

    def start(self, timeout=180):
        port = _free_port()
        self.base = f"http://127.0.0.1:{port}"
        env = dict(os.environ, PYTHONPATH=ROOT, BAYESREG_HTTP_WORKERS="2",
                   **{f"BAYESREG_{k}": str(v) for k, v in CAPS.items()}, **self.env)
        self.log = open(os.path.join(self.log_dir, "server.log"), "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "service", "--host", "127.0.0.1", "--port", str(port),
             "--data-dir", self.data_dir, "--workers", str(self.workers)],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

        def ready():
            assert self.proc.poll() is None, f"server exited with {self.proc.returncode}"
            try:
                reply = requests.get(self.url("/health"), timeout=2)
            except requests.RequestException:
                return None
            if reply.status_code != 200:  # the front answers 503 until gunicorn listens
                return None
            health = reply.json()
            # Rows of the previous run's workers linger until the new pool replaces them.
            pids = {w["pid"] for w in health["workers"]}
            fresh = len(pids) >= self.workers and not pids & self.pids
            return health if fresh and health["workers_alive"] >= self.workers else None

        health = wait_until(ready, timeout, interval=0.2, what="the server's /health")
        self.pids = {w["pid"] for w in health["workers"]}
        return health

    wait_until = staticmethod(wait_until)

    def url(self, path):
        return self.base + path

    def kill(self):
        """SIGKILL the whole server (master, HTTP workers, pool) as a crash would."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        self.proc = None
        self.log.close()

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None
        self.log.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("server-data"))
    try:  # a server that failed to become ready is stopped too, not left running
        srv.start()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    from service import create_app

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path_factory.mktemp("app-data")),
                      "WORKERS": 1, **CAPS})
    yield app
    app.extensions["bayesreg.pool"].stop()


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def bare(tmp_path):
    """An app of its own (no pool), so a test may add a route."""
    from service import create_app

    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "START_POOL": False})


class Reply:
    def __init__(self, status, headers, content):
        self.status, self.headers, self.content = status, headers, content

    @property
    def json(self):
        import json

        return json.loads(self.content)


class Http:
    """The same calls against Flask's test client or the real server."""

    def __init__(self, client=None, server=None):
        self.client, self.server = client, server

    def __call__(self, method, path, json=None, data=None, content_type=None):
        if self.client is not None:
            resp = self.client.open(path, method=method, json=json, data=data,
                                    content_type=content_type)
            return Reply(resp.status_code, resp.headers, resp.get_data())
        headers = {"Content-Type": content_type} if content_type else {}
        resp = requests.request(method, self.server.url(path), json=json, data=data,
                                headers=headers, timeout=120)
        return Reply(resp.status_code, resp.headers, resp.content)

    def wait_done(self, fit_id, timeout=240):
        seen = []

        def done():
            fit = self("GET", f"/v1/fits/{fit_id}").json
            seen.append((fit["status"], fit["progress"]["phase"], fit["progress"]["draws_done"]))
            return fit if fit["status"] in ("succeeded", "failed") else None

        return wait_until(done, timeout, interval=0.05, what=f"fit {fit_id}"), seen


# The same tests through the test client (fast) and the real server (slow: it starts
# `python -m service`, 5-10 s, and `make test-fast` runs none of it).
@pytest.fixture(params=["client", pytest.param("server", marks=pytest.mark.slow)])
def http(request):
    if request.param == "client":
        return Http(client=request.getfixturevalue("app").test_client())
    return Http(server=request.getfixturevalue("server"))
