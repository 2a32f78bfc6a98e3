"""UCI benchmark of MCDropoutRegressor against Gal & Ghahramani (2016), Table 1.

Protocol (benchmarks/data/uci/README.md): for each of the 20 published 90/10
splits, the last 20% of the training indices are held out as a validation part
(as in Gal's ``experiment.py``); every (dropout rate, tau) pair of
``dropout_rates.txt`` x ``tau_values.txt`` is trained on the first 80% and
scored by the validation log-likelihood; the best pair is retrained on the full
training split and evaluated on the test split: RMSE of the MC mean and the
mean test log-likelihood, both with T = 10,000 passes on the original scale.
One hidden layer of 50 ReLU units, dropout on inputs and hidden layer, Adam,
batch 128, l = 1e-2, weight decay l^2 (1 - p) / (2 N tau).

Usage::

    python benchmarks/uci_dropout.py                      # everything
    python benchmarks/uci_dropout.py --datasets yacht --splits 0-4
    python benchmarks/uci_dropout.py --grid-epochs 40     # cheaper grid search

Writes ``benchmarks/results/dropout_uci.{json,md}`` (or ``--out`` prefix).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bayesreg.dropout import MCDropoutRegressor  # noqa: E402

DATA = HERE / "data" / "uci"
DATASETS = ["yacht", "energy", "concrete", "wine-quality-red"]
PUBLISHED = {  # Gal & Ghahramani 2016, Table 1 (mean, sd over 20 splits)
    "concrete": ((5.23, 0.53), (-3.04, 0.09)),
    "energy": ((1.66, 0.19), (-1.99, 0.09)),
    "wine-quality-red": ((0.62, 0.04), (-0.93, 0.06)),
    "yacht": ((1.11, 0.38), (-1.55, 0.12)),
}


def load(name):
    d = DATA / name
    data = np.loadtxt(d / "data.txt")
    feat = np.loadtxt(d / "index_features.txt", dtype=int, ndmin=1)
    targ = int(np.loadtxt(d / "index_target.txt"))
    grid_p = np.loadtxt(d / "dropout_rates.txt", ndmin=1)
    grid_tau = np.loadtxt(d / "tau_values.txt", ndmin=1)
    return data[:, feat], data[:, targ], grid_p, grid_tau


def split(name, k):
    d = DATA / name
    tr = np.loadtxt(d / f"index_train_{k}.txt", dtype=int)
    te = np.loadtxt(d / f"index_test_{k}.txt", dtype=int)
    return tr, te


def parse_splits(s):
    out = []
    for part in s.split(","):
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def run_split(name, k, X, y, grid_p, grid_tau, args):
    tr, te = split(name, k)
    n_fit = int(0.8 * len(tr))
    tr_fit, va = tr[:n_fit], tr[n_fit:]
    common = dict(hidden=(50,), length_scale=1e-2, batch_size=128,
                  mc_samples=args.mc_samples, standardize=True)
    best = None
    for lr in args.learning_rates:
        for p in grid_p:
            for tau in grid_tau:
                m = MCDropoutRegressor(dropout=float(p), tau=float(tau), epochs=args.grid_epochs,
                                       learning_rate=lr, seed=1000 * k + 1, **common)
                m.set_params(mc_samples=args.grid_mc_samples)
                m.fit(X[tr_fit], y[tr_fit])
                ll = m.log_likelihood(X[va], y[va])
                if best is None or ll > best[0]:
                    best = (ll, float(p), float(tau), lr)
    _, p, tau, lr = best
    m = MCDropoutRegressor(dropout=p, tau=tau, epochs=args.epochs, learning_rate=lr,
                           seed=1000 * k + 2, **common)
    m.fit(X[tr], y[tr])
    mu = m.predict(X[te])
    rmse = float(np.sqrt(np.mean((y[te] - mu) ** 2)))
    ll = m.log_likelihood(X[te], y[te])
    return dict(split=k, dropout=p, tau=tau, learning_rate=lr, val_ll=best[0], rmse=rmse, ll=ll)


def machine():
    cpu = ""
    try:
        cpu = [ln.split(":", 1)[1].strip() for ln in
               subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
               if ln.startswith("Model name")][0]
    except Exception:
        pass
    return f"{os.cpu_count()} cores (nproc), {cpu}, {platform.python_version()}"


def write_md(results, args, path):
    lines = [
        "# MC dropout on the UCI benchmark (Gal & Ghahramani 2016 protocol)",
        "",
        f"Machine: {machine()}; shared with other jobs during the run.",
        f"Settings: 50 hidden ReLU units, Adam with learning rate "
        f"{' or '.join(f'{lr:g}' for lr in args.learning_rates)} (chosen with dropout and tau on "
        f"the validation part when several), batch 128, l = 1e-2, "
        f"T = {args.mc_samples} MC passes on the test split ({args.grid_mc_samples} for the "
        f"validation scores), grid search at {args.grid_epochs} epochs on an "
        f"80/20 split of each training split (selection by validation log-likelihood), "
        f"final fit on the full training split at {args.epochs} epochs.",
        "",
        "| data set | splits | RMSE (ours) | RMSE (published) | test LL (ours) | test LL (published) "
        "| within 1 published sd (RMSE / LL) | wall time (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, res in results.items():
        rows = res["splits"]
        if not rows:
            continue
        r = np.array([s["rmse"] for s in rows])
        ll = np.array([s["ll"] for s in rows])
        (pr, prs), (pl, pls) = PUBLISHED[name]
        ok_r = "yes" if r.mean() <= pr + prs else "no"
        ok_l = "yes" if ll.mean() >= pl - pls else "no"
        lines.append(
            f"| {name} | {len(rows)} | {r.mean():.2f} ± {r.std():.2f} | {pr:.2f} ± {prs:.2f} | "
            f"{ll.mean():.2f} ± {ll.std():.2f} | {pl:.2f} ± {pls:.2f} | {ok_r} / {ok_l} | "
            f"{res['seconds']:.0f} |"
        )
    lines += [
        "",
        "Mean ± sd over splits (population sd, as in Gal's code). \"Within 1 published sd\" "
        "means our mean is no worse than published mean + 1 sd (RMSE) or published mean - 1 sd "
        "(LL); better-than-published counts as within.",
        "",
        "Protocol notes: the selected configuration is retrained on the full training split "
        "(Gal's experiment.py instead scores the grid winner trained on the 80% part). "
        "Validation scores use fewer MC passes (see Settings) to keep the run short on a shared "
        "2-core machine; an earlier, interrupted run with T = 10,000 validation passes selected "
        "the same pair on 26 of the 28 splits it reached. With Keras's learning rate 0.001 alone "
        "(dropout_uci_lr0.001.md), 400 epochs of batches of 128 underfit yacht (277 training "
        "points, 1,200 Adam steps): RMSE 2.98; the same at 4,000 epochs is in "
        "dropout_uci_yacht_4000epochs.md. Adding 0.01 to the validation grid fixes that within "
        "the 400 epochs.",
        "",
        "Chosen (dropout, tau[, learning rate]) per split:",
        "",
    ]
    for name, res in results.items():
        ch = ", ".join(f"{s['split']}:({s['dropout']:g},{s['tau']:g}"
                       + (f",lr {s['learning_rate']:g}" if len(args.learning_rates) > 1 else "")
                       + ")" for s in res["splits"])
        lines.append(f"- {name}: {ch}")
    Path(path).write_text("\n".join(lines) + "\n")


def speed(out, repeats=7):
    """Median wall time of T = 10,000 MC passes for 100 test points, 50 hidden units."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 8))
    y = X @ rng.normal(size=8) + 0.1 * rng.normal(size=500)
    Xt = rng.normal(size=(100, 8))
    rows = []
    for dtype in ("float64", "float32"):
        m = MCDropoutRegressor(hidden=(50,), dropout=0.05, epochs=5, mc_samples=10000,
                               seed=0, dtype=dtype).fit(X, y)
        m.predict(Xt)  # compile / warm up
        for what, fn in [("predict (mean)", lambda: m.predict(Xt)),
                         ("predict(return_std=True)", lambda: m.predict(Xt, return_std=True)),
                         ("predict_interval (95%, exact mixture)",
                          lambda: m.predict_summary(Xt, hdi_prob=0.95, central=True))]:
            ts, cs = [], []
            for _ in range(repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                fn()
                ts.append(time.perf_counter() - t0)
                cs.append(time.process_time() - c0)
            rows.append((dtype, what, float(np.median(ts)), float(min(ts)), float(np.median(cs))))
        t0, c0 = time.perf_counter(), time.process_time()
        MCDropoutRegressor(hidden=(50,), dropout=0.05, epochs=400, seed=0,
                           dtype=dtype).fit(X, y)
        rows.append((dtype, "fit: 400 epochs, N = 500, batch 128 (1600 Adam steps)",
                     time.perf_counter() - t0, float("nan"), time.process_time() - c0))
    load = os.getloadavg()
    lines = ["# MC dropout speed", "",
             f"Machine: {machine()}; load average at the end {load[0]:.1f} / {load[1]:.1f} "
             f"(1 / 5 min): other jobs were running, so wall times include waiting for a core; "
             f"CPU time is the process's own.", "",
             f"T = 10,000 passes, 100 test points, 8 features, one hidden layer of 50 units "
             f"(median and min of {repeats} runs after warm-up; fit timed once).", "",
             "| dtype | operation | wall median (s) | wall min (s) | CPU median (s) |",
             "|---|---|---|---|---|"]
    lines += [f"| {d} | {w} | {med:.3f} | {mn:.3f} | {c:.3f} |" for d, w, med, mn, c in rows]
    Path(out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--splits", default="0-19")
    ap.add_argument("--epochs", type=int, default=400, help="epochs of the final fit")
    ap.add_argument("--grid-epochs", type=int, default=None,
                    help="epochs of the grid-search fits (default: --epochs)")
    ap.add_argument("--mc-samples", type=int, default=10000, help="T for the test scores")
    ap.add_argument("--grid-mc-samples", type=int, default=10000,
                    help="T for the validation scores of the grid search")
    ap.add_argument("--learning-rates", default="0.001",
                    help="Adam learning rates to add to the validation grid (default: Keras's "
                         "0.001, as in Gal's code)")
    ap.add_argument("--out", default=str(HERE / "results" / "dropout_uci"))
    ap.add_argument("--speed", action="store_true",
                    help="only time 10,000 MC passes (writes results/dropout_speed.md)")
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite the markdown from an existing --out json")
    args = ap.parse_args(argv)
    if args.report_only:
        saved = json.loads(Path(args.out + ".json").read_text())
        for key, val in saved["args"].items():
            setattr(args, key, val)
        if isinstance(args.learning_rates, str):  # results saved before the option existed
            args.learning_rates = [float(v) for v in args.learning_rates.split(",")]
        write_md(saved["results"], args, args.out + ".md")
        print(Path(args.out + ".md").read_text())
        return
    if args.speed:
        speed(str(HERE / "results" / "dropout_speed.md"))
        return
    if args.grid_epochs is None:
        args.grid_epochs = args.epochs
    args.learning_rates = [float(v) for v in args.learning_rates.split(",")]
    splits = parse_splits(args.splits)
    results = {}
    for name in args.datasets.split(","):
        X, y, gp, gt = load(name)
        t0 = time.perf_counter()
        results[name] = {"splits": []}
        for k in splits:
            ts = time.perf_counter()
            r = run_split(name, k, X, y, gp, gt, args)
            r["seconds"] = time.perf_counter() - ts
            results[name]["splits"].append(r)
            print(f"{name} split {k}: p={r['dropout']:g} tau={r['tau']:g} rmse={r['rmse']:.3f} "
                  f"ll={r['ll']:.3f} ({r['seconds']:.1f}s)", flush=True)
            results[name]["seconds"] = time.perf_counter() - t0
            Path(args.out + ".json").write_text(json.dumps(
                {"args": vars(args), "machine": machine(), "results": results}, indent=1))
            write_md(results, args, args.out + ".md")
    print(Path(args.out + ".md").read_text())


if __name__ == "__main__":
    main()
