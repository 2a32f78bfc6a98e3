"""How long a DELETE takes to stop a running fit, over HTTP.

Starts its own server (``python -m service``, 2 sampling workers) on 127.0.0.1 with a
temporary data directory. For each of ``--fits`` NUTS fits long enough to still be sampling
(p = 400, 2 x 21000 draws), it waits until sampling has started, sends DELETE (202), and
times how long the fit takes to reach ``cancelled``; it also times a MC-dropout training
stopped the same way. Writes benchmarks/results/cancel_latency.md.

    .venv/bin/python benchmarks/cancel_latency.py [--fits 5]
"""

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time

import numpy as np
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_bench import start_server, stop_server  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "benchmarks", "results", "cancel_latency.md")


def cancel_once(base, path, body, started):
    fit = requests.post(base + path, json=body, timeout=120).json()
    url = f"{base}{path}/{fit['id']}"
    while not started(requests.get(url, timeout=60).json()):
        time.sleep(0.05)
    t0 = time.perf_counter()
    assert requests.delete(url, timeout=60).status_code == 202
    while (fit := requests.get(url, timeout=60).json())["status"] == "running":
        time.sleep(0.02)
    elapsed = time.perf_counter() - t0
    assert fit["status"] == "cancelled", fit
    requests.delete(url, timeout=60)
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fits", type=int, default=5)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bayesreg-cancel-")
    data_dir = os.path.join(tmp, "data")
    os.makedirs(data_dir)
    load = os.getloadavg()
    proc, base = start_server(data_dir, workers=2)
    try:
        rng = np.random.default_rng(0)
        X = rng.normal(size=(250, 400))
        nuts = {"X": X.tolist(), "y": (X[:, :5].sum(axis=1) + rng.normal(size=250)).tolist(),
                "method": "nuts", "draws": 20000, "tune": 1000, "chains": 2}
        sampling = lambda f: f["status"] == "running" and f["progress"]["draws_done"] > 0  # noqa: E731
        training = lambda f: f["status"] == "running" and f["progress"]["epochs_done"] > 0  # noqa: E731
        nuts_s = [cancel_once(base, "/v1/fits", dict(nuts, seed=i), sampling)
                  for i in range(args.fits)]
        drop = {"dataset": "diabetes", "hidden": [64, 64], "epochs": 40000, "mc_samples": 10}
        drop_s = [cancel_once(base, "/v1/dropout/fits", dict(drop, seed=i), training)
                  for i in range(args.fits)]
    finally:
        stop_server(proc)
    load_end = os.getloadavg()
    text = "\n".join([
        "# DELETE of a running fit: time until it is cancelled",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; 1-minute load {load[0]:.2f} at the start, "
        f"{load_end[0]:.2f} at the end (shared machine).",
        "",
        "| fit | runs | median | max |",
        "|---|---:|---:|---:|",
        f"| NUTS, p = 400, sampling | {len(nuts_s)} | {np.median(nuts_s):.2f} s | "
        f"{max(nuts_s):.2f} s |",
        f"| MC dropout, training | {len(drop_s)} | {np.median(drop_s):.2f} s | "
        f"{max(drop_s):.2f} s |",
        "",
    ])
    with open(OUT, "w") as fh:
        fh.write(text)
    print(text)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
