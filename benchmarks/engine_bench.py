"""Sampler engine benchmark (run by hand): cold start, new widths, wide designs, one gradient.

    python benchmarks/engine_bench.py [--out benchmarks/results/engine_bench.md] [--quick]

1. Cold start. Fresh processes, the kernel already in numba's disk cache (any earlier fit on
   the machine): ``python -c "import bayesreg.estimator"`` (what a fit imports) against ``bayesreg fit --method nuts`` on
   diabetes (the whole command, table printed), median of 5 each, and the ratio.
2. New width. In one warm process, for each of p = 7, 13, 31, 64: the first lasso fit at that
   width against a second fit at the same width (median of 3), and the ratio.
3. Width. Warm lasso, 4 chains x (1000 tune + 1000 draws), alpha 0.05, synthetic data with 5
   non-zero coefficients: p = 20 and p = 500 at n = 1000, p = 20 and p = 500 at n = 100; wall
   time, min ESS_bulk, max r_hat, steps per draw, and the ratio p = 500 / p = 20 at each n.
   Stretch: p = 2000, n = 200 (fewer rows than columns: data form, low-rank whitening).
4. One gradient at p = 200, 500 and 2000 against one BLAS matrix-vector product of that size.

Every ratio is of two figures measured in the same run. The 1-minute load average is recorded
at the start and end of each part.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import timeit
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from core_bench import load_average, machine  # noqa: E402

warnings.filterwarnings("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
BAYESREG = os.path.join(os.path.dirname(sys.executable), "bayesreg")


def timed_command(cmd) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def cold_start(repeats):
    subprocess.run([BAYESREG, "fit", "--method", "nuts", "--quiet"], check=True,
                   capture_output=True)               # the kernel is in the disk cache
    load = [load_average()]
    imports, fits = [], []
    for _ in range(repeats):
        imports.append(timed_command([sys.executable, "-c", "import bayesreg.estimator"]))
        fits.append(timed_command([BAYESREG, "fit", "--method", "nuts", "--quiet"]))
    load.append(load_average())
    imp, fit = statistics.median(imports), statistics.median(fits)
    return {"import_s": imp, "fit_s": fit, "ratio": fit / imp, "load": load,
            "imports": imports, "fits": fits}


def synthetic(n, p, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    w = np.zeros(p)
    w[:5] = [3.0, -2.0, 1.5, 1.0, -1.0]
    return X, X @ w + rng.standard_normal(n)


def lasso_fit(X, y, draws=1000, tune=1000, seed=1):
    from bayesreg import BayesianRegression

    start = time.perf_counter()
    est = BayesianRegression(prior="lasso", alpha=0.05, draws=draws, tune=tune, chains=4,
                             seed=seed).fit(X, y)
    seconds = time.perf_counter() - start
    stats = est.posterior_.sample_stats
    return {"s": seconds, "min_ess": est.diagnostics_["min_ess_bulk"],
            "max_r_hat": est.diagnostics_["max_r_hat"],
            "divergences": est.diagnostics_["divergences"],
            "steps": float(stats["n_steps"].mean()), "compile_s": est.timing_["compile_s"]}


def new_width(widths):
    lasso_fit(*synthetic(200, 5), draws=100, tune=100)     # the process is warm
    load = [load_average()]
    rows = []
    for p in widths:
        X, y = synthetic(1000, p, seed=p)
        first = lasso_fit(X, y)["s"]
        again = statistics.median(lasso_fit(X, y, seed=s)["s"] for s in (2, 3, 4))
        rows.append({"p": p, "first_s": first, "second_s": again, "ratio": first / again})
    load.append(load_average())
    return {"rows": rows, "load": load}


def width(cases):
    lasso_fit(*synthetic(200, 5), draws=100, tune=100)
    load = [load_average()]
    rows = []
    for n, p in cases:
        row = lasso_fit(*synthetic(n, p))
        row.update(n=n, p=p)
        rows.append(row)
        print(f"  n = {n}, p = {p}: {row['s']:.2f} s, min ESS {row['min_ess']:.0f}, "
              f"max r_hat {row['max_r_hat']:.4f}, {row['steps']:.1f} steps per draw", flush=True)
    load.append(load_average())
    return {"rows": rows, "load": load}


def gradient(widths):
    from bayesreg.model import ModelKey, fold_ridge, load_kernel, residual_stats, sampler_frame

    load_kernel()
    from bayesreg import kernel

    rows = []
    for p in widths:
        X, y = synthetic(1000, p)
        Xc, yc = X - X.mean(0), y - y.mean()
        m = np.zeros(p)
        rss, xtr = residual_stats(X, y, X.mean(0), y.mean(), m)
        key = ModelKey("laplace", p, True, False, False)
        frame = fold_ridge(sampler_frame(key, 1000, Xc.T @ Xc, m, rss, xtr, 1.0, 0.05, 1.0,
                                         np.ones(p), np.ones(p)))
        buf, x, g = frame.to_buffer(), np.full(frame.dim, 0.1), np.zeros(frame.dim)
        A, v = np.random.default_rng(0).random((p, p)), np.ones(p)
        grad_us = min(timeit.repeat(lambda: kernel.logp_and_grad(x, buf, g), number=500,
                                    repeat=7)) / 500 * 1e6
        gemv_us = min(timeit.repeat(lambda: A @ v, number=500, repeat=7)) / 500 * 1e6
        # the lasso gradient needs three p x p products: M z, W z and W' g
        rows.append({"p": p, "gradient_us": grad_us, "gemv_us": gemv_us,
                     "ratio_to_3_gemv": grad_us / (3 * gemv_us)})
    # fewer rows than columns: six n x p products (Q'z, Q(.), X dw, X'(.), and again for W')
    n, p = 200, 2000
    X, y = synthetic(n, p)
    Xc = X - X.mean(0)
    m = np.zeros(p)
    rss, xtr = residual_stats(X, y, X.mean(0), y.mean(), m)
    key = ModelKey("laplace", p, True, False, False)
    frame = sampler_frame(key, n, Xc.T @ Xc, m, rss, xtr, 1.0, 0.05, 1.0, np.ones(p),
                          np.ones(p), X=Xc)
    buf, x, g = frame.to_buffer(), np.full(frame.dim, 0.1), np.zeros(frame.dim)
    A, v = np.random.default_rng(0).random((n, p)), np.ones(p)
    grad_us = min(timeit.repeat(lambda: kernel.logp_and_grad(x, buf, g), number=200,
                                repeat=7)) / 200 * 1e6
    gemv_us = min(timeit.repeat(lambda: A @ v, number=500, repeat=7)) / 500 * 1e6
    return {"rows": rows, "lowrank": {"n": n, "p": p, "gradient_us": grad_us, "gemv_us": gemv_us,
                                      "ratio_to_6_gemv": grad_us / (6 * gemv_us)}}


def report(res, quick) -> str:
    import nutpie
    import pymc

    out = ["# Sampler engine benchmark", "",
           f"Machine: {machine()}; pymc {pymc.__version__}, nutpie {nutpie.__version__}. "
           f"Date {time.strftime('%Y-%m-%d %H:%M')}." + (" Quick settings." if quick else ""), ""]
    c = res["cold"]
    out += ["## 1. Cold start (fresh processes, kernel in numba's disk cache)", "",
            f"Load average {c['load'][0]} -> {c['load'][1]}.", "",
            "| | median wall time | runs |", "|---|---|---|",
            f"| `python -c \"import bayesreg.estimator\"` | {c['import_s']:.2f} s | "
            f"{', '.join(f'{t:.2f}' for t in c['imports'])} |",
            f"| `bayesreg fit --method nuts` (diabetes, 4 x (1000 + 1000)) | {c['fit_s']:.2f} s | "
            f"{', '.join(f'{t:.2f}' for t in c['fits'])} |",
            f"| ratio | {c['ratio']:.2f}x | |", ""]
    w = res["new_width"]
    out += ["## 2. New width in a warm process (lasso, n = 1000, 4 x (1000 + 1000))", "",
            f"Load average {w['load'][0]} -> {w['load'][1]}.", "",
            "| p | first fit at this width | second fit (median of 3) | ratio |",
            "|---|---|---|---|"]
    out += [f"| {r['p']} | {r['first_s']:.3f} s | {r['second_s']:.3f} s | {r['ratio']:.2f}x |"
            for r in w["rows"]]
    d = res["width"]
    out += ["", "## 3. Width (warm lasso, alpha 0.05, 4 x (1000 + 1000), 5 non-zero coefficients)",
            "", f"Load average {d['load'][0]} -> {d['load'][1]}.", "",
            "| n | p | wall time | min ESS_bulk | max r_hat | divergences | steps per draw |",
            "|---|---|---|---|---|---|---|"]
    out += [f"| {r['n']} | {r['p']} | {r['s']:.2f} s | {r['min_ess']:.0f} | {r['max_r_hat']:.4f} | "
            f"{r['divergences']} | {r['steps']:.1f} |" for r in d["rows"]]
    by = {(r["n"], r["p"]): r["s"] for r in d["rows"]}
    for n in (1000, 100):
        if (n, 20) in by and (n, 500) in by:
            out.append(f"\nRatio p = 500 / p = 20 at n = {n}: {by[(n, 500)] / by[(n, 20)]:.1f}x.")
    g = res["gradient"]
    out += ["", "## 4. One lasso gradient against BLAS", "",
            "| p | gradient | one dgemv (numpy) | gradient / 3 dgemv |", "|---|---|---|---|"]
    out += [f"| {r['p']} | {r['gradient_us']:.1f} us | {r['gemv_us']:.1f} us | "
            f"{r['ratio_to_3_gemv']:.2f} |" for r in g["rows"]]
    lr = g["lowrank"]
    out += ["", f"Fewer rows than columns (n = {lr['n']}, p = {lr['p']}; data form, low-rank "
            f"whitening): one gradient {lr['gradient_us']:.1f} us, one {lr['n']} x {lr['p']} "
            f"dgemv {lr['gemv_us']:.1f} us; gradient / 6 such products = "
            f"{lr['ratio_to_6_gemv']:.2f}."]
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(HERE, "results", "engine_bench.md"))
    parser.add_argument("--quick", action="store_true", help="fewer repeats and widths, no p = 2000")
    args = parser.parse_args()
    res = {}
    print("cold start ...", flush=True)
    res["cold"] = cold_start(3 if args.quick else 5)
    print(f"  import {res['cold']['import_s']:.2f} s, fit {res['cold']['fit_s']:.2f} s", flush=True)
    print("new width ...", flush=True)
    res["new_width"] = new_width([7, 13] if args.quick else [7, 13, 31, 64])
    print("width ...", flush=True)
    cases = [(1000, 20), (1000, 500), (100, 20), (100, 500)]
    if not args.quick:
        cases.append((200, 2000))
    res["width"] = width(cases)
    print("gradient ...", flush=True)
    res["gradient"] = gradient([200, 500, 2000])
    text = report(res, args.quick)
    with open(args.out, "w") as fh:
        fh.write(text)
    print(text)


if __name__ == "__main__":
    main()
