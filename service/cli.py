"""Command line: ``bayesreg fit`` (MAP beside the posterior), ``bayesreg path`` (the
regularization path with PSIS-LOO) and ``bayesreg serve`` (the REST API)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import warnings

__all__ = ["LEGEND", "METHODS", "PATH_PRIORS", "PRIORS", "SAMPLERS", "UsageError", "build_parser",
           "cmd_fit", "cmd_path", "cmd_serve", "main", "path_table"]

# Light imports only: ``bayesreg --help`` and usage errors must answer without loading PyMC
# (seconds). The estimator is imported when a fit runs; tests check these match its own.
METHODS = ("exact", "map", "nuts")
SAMPLERS = ("nutpie", "pymc")
PRIORS = ("elastic_net", "lasso", "ridge", "horseshoe", "regularized_horseshoe")
PATH_PRIORS = ("elastic_net", "lasso", "ridge")  # the priors with a penalty to vary


LEGEND = """columns: map = the MAP (the regularized estimate); mean, sd, median = posterior
  summaries; hdi_{pct}_low/high = the {pct} highest-density credible interval; r_hat, ess_bulk,
  ess_tail, mcse_mean = convergence diagnostics (ArviZ; r_hat <= 1.01 and ess >= 400 wanted);
  prob_positive = posterior P(coefficient > 0); map_in_hdi = whether the MAP lies in the HDI"""


class UsageError(Exception):
    """A problem with the command line's arguments or input file: one line, exit status 2."""


def _progress_bar(stream, unit="draws (tuning included)"):
    def show(done, total, phase="sampling"):
        width = 30
        filled = int(width * done / max(total, 1))
        stream.write(f"\r{phase:<8} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {unit}")
        if done >= total:
            stream.write("\n")
        stream.flush()
    return show


def _load(path, target):
    import pandas as pd

    from bayesreg import load_diabetes

    if path is None:
        return load_diabetes()
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:  # unreadable, empty, not CSV
        raise UsageError(f"cannot read {path} as CSV: {str(exc).splitlines()[0]}") from None
    if target not in frame.columns:
        raise UsageError(f"--target {target!r} is not a column of {path}; "
                         f"columns: {', '.join(map(str, frame.columns))}")
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
    import numpy as np
    import pandas as pd

    from bayesreg import BayesianRegression, InputError

    X, y = _load(args.data, args.target)
    np.set_printoptions(suppress=True)
    est = BayesianRegression(prior=args.prior, alpha=args.alpha, l1_ratio=args.l1_ratio,
                             sigma=args.sigma, standardize=args.standardize,
                             learn_alpha=args.learn_alpha, draws=args.draws, tune=args.tune,
                             chains=args.chains, hdi_prob=args.hdi_prob,
                             seed=args.seed, sampler=args.sampler, method=args.method,
                             global_scale=args.global_scale,
                             expected_nonzero=args.expected_nonzero, slab_df=args.slab_df,
                             slab_scale=args.slab_scale)
    progress = _progress_bar(sys.stderr) if args.method == "nuts" and not args.quiet else None
    try:
        est.fit(X, y, progress=progress)
    except InputError as exc:
        raise UsageError(str(exc)) from None
    source = args.data or "diabetes (scikit-learn, unit-norm columns)"
    penalty = (f"alpha = {est.alpha_:g}" if np.isfinite(est.alpha_) else
               "no mode: coef_ is the posterior median")
    print(f"{source}: n = {len(y)}, p = {X.shape[1]}, prior = {args.prior}, {penalty}"
          f", method = {args.method}")
    table = est.summary()
    if args.method == "map":
        table = table[["map"]]
    else:
        pct = f"{args.hdi_prob:.0%}"
        table = table.rename(columns={"hdi_low": f"hdi_{pct}_low", "hdi_high": f"hdi_{pct}_high"})
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(4).to_string())
    if args.method != "map":
        print(LEGEND.format(pct=pct))
    if est.diagnostics_:
        d = est.diagnostics_
        print(f"divergences: {d['divergences']}, max r_hat: {d['max_r_hat']}, "
              f"min ess_bulk: {d['min_ess_bulk']}")
        for warning in d["warnings"]:
            print(f"warning: {warning}")
    timing = ", ".join(f"{k} {v:.3f}" for k, v in est.timing_.items())
    print(f"timing (s): {timing}")
    return 0


def cmd_path(args) -> int:
    if args.quiet:
        return _path(args)
    with _log_to(sys.stderr):
        return _path(args)


