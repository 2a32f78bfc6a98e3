"""Path benchmark (run by hand): a 20-alpha lasso path on diabetes, LOO included.

    python benchmarks/path_bench.py [--runs 3] [--out benchmarks/results/path_bench.md]

(from the repository root, with this checkout's bayesreg importable, e.g. ``PYTHONPATH=.``)

``regularization_path(X, y, prior="lasso")`` with its defaults: 20 alphas from alpha_max down
to 1e-3 of it, 4 chains x (1000 tune + 1000 draws) at each, PSIS-LOO at each. The sampler's
kernel is loaded before the first timed run. Reports the median wall time of ``runs`` runs
(different seeds), split into the MAPs, the posteriors and LOO, the smallest bulk ESS and the
largest r_hat along each path, and the load average around each run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

from core_bench import load_average, machine


def one_run(X, y, seed) -> dict:
    import bayesreg

    load_before = load_average()
    t0 = time.perf_counter()
    path = bayesreg.regularization_path(X, y, prior="lasso", seed=seed)
    wall = time.perf_counter() - t0
    diags = [d for d in path.diagnostics if d is not None]
    return {"seed": seed, "wall_s": wall, **{k: path.timing[k] for k in
                                            ("map_s", "sample_s", "loo_s")},
            "min_ess_bulk": min(d.min_ess_bulk for d in diags),
            "max_r_hat": max(d.max_r_hat for d in diags),
            "divergences": sum(d.divergences for d in diags),
            "pareto_k_bad": sum(r.pareto_k_bad for r in path.loo),
            "best_alpha": path.best_alpha, "alpha_1se": path.alpha_1se,
            "load": f"{load_before} -> {load_average()}"}


def uptime() -> str:
    return subprocess.run(["uptime"], text=True, capture_output=True).stdout.strip()


def report(runs: list[dict], before: str, after: str) -> str:
    med = {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "map_s", "sample_s",
                                                                "loo_s")}
    lines = [
        "# 20-alpha lasso path on diabetes (benchmarks/path_bench.py)",
        "",
        f"Machine: {machine()}.",
        "",
        f"`uptime` before: `{before}`; after: `{after}` (2 cores shared with other jobs).",
        "",
        "`regularization_path(X, y, prior='lasso')` with its defaults: 20 alphas, 4 chains x "
        "(1000 tune + 1000 draws) each, PSIS-LOO at each; the kernel loaded beforehand.",
        "",
        f"**Median of {len(runs)} runs: {med['wall_s']:.1f} s** (MAPs {med['map_s']:.2f} s, "
        f"posteriors {med['sample_s']:.1f} s, LOO {med['loo_s']:.1f} s).",
        "",
        "| seed | wall s | MAP s | posteriors s | LOO s | min ESS bulk | max r_hat | divergences "
        "| Pareto k > 0.7 | best_alpha | alpha_1se | load (1 min) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(f"| {r['seed']} | {r['wall_s']:.1f} | {r['map_s']:.3f} | "
                     f"{r['sample_s']:.1f} | {r['loo_s']:.1f} | {r['min_ess_bulk']:.0f} | "
                     f"{r['max_r_hat']:.4f} | {r['divergences']} | {r['pareto_k_bad']} | "
                     f"{r['best_alpha']:.4g} | {r['alpha_1se']:.4g} | {r['load']} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                      "path_bench.md"))
    args = parser.parse_args()
    import bayesreg

    X, y = bayesreg.load_diabetes()
    bayesreg.BayesianRegression(draws=10, tune=10, chains=2, seed=0).fit(X, y)  # load the kernel
    before = uptime()
    runs = [one_run(X, y, seed) for seed in range(1, args.runs + 1)]
    text = report(runs, before, uptime())
    with open(args.out, "w") as fh:
        fh.write(text)
    print(text)


if __name__ == "__main__":
    main()
