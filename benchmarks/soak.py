"""Soak test of the service: mixed traffic from many clients while samplers are killed.

Starts its own server (``python -m service``, default limits, 2 sampling workers) on
127.0.0.1 with a temporary data directory. For ``--minutes`` minutes, ``--clients``
threads send a mix of MAP, exact and NUTS fits, reads, predictions, MC-dropout fits and
predictions, plots, downloads, malformed bodies, DELETEs of finished fits and DELETEs that
cancel running ones. Once a minute one sampling process is killed with SIGKILL.

At the end it waits for every acknowledged fit to end, then checks that each one is
accounted for: deleted by the client, or present with a terminal status (a fit whose
sampler was killed must be failed with that reason). It reports requests served, 5xx
(must be 0), p50/p99 latency per route, and the peak memory of the server's processes,
and writes benchmarks/results/soak.md.

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--clients 16]
"""

import argparse
import collections
import json
import os
import platform
import random
import shutil
import signal
import sys
import tempfile
import threading
import time

import numpy as np
import requests
from http_bench import start_server, stop_server  # the same server start as the HTTP benchmark

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "benchmarks", "results", "soak.md")
TERMINAL = ("succeeded", "failed", "cancelled")


def group_rss(pgid):
    """Total resident memory (bytes) of the processes in a process group."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.getpgid(int(entry)) != pgid:
                continue
            with open(f"/proc/{entry}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    return total


class Soak:
    def __init__(self, base, seed=0):
        self.base = base
        self.lat = collections.defaultdict(list)
        self.codes = collections.Counter()
        self.errors5xx = []
        self.unexpected = []
        self.fits = {}          # id -> path prefix, every acknowledged fit
        self.deleted = set()
        self.cancelled = set()  # DELETE answered 202
        self.succeeded = {"regression": [], "nuts": [], "mc_dropout": []}
        self.lock = threading.Lock()
        self.nuts_inflight = threading.Semaphore(8)  # below MAX_QUEUE = 16: no 503s by design
        self.rng = random.Random(seed)
        data = np.random.default_rng(seed)
        X = data.normal(size=(120, 8))
        self.X = X.tolist()
        self.y = (X @ data.normal(size=8) + data.normal(size=120)).tolist()

    def call(self, route, method, path, expect, **kw):
        start = time.perf_counter()
        try:
            reply = requests.request(method, self.base + path, timeout=120, **kw)
        except requests.RequestException as exc:
            with self.lock:
                self.unexpected.append((route, repr(exc)))
            return None
        elapsed = time.perf_counter() - start
        with self.lock:
            self.lat[route].append(elapsed)
            self.codes[reply.status_code] += 1
            if reply.status_code >= 500:
                self.errors5xx.append((route, reply.status_code, reply.text[:300]))
            elif reply.status_code not in expect:
                self.unexpected.append((route, reply.status_code, reply.text[:300]))
        return reply

    def acknowledge(self, reply, prefix, kind):
        if reply is not None and reply.status_code in (201, 202):
            fit = reply.json()
            with self.lock:
                self.fits[fit["id"]] = prefix
                if fit["status"] == "succeeded":
                    self.succeeded[kind].append(fit["id"])
            return fit
        return None

    def pick(self, kind):
        with self.lock:
            ids = [i for i in self.succeeded[kind] if i not in self.deleted]
        return self.rng.choice(ids) if ids else None

    # -- the mix -----------------------------------------------------------------------
    def map_fit(self):
        body = {"X": self.X, "y": self.y, "method": "map", "prior": self.rng.choice(
            ["ridge", "lasso", "elastic_net"]), "alpha": 10 ** self.rng.uniform(-3, 0)}
        self.acknowledge(self.call("POST fit map", "POST", "/v1/fits", (201,), json=body),
                         "/v1/fits", "regression")

    def exact_fit(self):
        body = {"dataset": "diabetes", "method": "exact", "prior": "ridge",
                "alpha": 10 ** self.rng.uniform(-3, 0)}
        self.acknowledge(self.call("POST fit exact", "POST", "/v1/fits", (201,), json=body),
                         "/v1/fits", "regression")

    def nuts_fit(self):
        if not self.nuts_inflight.acquire(blocking=False):
            return self.read()
        try:
            body = {"X": self.X, "y": self.y, "method": "nuts", "draws": 300, "tune": 300,
                    "chains": 2, "prior": "lasso", "alpha": 0.05, "wait": True}
            fit = self.acknowledge(self.call("POST fit nuts (wait)", "POST", "/v1/fits",
                                             (201, 202), json=body), "/v1/fits", "nuts")
            if fit is not None and fit["status"] == "succeeded":
                with self.lock:
                    self.succeeded["nuts"].append(fit["id"])
        finally:
            self.nuts_inflight.release()

    def cancel_fit(self):
        if not self.nuts_inflight.acquire(blocking=False):
            return self.read()
        try:
            body = {"X": self.X, "y": self.y, "method": "nuts", "draws": 20000, "tune": 1000,
                    "chains": 4}
            fit = self.acknowledge(self.call("POST fit nuts", "POST", "/v1/fits", (202,),
                                             json=body), "/v1/fits", "nuts")
            if fit is None:
                return
            time.sleep(self.rng.uniform(0.5, 3))
            reply = self.call("DELETE (cancel)", "DELETE", f"/v1/fits/{fit['id']}", (202, 204))
            if reply is not None and reply.status_code == 204:
                with self.lock:
                    self.deleted.add(fit["id"])
            elif reply is not None:
                with self.lock:
                    self.cancelled.add(fit["id"])
        finally:
            self.nuts_inflight.release()

    def read(self):
        fit_id = self.pick("regression") or self.pick("nuts")
        if fit_id:
            self.call("GET fit", "GET", f"/v1/fits/{fit_id}", (200, 404))
        else:
            self.call("GET list", "GET", "/v1/fits?limit=50", (200,))

    def listing(self):
        self.call("GET list", "GET", "/v1/fits?limit=50", (200,))

    def predict(self):
        fit_id = self.pick("nuts")
        if fit_id is None:
            return self.map_fit()
        rows = [[self.rng.gauss(0, 1) for _ in range(8)] for _ in range(self.rng.randint(1, 50))]
        self.call("POST predict", "POST", f"/v1/fits/{fit_id}/predict", (200, 404),
                  json={"X": rows})

    def plot_or_download(self):
        fit_id = self.pick("nuts")
        if fit_id is None:
            return self.read()
        if self.rng.random() < 0.5:
            self.call("GET plot.png", "GET", f"/v1/fits/{fit_id}/plot.png", (200, 404))
        else:
            self.call("GET posterior.nc", "GET", f"/v1/fits/{fit_id}/posterior.nc", (200, 404))

    def dropout_fit(self):
        body = {"X": self.X, "y": self.y, "hidden": [16], "epochs": 40, "mc_samples": 20,
                "wait": True}
        fit = self.acknowledge(self.call("POST dropout fit (wait)", "POST", "/v1/dropout/fits",
                                         (201, 202), json=body), "/v1/dropout/fits", "mc_dropout")
        if fit is not None and fit["status"] == "succeeded":
            with self.lock:
                self.succeeded["mc_dropout"].append(fit["id"])

    def dropout_predict(self):
        fit_id = self.pick("mc_dropout")
        if fit_id is None:
            return self.dropout_fit()
        rows = [[self.rng.gauss(0, 1) for _ in range(8)] for _ in range(self.rng.randint(1, 20))]
        self.call("POST dropout predict", "POST", f"/v1/dropout/fits/{fit_id}/predict",
                  (200, 404), json={"X": rows})

    def malformed(self):
        bodies = [b'{"X": [[1, 2]', b"[" * 5000, b'"' + b'\\"' * 20000,
                  json.dumps({"X": [["a"] * 10] * 100, "y": [1] * 100}).encode(),
                  json.dumps({"dataset": "diabetes", "alpha": -1}).encode(),
                  json.dumps({"X": [[1e300, 1]], "y": [1]}).encode(),
                  json.dumps({"dataset": "diabetes", "draws": 10 ** 9}).encode()]
        body = self.rng.choice(bodies)
        self.call("POST malformed", "POST", "/v1/fits", (400, 413, 415, 422), data=body,
                  headers={"Content-Type": "application/json"})

    def delete(self):
        with self.lock:
            candidates = [i for k in ("regression", "nuts") for i in self.succeeded[k]
                          if i not in self.deleted]
        if len(candidates) < 30:
            return self.read()
        fit_id = self.rng.choice(candidates[:-10])  # keep the newest for reads
        reply = self.call("DELETE", "DELETE", f"/v1/fits/{fit_id}", (204, 404))
        if reply is not None and reply.status_code == 204:
            with self.lock:
                self.deleted.add(fit_id)

    MIX = [("map_fit", 20), ("exact_fit", 8), ("nuts_fit", 8), ("cancel_fit", 1), ("read", 15),
           ("listing", 4), ("predict", 12), ("plot_or_download", 4), ("dropout_fit", 2),
           ("dropout_predict", 6), ("malformed", 10), ("delete", 6)]

    def client(self, deadline, seed):
        rng = random.Random(seed)
        names = [n for n, _ in self.MIX]
        weights = [w for _, w in self.MIX]
        while time.monotonic() < deadline:
            getattr(self, rng.choices(names, weights)[0])()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--kill-every", type=float, default=60)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="bayesreg-soak-")
    data_dir = os.path.join(tmp, "data")
    os.makedirs(data_dir)
    load_start = os.getloadavg()
    proc, base = start_server(data_dir, workers=2)
    soak = Soak(base)
    peak = [0]
    stop = threading.Event()
    kills = []

    def watch_memory():
        while not stop.wait(1.0):
            peak[0] = max(peak[0], group_rss(proc.pid))

    def killer():
        while not stop.wait(args.kill_every):
            workers = requests.get(base + "/health", timeout=30).json()["workers"]
            busy = [w for w in workers if w["fit_id"]] or workers
            if busy:
                victim = random.choice(busy)
                try:
                    os.kill(victim["pid"], signal.SIGKILL)
                    kills.append((victim["pid"], victim["fit_id"]))
                except ProcessLookupError:
                    pass

    helpers = [threading.Thread(target=watch_memory, daemon=True),
               threading.Thread(target=killer, daemon=True)]
    for t in helpers:
        t.start()
    started = time.monotonic()
    deadline = started + 60 * args.minutes
    clients = [threading.Thread(target=soak.client, args=(deadline, i)) for i in range(args.clients)]
    for t in clients:
        t.start()
    for t in clients:
        t.join()
    elapsed = time.monotonic() - started
    stop.set()

    # Every acknowledged fit ends, and is accounted for.
    def status(fit_id):
        reply = requests.get(base + f"{soak.fits[fit_id]}/{fit_id}", timeout=60)
        return None if reply.status_code == 404 else reply.json()

    final = {}
    settle_deadline = time.monotonic() + 600
    pending = [i for i in soak.fits if i not in soak.deleted]
    while pending and time.monotonic() < settle_deadline:
        still = []
        for fit_id in pending:
            fit = status(fit_id)
            if fit is not None and fit["status"] not in TERMINAL:
                still.append(fit_id)
            else:
                final[fit_id] = fit
        pending = still
        if pending:
            time.sleep(1)
    missing = [i for i, f in final.items() if f is None]
    statuses = collections.Counter(f["status"] for f in final.values() if f is not None)
    killed_fits = {fit_id for _, fit_id in kills if fit_id}
    killed_reported = sum(1 for i in killed_fits if final.get(i) is not None
                          and final[i]["status"] == "failed"
                          and "signal 9" in final[i]["error"]["message"])
    killed_other = collections.Counter(
        "deleted" if i in soak.deleted else "not ours" if i not in soak.fits
        else final[i]["status"] if final.get(i) else "missing"
        for i in killed_fits
        if not (final.get(i) and final[i]["status"] == "failed"
                and "signal 9" in final[i]["error"]["message"]))
    failed_reasons = collections.Counter(
        ("sampler killed" if "died with signal 9" in (f["error"] or {}).get("message", "")
         else "cancelled" if f["status"] == "cancelled" else (f["error"] or {}).get("message", "")[:80])
        for f in final.values() if f is not None and f["status"] in ("failed", "cancelled"))
    health = requests.get(base + "/health", timeout=30).json()
    peak[0] = max(peak[0], group_rss(proc.pid))
    stop_server(proc)
    load_end = os.getloadavg()

    total = sum(soak.codes.values())
    lines = [
        "# Soak test: mixed traffic, one sampler killed a minute",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; 1-minute load average {load_start[0]:.2f} at the "
        f"start and {load_end[0]:.2f} at the end (shared machine).",
        f"Run: {args.minutes:g} min ({elapsed:.0f} s), {args.clients} clients, 2 sampling "
        f"workers, default limits; {len(kills)} samplers killed with SIGKILL.",
        "",
        f"- requests served: {total} ({total / elapsed:.1f}/s)",
        f"- status codes: {dict(sorted(soak.codes.items()))}",
        f"- 5xx: {len(soak.errors5xx)}",
        f"- unexpected answers (not 5xx) or transport errors: {len(soak.unexpected)}",
        f"- peak memory of the server's processes (sum of RSS): {peak[0] / 2**20:.0f} MiB",
        f"- acknowledged fits: {len(soak.fits)}; deleted by clients: {len(soak.deleted)}; "
        f"cancelled by DELETE (202): {len(soak.cancelled)}",
        f"- at the end: {dict(statuses)}; not terminal after 10 min: {len(pending)}; "
        f"missing without a DELETE: {len(missing)}",
        f"- failure and cancel reasons: {dict(failed_reasons)}",
        f"- fits held by a killed sampler: {len(killed_fits)}; failed naming signal 9: "
        f"{killed_reported}; others: {dict(killed_other)} (a fit that ended before the kill "
        f"landed keeps its outcome)",
        f"- health at the end: {health['status']}, workers alive {health['workers_alive']}",
        "",
        "| route | requests | p50 | p99 |",
        "|---|---:|---:|---:|",
    ]
    for route, samples in sorted(soak.lat.items()):
        arr = np.asarray(samples) * 1000
        lines.append(f"| {route} | {len(arr)} | {np.median(arr):.1f} ms | "
                     f"{np.quantile(arr, 0.99):.1f} ms |")
    if soak.errors5xx:
        lines += ["", "5xx answers (first 10):"] + [f"- {e}" for e in soak.errors5xx[:10]]
    if soak.unexpected:
        lines += ["", "Unexpected answers (first 10):"] + [f"- {e}" for e in soak.unexpected[:10]]
    text = "\n".join(lines) + "\n"
    with open(OUT, "w") as fh:
        fh.write(text)
    print(text)
    ok = not soak.errors5xx and not missing and not pending
    if ok:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"kept {tmp} (server.log) for inspection")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
