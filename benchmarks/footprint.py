"""What a server needs in memory: the sum of the resident sizes of `bayesreg serve`'s processes
(manager and front, gunicorn master and workers, pool supervisor and samplers), just after
start, and after one fit of each kind (MAP, exact, NUTS, MC dropout) and a prediction from each.

    python benchmarks/footprint.py            # default 2 sampling workers, as `make run`

Run by hand; the figures go in the README. Sum of RSS over-counts pages the processes share.
"""

import json
import os
import sys
import tempfile
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_bench import start_server, stop_server  # noqa: E402
from soak import group_rss  # noqa: E402

ROW = [[0.02, -0.04, 0.06, 0.02, -0.04, -0.03, -0.04, 0.0, 0.02, -0.02]]


def settled_rss(pgid, seconds=3.0):
    """The group's RSS once it has stopped changing for a moment (median of a few reads)."""
    reads = []
    for _ in range(int(seconds / 0.5)):
        reads.append(group_rss(pgid))
        time.sleep(0.5)
    return sorted(reads)[len(reads) // 2]


def fit(base, path, body):
    reply = requests.post(base + path, json={**body, "wait": True}, timeout=600)
    reply.raise_for_status()
    fit_id = reply.json()["id"]
    while reply.json()["status"] in ("queued", "running"):
        time.sleep(0.5)
        reply = requests.get(f"{base}{path}/{fit_id}", timeout=60)
    assert reply.json()["status"] == "succeeded", reply.json()
    requests.post(f"{base}{path}/{fit_id}/predict", json={"X": ROW}, timeout=60).raise_for_status()


def main():
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as data_dir:
        proc, base = start_server(data_dir, workers=2)
        try:
            idle = settled_rss(proc.pid)
            fit(base, "/v1/fits", {"dataset": "diabetes", "method": "map"})
            fit(base, "/v1/fits", {"dataset": "diabetes", "prior": "ridge", "method": "exact"})
            fit(base, "/v1/fits", {"dataset": "diabetes", "method": "nuts", "seed": 1})
            fit(base, "/v1/dropout/fits", {"dataset": "diabetes", "hidden": [50], "epochs": 50,
                                           "mc_samples": 1000, "seed": 1})
            busy = settled_rss(proc.pid)
        finally:
            stop_server(proc)
    print(json.dumps({"rss_after_start_mib": round(idle / 2**20),
                      "rss_after_fits_mib": round(busy / 2**20),
                      "loadavg_start": load, "loadavg_end": os.getloadavg()}, indent=1))


if __name__ == "__main__":
    main()
