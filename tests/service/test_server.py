"""What only a real server shows: concurrency, a worker killed mid-fit, restarts."""

import os
import signal
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests

# Slow (deselected by `make test-fast`): the real server (started once, 5-10 s), killed and restarted.
pytestmark = pytest.mark.slow


def _post(server, body, timeout=120):
    return requests.post(server.url("/v1/fits"), json=body, timeout=timeout)


def _wait(server, fit_id, timeout=240):
    def done():
        fit = requests.get(server.url(f"/v1/fits/{fit_id}"), timeout=30).json()
        return fit if fit["status"] in ("succeeded", "failed") else None

    return server.wait_until(done, timeout, what=f"fit {fit_id}")


def test_twenty_concurrent_map_fits(server):
    bodies = [{"dataset": "diabetes", "prior": "elastic_net", "alpha": 0.01 * (i + 1),
               "method": "map"} for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(lambda b: _post(server, b), bodies))
    assert [r.status_code for r in replies] == [201] * 20
    fits = [r.json() for r in replies]
    assert len({f["id"] for f in fits}) == 20
    assert all(f["status"] == "succeeded" for f in fits)
    # Different alphas, different answers: no request saw another's options.
    assert [f["request"]["alpha"] for f in fits] == [b["alpha"] for b in bodies]
    assert len({tuple(f["map"]["coef"]) for f in fits}) == 20


def test_killed_worker_fails_only_its_fit(server):
    # A width nobody compiled yet, so the fit spends seconds compiling: time to kill it.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 7))
    y = X @ rng.normal(size=7) + rng.normal(size=60)
    body = {"X": X.tolist(), "y": y.tolist(), "method": "nuts", "draws": 200, "tune": 200,
            "chains": 2}
    fit = _post(server, body).json()

    def running():
        f = requests.get(server.url(f"/v1/fits/{fit['id']}"), timeout=30).json()
        return f if f["status"] == "running" and f["worker_pid"] else None

    pid = server.wait_until(running, 120, what="the fit to start")["worker_pid"]
    assert pid in [w["pid"] for w in requests.get(server.url("/health"), timeout=30).json()["workers"]]
    os.kill(pid, signal.SIGKILL)

    failed = _wait(server, fit["id"], timeout=60)
    assert failed["status"] == "failed"
    assert "signal 9" in failed["error"]["message"] and str(pid) in failed["error"]["message"]
    assert requests.get(server.url("/health"), timeout=30).status_code == 200

    again = _wait(server, _post(server, body).json()["id"])
    assert again["status"] == "succeeded", again["error"]
    assert again["worker_pid"] != pid
    health = server.wait_until(lambda: (h := requests.get(server.url("/health"), timeout=30).json())
                        ["workers_alive"] == server.workers and h, 60, what="respawned worker")
    assert pid not in [w["pid"] for w in health["workers"]]


def test_restart_keeps_every_fit(server, tmp_path):
    nuts = _post(server, {"dataset": "diabetes", "method": "nuts", "draws": 200, "tune": 200,
                          "chains": 2, "wait": True}).json()
    _wait(server, nuts["id"])
    before = requests.get(server.url("/v1/fits?limit=200"), timeout=30).json()
    assert before["total"] >= 20
    nc_before = requests.get(server.url(f"/v1/fits/{nuts['id']}/posterior.nc"), timeout=30).content

    server.stop()
    server.start()

    after = requests.get(server.url("/v1/fits?limit=200"), timeout=30).json()
    assert after == before
    nc_after = requests.get(server.url(f"/v1/fits/{nuts['id']}/posterior.nc"), timeout=30).content
    assert nc_after == nc_before
    pred = requests.post(server.url(f"/v1/fits/{nuts['id']}/predict"),
                         json={"X": [[0.0] * 10]}, timeout=30)
    assert pred.status_code == 200 and pred.json()["posterior"]["mean"][0] > 0


def test_fit_running_when_server_died_is_reported_failed(server):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(50, 5))  # another fresh width: compiling keeps the fit running
    body = {"X": X.tolist(), "y": X.sum(axis=1).tolist(), "method": "nuts", "draws": 200,
            "tune": 200, "chains": 2}
    fit = _post(server, body).json()
    server.wait_until(lambda: requests.get(server.url(f"/v1/fits/{fit['id']}"), timeout=30)
               .json()["status"] == "running", 120, what="the fit to start")
    server.kill()
    server.start()
    after = requests.get(server.url(f"/v1/fits/{fit['id']}"), timeout=30).json()
    assert after["status"] == "failed"
    assert "server stopped while this fit was running" in after["error"]["message"]
