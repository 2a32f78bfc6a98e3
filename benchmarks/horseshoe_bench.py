"""Horseshoe priors (run by hand): wall time, divergences and ESS of warm fits.

    python benchmarks/horseshoe_bench.py [--seeds 3] [--out benchmarks/results/horseshoe_bench.md]

1. NUTS's target acceptance on a sparse problem (n = 100, p = 20, 3 non-zero coefficients,
   unit noise, the default global scale): divergences over 4 x (1000 + 1000) draws at 0.8,
   0.95 and 0.99, for both priors and a few seeds. This chose the default, 0.99.
2. Default fits (4 x (1000 + 1000), target 0.99) of both priors on diabetes (442 x 10) and
   on a sparse p = 100 problem (n = 200, 5 non-zero coefficients, expected_nonzero = 5).

Each fit runs in this process after one warm-up fit (the kernel loaded from numba's cache);
times are ``BayesianRegression.fit`` wall times. The load average is recorded.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bayesreg import BayesianRegression, load_diabetes  # noqa: E402

PRIORS = ("horseshoe", "regularized_horseshoe")


def sparse(n, p, nonzero, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    w = np.zeros(p)
    w[:nonzero] = rng.choice([-1, 1], nonzero) * rng.uniform(1.0, 3.0, nonzero)
    return X, X @ w + 1.0 + rng.standard_normal(n)


def fit(X, y, **params):
    start = time.perf_counter()
    est = BayesianRegression(**params).fit(X, y)
    d = est.diagnostics_
    return time.perf_counter() - start, d["divergences"], d["min_ess_bulk"], d["max_r_hat"]


def target_table(seeds):
    X, y = sparse(100, 20, 3, 42)
    lines = ["| prior | target_accept | divergences (per seed, of 4,000 draws) | wall time (s) "
             "| min ESS_bulk |", "|---|---|---|---|---|"]
    for prior in PRIORS:
        for target in (0.8, 0.95, 0.99):
            runs = [fit(X, y, prior=prior, seed=s, target_accept=target) for s in range(seeds)]
            lines.append(f"| {prior} | {target} | {', '.join(str(r[1]) for r in runs)} | "
                         f"{np.median([r[0] for r in runs]):.2f} | "
                         f"{min(r[2] for r in runs):.0f} |")
    return lines


def default_table(seeds):
    X, y = load_diabetes()
    Xs, ys = sparse(200, 100, 5, 7)
    cases = [("diabetes, 442 x 10", X, y, {}),
             ("sparse, 200 x 100, 5 non-zero", Xs, ys, {"expected_nonzero": 5})]
    lines = ["| data | prior | wall time (s, median) | divergences (per seed) | min ESS_bulk "
             "| max r_hat |", "|---|---|---|---|---|---|"]
    for name, X_, y_, extra in cases:
        for prior in PRIORS:
            runs = [fit(X_, y_, prior=prior, seed=s, **extra) for s in range(seeds)]
            lines.append(f"| {name} | {prior} | {np.median([r[0] for r in runs]):.2f} | "
                         f"{', '.join(str(r[1]) for r in runs)} | "
                         f"{min(r[2] for r in runs):.0f} | {max(r[3] for r in runs):.4f} |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/horseshoe_bench.md"))
    args = parser.parse_args()
    X, y = sparse(50, 5, 2, 0)
    fit(X, y, prior="horseshoe", seed=0, draws=100, tune=100)       # warm-up: load the kernel
    load = [os.getloadavg()[0]]
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    out = ["# Horseshoe priors", "", f"{stamp} UTC, {os.cpu_count()} cores", "",
           "## Target acceptance (sparse, n = 100, p = 20, 3 non-zero)", "",
           *target_table(args.seeds)]
    load.append(os.getloadavg()[0])
    out += ["", "## Default fits (4 x (1000 + 1000), target_accept 0.99)", "",
            *default_table(args.seeds)]
    load.append(os.getloadavg()[0])
    loads = ", ".join(f"{v:.2f}" for v in load)
    out += ["", f"Load average (1 min) at start, middle, end: {loads}"]
    text = "\n".join(out) + "\n"
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