def _path(args) -> int:
    from bayesreg import InputError, regularization_path

    alphas = None if args.alphas is None else _floats(args.alphas)
    X, y = _load(args.data, args.target)
    bar = _progress_bar(sys.stderr, "fits")
    progress = None if args.quiet else (lambda done, total: bar(done, total, "path"))
    try:
        # the path's own warning (Pareto k) is printed as a `warning:` line, as a fit's are
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            path = regularization_path(
                X, y, prior=args.prior, l1_ratio=args.l1_ratio, alphas=alphas,
                n_alphas=args.n_alphas, alpha_min_ratio=args.alpha_min_ratio,
                method=args.method, draws=args.draws, tune=args.tune, chains=args.chains,
                hdi_prob=args.hdi_prob, seed=args.seed, sigma=args.sigma,
                standardize=args.standardize, sampler=args.sampler, progress=progress)
    except InputError as exc:
        raise UsageError(str(exc)) from None
    source = args.data or "diabetes (scikit-learn, unit-norm columns)"
    print(f"{source}: n = {len(y)}, p = {X.shape[1]}, prior = {args.prior}, "
          f"method = {args.method}, {len(path.alphas)} alphas")
    print(path_table(path.to_dict()))
    for caught_warning in caught:
        print(f"warning: {caught_warning.message}")
    if args.plot:
        path.plot().savefig(args.plot)
        print(f"figure: {args.plot}")
    return 0


def path_table(result) -> str:
    """The path as text, one row per alpha: elpd_loo +- se, the nonzero MAP coefficients,
    the largest r_hat and the divergences; best_alpha and alpha_1se marked."""
    marks = {result["best_alpha"]: "best_alpha", result["alpha_1se"]: "alpha_1se"}
    if result["best_alpha"] is not None and result["best_alpha"] == result["alpha_1se"]:
        marks[result["best_alpha"]] = "best_alpha = alpha_1se"
    p = len(result["feature_names"])
    lines = [f"{'alpha':>11}  {'elpd_loo':>20}  {'nonzero':>7}  {'max_r_hat':>9}  "
             f"{'divergences':>11}"]
    elpd, se = result["elpd_loo"], result["elpd_loo_se"]
    for i, alpha in enumerate(result["alphas"]):
        loo = "-" if elpd is None or elpd[i] is None else f"{elpd[i]:.2f} +- {se[i]:.2f}"
        diag = result["diagnostics"][i] or {}  # None for a MAP (no posterior)
        r_hat, div = diag.get("max_r_hat"), diag.get("divergences")
        nonzero = sum(c != 0 for c in result["coef_map"][i])
        lines.append(f"{alpha:>11.4g}  {loo:>20}  {f'{nonzero}/{p}':>7}  "
                     f"{'-' if r_hat is None else f'{r_hat:.3f}':>9}  "
                     f"{'-' if div is None else div:>11}  {marks.get(alpha, '')}".rstrip())
    return "\n".join(lines)


def cmd_serve(args) -> int:
    from .server import serve

    return serve(host=args.host, port=args.port, data_dir=args.data_dir, workers=args.workers)


