"""HTTP overhead of the service next to the in-process core, on diabetes.

Starts its own server (``python -m service``) on 127.0.0.1 with a temporary
data directory, runs bounded loops, stops the server, and writes a markdown
table to benchmarks/results/http_bench.md.

    .venv/bin/python benchmarks/http_bench.py [--requests 200] [--nuts-fits 7]
"""

import argparse
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "benchmarks", "results", "http_bench.md")
MAP_BODY = {"dataset": "diabetes", "prior": "lasso", "alpha": 0.1, "method": "map"}
NUTS_OPTIONS = {"prior": "lasso", "alpha": 0.1, "draws": 1000, "tune": 1000, "chains": 4, "seed": 1}


def ms(seconds):
    return f"{1000 * seconds:.1f} ms"


def quantiles(samples):
    arr = np.asarray(samples)
    return float(np.median(arr)), float(np.quantile(arr, 0.99))


def start_server(data_dir, workers):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    log = open(os.path.join(data_dir, "server.log"), "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "service", "--host", "127.0.0.1", "--port", str(port),
         "--data-dir", data_dir, "--workers", str(workers)],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/health", timeout=2).json().get("workers_alive", 0) >= workers:
                return proc, base
        except (requests.RequestException, ValueError):  # not up yet, or not JSON yet
            pass
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}; see {data_dir}/server.log")
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit("server did not become ready in 180 s")


def stop_server(proc):
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def bench_in_process(n_requests):
    from bayesreg import BayesianRegression, load_diabetes

    X, y = load_diabetes()
    est = BayesianRegression(prior="lasso", alpha=0.1, method="map")
    est.fit(X, y)
    maps = []
    for _ in range(n_requests):
        t0 = time.perf_counter()
        est.fit(X, y)
        maps.append(time.perf_counter() - t0)
    nuts = BayesianRegression(**{k: v for k, v in NUTS_OPTIONS.items() if k != "seed"},
                              seed=NUTS_OPTIONS["seed"])
    nuts.fit(X, y)  # compile once: the cache makes later fits warm
    return maps, nuts, (X, y)


def bench_http(base, n_requests, nuts_fits, data, nuts_in_process):
    session = requests.Session()
    url = base + "/v1/fits"
    for _ in range(5):
        session.post(url, json=MAP_BODY, timeout=30).raise_for_status()
    maps = []
    for _ in range(n_requests):
        t0 = time.perf_counter()
        resp = session.post(url, json=MAP_BODY, timeout=30)
        maps.append(time.perf_counter() - t0)
        assert resp.status_code == 201, resp.text
    X, y = data
    inline = {"X": X.to_numpy().tolist(), "y": y.tolist(), "prior": "lasso", "alpha": 0.1,
              "method": "map"}
    inline_times = []
    for _ in range(n_requests):
        t0 = time.perf_counter()
        resp = session.post(url, json=inline, timeout=30)
        inline_times.append(time.perf_counter() - t0)
        assert resp.status_code == 201, resp.text

    nuts_body = {"dataset": "diabetes", "method": "nuts", "wait": True, **NUTS_OPTIONS}
    first = session.post(url, json=nuts_body, timeout=300).json()  # the worker compiles here
    assert first["status"] == "succeeded", first["error"]
    # In-process and HTTP fits alternate, so a busy neighbour on this shared
    # machine slows both sides alike rather than skewing the ratio.
    warm, server_side, local = [], [], []
    Xd, yd = data
    for _ in range(nuts_fits):
        t0 = time.perf_counter()
        nuts_in_process.fit(Xd, yd)
        local.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        fit = session.post(url, json=nuts_body, timeout=300).json()
        warm.append(time.perf_counter() - t0)
        assert fit["status"] == "succeeded", fit["error"]
        server_side.append(fit["timing"]["total_s"])

    per_client, clients = max(1, n_requests // 4), 8
    errors = []

    def client(_):
        s = requests.Session()
        for _ in range(per_client):
            if s.post(url, json=MAP_BODY, timeout=30).status_code != 201:
                errors.append(1)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    elapsed = time.perf_counter() - t0
    throughput = clients * per_client / elapsed
    return (maps, inline_times, local, warm, server_side, throughput, clients * per_client,
            len(errors))


def machine():
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, "
            f"Python {platform.python_version()}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--nuts-fits", type=int, default=7)
    parser.add_argument("--workers", type=int, default=1, help="sampling worker processes")
    args = parser.parse_args(argv)
    n = max(1, min(args.requests, 5000))
    k = max(1, min(args.nuts_fits, 50))

    load_before = os.getloadavg()[0]
    in_map, nuts, data = bench_in_process(n)
    data_dir = tempfile.mkdtemp(prefix="bayesreg-bench-")
    proc, base = start_server(data_dir, args.workers)
    try:
        (http_map, http_inline, in_nuts, http_nuts, server_nuts, rps, total,
         errors) = bench_http(base, n, k, data, nuts)
    finally:
        stop_server(proc)
        shutil.rmtree(data_dir, ignore_errors=True)

    load_after = os.getloadavg()[0]
    im, ip = quantiles(in_map)
    hm, hp = quantiles(http_map)
    xm, xp = quantiles(http_inline)
    inn, hn, sn = statistics.median(in_nuts), statistics.median(http_nuts), statistics.median(server_nuts)
    rows = [
        ("MAP, lasso, in process (`fit(method='map')`)", f"{n} fits", ms(im), ms(ip), ""),
        ('MAP over HTTP, `{"dataset": "diabetes"}`', f"{n} requests", ms(hm), ms(hp),
         f"target median <= 20 ms: {'met' if hm <= 0.020 else 'MISSED'}"),
        ("MAP over HTTP, X and y inline (442 x 10 JSON)", f"{n} requests", ms(xm), ms(xp), ""),
        ("warm NUTS, in process (4 chains x 1000 + 1000 tune)", f"{k} fits", ms(inn), "", ""),
        ('warm NUTS over HTTP (`"wait": true`, round trip)', f"{k} fits", ms(hn), "",
         f"{hn / inn:.2f}x in-process (target <= 1.5x: {'met' if hn <= 1.5 * inn else 'MISSED'});"
         f" core time in the worker {ms(sn)}"),
        ("MAP throughput, 8 concurrent clients", f"{total} requests", "", "",
         f"{rps:.0f} requests/s, {errors} errors"),
    ]
    lines = [
        "# HTTP benchmark: service vs in-process core (diabetes, n = 442, p = 10)",
        "",
        f"Machine: {machine()}. Server: `python -m service` on 127.0.0.1, gunicorn gthread "
        f"(2 HTTP workers x 4 threads), {args.workers} sampling worker(s). "
        f"Run: `{' '.join(['python', 'benchmarks/http_bench.py', *sys.argv[1:]])}`, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "| what | sample | median | p99 | note |",
        "| --- | --- | --- | --- | --- |",
        *[f"| {' | '.join(row)} |" for row in rows],
        "",
        f"The machine is shared with other work (1-minute load average {load_before:.1f} at the "
        f"start, {load_after:.1f} at the end, on {os.cpu_count()} cores), so figures vary "
        "between runs.",
        "",
    ]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as fh:
        fh.write("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
