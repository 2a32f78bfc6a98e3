"""Learned alpha (run by hand): the sampled posterior of alpha against exact references.

    python benchmarks/learn_alpha.py [--replicates 500] [--workers 1]
                                     [--out benchmarks/results/learn_alpha.md]

1. The p = 1 lasso case of ``tests/test_learn_alpha.py`` (n = 50, weak signal, intercept,
   learned sigma, alpha ~ Half-Cauchy(0.05)): P(alpha > 1), P(alpha > 3) and the median of
   alpha by quadrature (no MCMC) beside ``BayesianRegression(learn_alpha=True)`` with
   4 x 25,000 draws, for several seeds.
2. Simulation-based calibration of alpha (p = 1, known sigma, no intercept; the test's design
   with more replicates): how often the true alpha lies above (below) all 199 retained draws,
   against the 1/200 expected, the binomial tail probability of each count, and the
   chi-square p-value of the 20-bin rank histogram. The same replicates ranked among exact
   posterior draws (1-D quadrature) are the control: what a perfect sampler would give.

The helpers (quadrature, simulator, ranking) are imported from ``tests/test_learn_alpha.py``, so
the benchmark and the test measure the same thing.

``--workers`` runs SBC replicates in that many processes (spawned). nutpie already runs the 4
chains of one fit on 2 threads, so on a 2-core machine 2 workers do not help: 60 replicates
took 7.6 s with 1 worker and 12.6 s with 2 (spawn and kernel loading, then contention). The
default is 1; the results file records the setting used.
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
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import test_learn_alpha as ref  # noqa: E402
from core_bench import machine  # noqa: E402


def load_average() -> str:
    return f"{os.getloadavg()[0]:.2f}"


# ------------------------------------------------------------------------------------- part 1

def tail_case(draws: int, seeds: list[int]) -> tuple[list[str], dict]:
    import arviz as az

    from bayesreg import BayesianRegression

    x, y, alpha0 = ref._tail_case()
    t0 = time.perf_counter()
    exact = ref.alpha_posterior(x, y, alpha0, (1.0, 3.0))
    quad_s = time.perf_counter() - t0
    fine = ref.alpha_posterior(x, y, alpha0, (1.0, 3.0), h_sigma=0.005, h_alpha=0.0125)
    rows, ratios = [], []
    for seed in seeds:
        t0 = time.perf_counter()
        est = BayesianRegression(prior="lasso", alpha=alpha0, learn_alpha=True, draws=draws,
                                 tune=1000, chains=4, seed=seed).fit(x[:, None], y)
        wall = time.perf_counter() - t0
        a = est.posterior_.posterior["alpha"].values
        above = (a > 1.0).astype(float)
        ess = float(az.ess(above)) if above.any() else 0.0
        p1, p3 = float(above.mean()), float((a > 3.0).mean())
        ratios.append(p1 / exact["tail"][1.0])
        rows.append(f"| {seed} | {p1:.5f} ({p1 / exact['tail'][1.0]:.2f}) | {p3:.5f} "
                    f"({p3 / exact['tail'][3.0]:.2f}) | {np.median(a):.5f} +- "
                    f"{float(az.mcse(a, method='median')):.5f} | "
                    f"{', '.join(f'{v:.4f}' for v in above.mean(axis=1))} | {ess:.0f} | "
                    f"{a.max():.3g} | {est.diagnostics_['divergences']} | {wall:.2f} |")
    lines = [
        f"## p = 1 lasso, intercept, learned sigma, alpha ~ Half-Cauchy({alpha0}): "
        f"4 x {draws:,} draws (tune 1000)",
        "",
        "Data: n = 50, x ~ N(0, 1), y = 0.4 x + N(0, 1), numpy seed 1 (`_tail_case` in "
        "tests/test_learn_alpha.py).",
        "",
        f"Quadrature (b and w integrated in closed form, Simpson grid over log sigma x log alpha, "
        f"{quad_s:.2f} s): P(alpha > 1) = {exact['tail'][1.0]:.6f}, P(alpha > 3) = "
        f"{exact['tail'][3.0]:.6f}, median {exact['median']:.6f}. Halving both spacings changes "
        f"them by {abs(fine['tail'][1.0] / exact['tail'][1.0] - 1):.1e}, "
        f"{abs(fine['tail'][3.0] / exact['tail'][3.0] - 1):.1e} and "
        f"{abs(fine['median'] / exact['median'] - 1):.1e} (relative).",
        "",
        "| seed | P(alpha > 1) (sampled / exact) | P(alpha > 3) (sampled / exact) | median +- MCSE "
        "| P(alpha > 1) per chain | ESS of 1{alpha > 1} | max alpha | divergences | fit (s) |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Pass criterion of the test (|sampled / exact - 1| <= 0.35 for P(alpha > 1)): met by "
        f"{sum(abs(r - 1) <= 0.35 for r in ratios)} of {len(ratios)} seeds.",
        "",
    ]
    return lines, {"exact": exact, "ratios": ratios}


# ------------------------------------------------------------------------------------- part 2

def sbc_one(args):
    """One SBC replicate: (true alpha, rank among the retained NUTS draws, ESS, divergences, s)."""
    seed, draws, tune = args
    import arviz as az

    from bayesreg import BayesianRegression

    warnings.filterwarnings("ignore")
    alpha, x, y = ref.sbc_replicate(seed)
    t0 = time.perf_counter()
    est = BayesianRegression(prior="lasso", alpha=ref.SBC_ALPHA0, learn_alpha=True,
                             sigma=ref.SBC_SIGMA, fit_intercept=False, draws=draws, tune=tune,
                             chains=4, seed=seed).fit(x[:, None], y)
    wall = time.perf_counter() - t0
    a = est.posterior_.posterior["alpha"].values
    rank = int((ref.retained_draws(a) < alpha).sum())
    return alpha, rank, float(az.ess(np.log(a))), est.diagnostics_["divergences"], wall


def sbc(replicates: int, draws: int, tune: int, seed_base: int, workers: int):
    tasks = [(seed_base + i, draws, tune) for i in range(replicates)]
    t0 = time.perf_counter()
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers) as pool:
            out = pool.map(sbc_one, tasks, chunksize=max(1, replicates // (8 * workers)))
    else:
        out = [sbc_one(t) for t in tasks]
    wall = time.perf_counter() - t0
    # the control: the same replicates ranked among exact, independent posterior draws
    rng = np.random.default_rng(seed_base)
    exact_ranks = []
    for i in range(replicates):
        alpha, x, y = ref.sbc_replicate(seed_base + i)
        d = ref.exact_alpha_draws_known_sigma(x, y, ref.SBC_ALPHA0, ref.SBC_SIGMA,
                                              ref.SBC_RETAINED, rng)
        exact_ranks.append(int((d < alpha).sum()))
    return out, exact_ranks, wall


def sbc_lines(out, exact_ranks, wall, replicates, draws, tune, seed_base, workers):
    from scipy import stats

    keep = ref.SBC_RETAINED
    q = 1.0 / (keep + 1)
    k, false_alarm = ref.extreme_thresholds(replicates)
    alphas = np.array([o[0] for o in out])
    ranks = [o[1] for o in out]
    ess = np.array([o[2] for o in out])
    div = int(sum(o[3] for o in out))
    fit_s = np.array([o[4] for o in out])

    def row(name, rk):
        s = ref.rank_summary(rk)
        p_top = stats.binom.sf(s["top"] - 1, replicates, q)
        p_bot = stats.binom.sf(s["bottom"] - 1, replicates, q)
        return (f"| {name} | {s['top']} ({s['top'] / replicates:.3f}) | {p_top:.2g} | "
                f"{s['bottom']} ({s['bottom'] / replicates:.3f}) | {p_bot:.2g} | "
                f"{s['chi2_p']:.3g} | {'fail' if max(s['top'], s['bottom']) >= k else 'pass'} |"), s

    nuts_row, s_nuts = row("NUTS (bayesreg)", ranks)
    exact_row, _ = row("exact draws (control)", exact_ranks)
    top_alphas = np.sort(alphas[np.asarray(ranks) == keep])
    lines = [
        f"## SBC of alpha: {replicates} replicates, p = 1, n = {ref.SBC_N}, known sigma = "
        f"{ref.SBC_SIGMA}, no intercept, alpha ~ Half-Cauchy({ref.SBC_ALPHA0})",
        "",
        f"Each replicate draws alpha, w ~ Laplace(0, sigma^2 / (n alpha)), x ~ N(0, 1)^n and "
        f"y ~ N(x w, sigma^2) (seeds {seed_base} to {seed_base + replicates - 1}), fits 4 x "
        f"{draws:,} draws (tune {tune}) and ranks the true alpha among {keep} evenly thinned "
        f"draws (ranks 0..{keep}). Expected fraction of top (bottom) ranks: 1/{keep + 1} = "
        f"{q:.4f}, i.e. {replicates * q:.1f} replicates. The test's rule scaled to this count "
        f"fails at {k} or more on either side (binomial false alarm {false_alarm:.1e} per side).",
        "",
        "| ranks among | true alpha above all (fraction) | P(count >= observed) | below all "
        "(fraction) | P(count >= observed) | chi-square p, 20 bins | rule |",
        "|---|---|---|---|---|---|---|",
        nuts_row,
        exact_row,
        "",
        f"Rank histogram (20 bins, NUTS): {' '.join(str(int(v)) for v in s_nuts['hist'])} "
        f"(expected {replicates / 20:.1f} per bin; the chi-square p-value means little below 5)",
        "",
        f"True alpha of the replicates ranked above all draws: "
        f"{', '.join(f'{v:.3g}' for v in top_alphas) or 'none'}",
        "",
        f"ESS of log alpha per replicate (of {4 * draws:,} draws): min {ess.min():.0f}, 5th "
        f"percentile {np.percentile(ess, 5):.0f}, median {np.median(ess):.0f}; divergences in "
        f"all: {div} ({np.mean([o[3] > 0 for o in out]):.0%} of replicates have some).",
        "",
        f"Wall time {wall:.1f} s with {workers} worker process(es); per fit median "
        f"{np.median(fit_s):.3f} s.",
        "",
    ]
    return lines


def main() -> None:
    import nutpie
    import pymc as pm
    import scipy

    parser = argparse.ArgumentParser()
    parser.add_argument("--replicates", type=int, default=500)
    parser.add_argument("--draws", type=int, default=ref.SBC_DRAWS, help="SBC draws per chain")
    parser.add_argument("--tune", type=int, default=ref.SBC_TUNE, help="SBC tuning per chain")
    parser.add_argument("--seed-base", type=int, default=1000,
                        help="replicate i uses this + i (1000: the first 300 are the test's)")
    parser.add_argument("--tail-draws", type=int, default=25_000)
    parser.add_argument("--tail-seeds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/learn_alpha.md"))
    args = parser.parse_args()

    start_load = load_average()
    started = datetime.datetime.now().astimezone()
    t_start = time.perf_counter()
    lines = [
        "# Learned alpha: sampled posterior against exact references",
        "",
        f"Date: {started:%Y-%m-%d %H:%M %Z}. Machine: {machine()}; pymc {pm.__version__}, "
        f"nutpie {nutpie.__version__}, numpy {np.__version__}, scipy {scipy.__version__}; "
        f"1-minute load average at the start {start_load}",
        "",
        f"Command: `python benchmarks/learn_alpha.py {' '.join(sys.argv[1:])}`".rstrip(),
        "",
    ]
    tail_lines, _ = tail_case(args.tail_draws, [20240611 + i for i in range(args.tail_seeds)])
    lines += tail_lines
    print("\n".join(tail_lines), flush=True)

    out, exact_ranks, wall = sbc(args.replicates, args.draws, args.tune, args.seed_base,
                                 args.workers)
    s_lines = sbc_lines(out, exact_ranks, wall, args.replicates, args.draws, args.tune,
                        args.seed_base, args.workers)
    lines += s_lines
    print("\n".join(s_lines), flush=True)
    lines += [f"Total {time.perf_counter() - t_start:.0f} s; 1-minute load average at the end "
              f"{load_average()}", ""]
    text = "\n".join(lines)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as fh:
        fh.write(text)
    print(lines[-2])
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