class _Defaults(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: ...)" to every option's help, unless the help states its own default
    (those whose default is None and means something: "learned", "fresh", "diabetes")."""

    def _get_help_string(self, action):
        if "(default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    fmt = _Defaults
    parser = argparse.ArgumentParser(prog="bayesreg", description=__doc__, formatter_class=fmt)
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser(
        "fit", formatter_class=fmt,
        help="fit a CSV (or the diabetes data) and print MAP vs posterior",
        description="Fit a CSV with a header row (or the embedded diabetes data) and print the "
                    "MAP beside the posterior, one row per coefficient.")
    fit.add_argument("data", nargs="?", help="CSV file with a header row (default: diabetes)")
    fit.add_argument("--target", default="y", help="name of the response column")
    fit.add_argument("--prior", default="lasso", choices=PRIORS,
                     help="Gaussian (ridge), Laplace (lasso), mixed (elastic_net) prior, or a "
                          "horseshoe (sampled only: --method nuts)")
    fit.add_argument("--alpha", type=float, default=0.1,
                     help="penalty strength, scikit-learn's ElasticNet convention")
    fit.add_argument("--l1-ratio", type=float, default=0.5, help="L1 share, for elastic_net")
    fit.add_argument("--sigma", type=float, default=None,
                     help="known noise sd (default: learned, Jeffreys prior)")
    fit.add_argument("--standardize", action="store_true",
                     help="penalize coefficients of columns scaled to unit sd")
    fit.add_argument("--learn-alpha", action="store_true",
                     help="learn alpha under a half-Cauchy prior scaled by --alpha")
    fit.add_argument("--global-scale", type=float, default=None,
                     help="horseshoes: tau0, the scale of tau's half-Cauchy prior (default: "
                          "from --expected-nonzero, else 1)")
    fit.add_argument("--expected-nonzero", type=int, default=None,
                     help="horseshoes: guessed number of non-zero coefficients p0; tau0 = "
                          "p0 / (p - p0) / sqrt(n) (default: none)")
    fit.add_argument("--slab-df", type=float, default=4.0,
                     help="regularized horseshoe: the slab's degrees of freedom")
    fit.add_argument("--slab-scale", type=float, default=2.0,
                     help="regularized horseshoe: the slab's scale (of w / sigma)")
    fit.add_argument("--method", default="nuts", choices=METHODS,
                     help="nuts: sample the posterior; map: the MAP only; exact: ridge's "
                          "closed-form posterior")
    fit.add_argument("--sampler", default="nutpie", choices=SAMPLERS, help="NUTS implementation")
    fit.add_argument("--draws", type=int, default=1000, help="draws per chain")
    fit.add_argument("--tune", type=int, default=1000, help="tuning draws per chain")
    fit.add_argument("--chains", type=int, default=4, help="chains")
    fit.add_argument("--hdi-prob", type=float, default=0.94, help="mass of the credible intervals")
    fit.add_argument("--seed", type=int, default=None, help="random seed (default: fresh)")
    fit.add_argument("--quiet", action="store_true", help="no progress bar or messages")
    fit.set_defaults(func=cmd_fit)
    _path_parser(sub, fmt)
    serve = sub.add_parser("serve", formatter_class=fmt,
                           help="start the REST service in the foreground",
                           description="Start the REST service (a buffering front, gunicorn "
                                       "and the sampling pool) until Ctrl-C.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument("--data-dir", default="bayesreg-data",
                       help="where fits are stored (SQLite + files)")
    serve.add_argument("--workers", type=int, default=None,
                       help="sampling worker processes (default: BAYESREG_WORKERS or 2)")
    serve.set_defaults(func=cmd_serve)
    return parser


def _path_parser(sub, fmt):
    path = sub.add_parser(
        "path", formatter_class=fmt,
        help="the regularization path: a fit per alpha, compared by PSIS-LOO",
        description="Fit a CSV with a header row (or the embedded diabetes data) at every alpha "
                    "of a grid and print the path: elpd_loo +- se (PSIS-LOO), the nonzero MAP "
                    "coefficients and the diagnostics per alpha, best_alpha (the largest "
                    "elpd_loo) and alpha_1se (the largest alpha within one se of it) marked.")
    path.add_argument("data", nargs="?", help="CSV file with a header row (default: diabetes)")
    path.add_argument("--target", default="y", help="name of the response column")
    path.add_argument("--prior", default="lasso", choices=PATH_PRIORS, help="the penalty's prior")
    path.add_argument("--l1-ratio", type=float, default=0.5, help="L1 share, for elastic_net")
    path.add_argument("--alphas", default=None,
                      help="comma-separated alphas (default: the grid of --n-alphas)")
    path.add_argument("--n-alphas", type=int, default=20,
                      help="alphas of the grid, log-spaced from alpha_max down")
    path.add_argument("--alpha-min-ratio", type=float, default=1e-3,
                      help="smallest alpha of the grid over alpha_max")
    path.add_argument("--method", default="nuts", choices=METHODS,
                      help="nuts: posterior and LOO per alpha; exact: the same for ridge in "
                           "closed form; map: the MAP path only")
    path.add_argument("--sigma", type=float, default=None,
                      help="known noise sd (default: learned, Jeffreys prior)")
    path.add_argument("--standardize", action="store_true",
                      help="penalize coefficients of columns scaled to unit sd")
    path.add_argument("--draws", type=int, default=1000, help="draws per chain, per alpha")
    path.add_argument("--tune", type=int, default=1000, help="tuning draws per chain, per alpha")
    path.add_argument("--chains", type=int, default=4, help="chains")
    path.add_argument("--hdi-prob", type=float, default=0.94, help="mass of the credible bands")
    path.add_argument("--seed", type=int, default=None, help="random seed (default: fresh)")
    path.add_argument("--sampler", default="nutpie", choices=SAMPLERS, help="NUTS implementation")
    path.add_argument("--plot", default=None,
                      help="save the path's figure to this PNG file (default: not saved)")
    path.add_argument("--quiet", action="store_true", help="no progress line or messages")
    path.set_defaults(func=cmd_path)


def _floats(text):
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"--alphas must be comma-separated numbers; got {text!r}") from None


# ArviZ 0.23 announces its coming refactor as a FutureWarning on its first import of each day:
# a note to developers of code built on ArviZ, not to someone running a fit.
_ARVIZ_NOTICE = r"\s*ArviZ is undergoing a major refactor"


def main(argv=None) -> int:
    warnings.filterwarnings("ignore", _ARVIZ_NOTICE, FutureWarning)
    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors: argparse prints one line, exit status 2
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"{parser.prog} {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
