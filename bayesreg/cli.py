"""Command line: ``bayesreg fit`` (MAP beside the posterior) and ``bayesreg serve`` (the REST API)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys

import numpy as np

from .estimator import METHODS, SAMPLERS
from .priors import PRIORS


def _progress_bar(stream):
    def show(done, total):
        width = 30
        filled = int(width * done / max(total, 1))
        stream.write(f"\rsampling [{'#' * filled}{'.' * (width - filled)}] {done}/{total} draws")
        if done >= total:
            stream.write("\n")
        stream.flush()
    return show


def _load(path, target):
    import pandas as pd

    from .datasets import load_diabetes

    if path is None:
        return load_diabetes()
    frame = pd.read_csv(path)
    if target not in frame.columns:
        raise SystemExit(f"error: --target {target!r} is not a column of {path}; "
                         f"columns: {list(frame.columns)}")
    return frame.drop(columns=[target]), frame[target]


@contextlib.contextmanager
def _log_to(stream):
    """Show the core's progress messages (e.g. a first compile) on ``stream`` meanwhile."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("bayesreg: %(message)s"))
    logger = logging.getLogger("bayesreg")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def cmd_fit(args) -> int:
    if args.quiet:
        return _fit(args)
    with _log_to(sys.stderr):
        return _fit(args)


def _fit(args) -> int:
    import pandas as pd

    from . import BayesianRegression, InputError

    X, y = _load(args.data, args.target)
    est = BayesianRegression(prior=args.prior, alpha=args.alpha, l1_ratio=args.l1_ratio,
                             sigma=args.sigma, standardize=args.standardize,
                             learn_alpha=args.learn_alpha, draws=args.draws, tune=args.tune,
                             chains=args.chains, hdi_prob=args.hdi_prob,
                             random_seed=args.seed, sampler=args.sampler)
    progress = _progress_bar(sys.stderr) if args.method == "nuts" and not args.quiet else None
    try:
        est.fit(X, y, method=args.method, progress=progress)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    source = args.data or "diabetes (scikit-learn, unit-norm columns)"
    print(f"{source}: n = {len(y)}, p = {X.shape[1]}, prior = {args.prior}, alpha = {est.alpha_:g}"
          f", method = {args.method}")
    table = est.summary()
    if args.method == "map":
        table = table[["map"]]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(4).to_string())
    if est.diagnostics_:
        d = est.diagnostics_
        print(f"divergences: {d['divergences']}, max r_hat: {d['max_r_hat']}, "
              f"min ess_bulk: {d['min_ess_bulk']}")
        for warning in d["warnings"]:
            print(f"warning: {warning}")
    timing = ", ".join(f"{k} {v:.3f}" for k, v in est.timing_.items())
    print(f"timing (s): {timing}")
    return 0


def cmd_serve(args) -> int:
    from service.server import serve

    return serve(host=args.host, port=args.port, data_dir=args.data_dir, workers=args.workers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bayesreg", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="fit a CSV (or the diabetes data) and print MAP vs posterior")
    fit.add_argument("data", nargs="?", help="CSV file with a header row (default: diabetes)")
    fit.add_argument("--target", default="y", help="name of the response column (default: y)")
    fit.add_argument("--prior", default="lasso", choices=sorted(PRIORS))
    fit.add_argument("--alpha", type=float, default=0.1)
    fit.add_argument("--l1-ratio", type=float, default=0.5)
    fit.add_argument("--sigma", type=float, default=None, help="known noise sd (default: learned)")
    fit.add_argument("--standardize", action="store_true")
    fit.add_argument("--learn-alpha", action="store_true")
    fit.add_argument("--method", default="nuts", choices=METHODS)
    fit.add_argument("--sampler", default="nutpie", choices=SAMPLERS)
    fit.add_argument("--draws", type=int, default=1000)
    fit.add_argument("--tune", type=int, default=1000)
    fit.add_argument("--chains", type=int, default=4)
    fit.add_argument("--hdi-prob", type=float, default=0.94)
    fit.add_argument("--seed", type=int, default=None)
    fit.add_argument("--quiet", action="store_true", help="no progress bar or messages")
    fit.set_defaults(func=cmd_fit)
    serve = sub.add_parser("serve", help="start the REST service (gunicorn) in the foreground")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--data-dir", default="bayesreg-data")
    serve.add_argument("--workers", type=int, default=None, help="sampling worker processes")
    serve.set_defaults(func=cmd_serve)
    return parser


def main(argv=None) -> int:
    np.set_printoptions(suppress=True)
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
