"""``bayesreg fit`` on a CSV and on the embedded diabetes data."""

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Lasso

from bayesreg import BayesianRegression, load_diabetes
from service.cli import main


def test_fit_csv_map_prints_the_lasso_solution(tmp_path, capsys, rng):
    X = rng.standard_normal((60, 3))
    y = 2 * X[:, 0] - X[:, 1] + rng.standard_normal(60)
    path = tmp_path / "data.csv"
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y}).to_csv(path, index=False)
    assert main(["fit", str(path), "--target", "y", "--prior", "lasso", "--alpha", "0.3",
                 "--method", "map"]) == 0
    out = capsys.readouterr().out
    coef = Lasso(alpha=0.3, tol=1e-14, max_iter=10**6).fit(X, y).coef_
    rows = {line.split()[0]: float(line.split()[1]) for line in out.splitlines()
            if line.split() and line.split()[0] in {"a", "b", "c"}}
    np.testing.assert_allclose([rows["a"], rows["b"], rows["c"]], coef, atol=1e-4)
    assert rows["c"] == 0.0


def test_fit_diabetes_nuts_prints_table_and_diagnostics(capsys):
    assert main(["fit", "--prior", "lasso", "--alpha", "0.05", "--draws", "200", "--tune", "200",
                 "--chains", "2", "--seed", "1"]) == 0
    captured = capsys.readouterr()
    assert "hdi_94%_low" in captured.out and "bmi" in captured.out
    # the diagnostics are those of the same seeded fit in Python
    X, y = load_diabetes()
    d = BayesianRegression(prior="lasso", alpha=0.05, draws=200, tune=200, chains=2,
                           seed=1).fit(X, y).diagnostics_
    assert (f"divergences: {d['divergences']}, max r_hat: {d['max_r_hat']}, "
            f"min ess_bulk: {d['min_ess_bulk']}\n") in captured.out, captured.out
    assert all(f"warning: {w}" in captured.out for w in d["warnings"])
    assert "400/400" not in captured.err and "800/800 draws" in captured.err  # the progress bar


def test_bad_argument_exits_2_with_message(tmp_path, capsys):
    assert main(["fit", "--alpha", "-1", "--method", "map"]) == 2
    assert "alpha" in capsys.readouterr().err


@pytest.mark.parametrize("argv, needle", [
    (["fit", "{missing}"], "no such file"),
    (["fit", "{csv}", "--target", "zz"], "--target 'zz' is not a column"),
    (["fit", "{csv}", "--target", "b", "--alpha", "-1", "--method", "map", "--quiet"], "alpha"),
    (["fit", "{empty}"], "cannot read"),
])
def test_usage_errors_exit_2_with_one_line_and_no_traceback(tmp_path, argv, needle):
    paths = {"missing": tmp_path / "none.csv", "csv": tmp_path / "d.csv", "empty": tmp_path / "e.csv"}
    paths["csv"].write_text("a,b\n1,2\n3,5\n4,4\n")
    paths["empty"].write_text("")
    argv = [a.format(**paths) for a in argv]
    done = subprocess.run([sys.executable, "-m", "service.cli", *argv], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in done.stderr, done.stderr


def _help_in_a_fresh_python(command):
    """``bayesreg <command> --help``'s text, and the heavy modules it imported."""
    code = ("import sys, contextlib, io\n"
            "from service.cli import main\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n"
            "    try:\n"
            f"        main([{command!r}, '--help'])\n"
            "    except SystemExit:\n"
            "        pass\n"
            "heavy = [m for m in ('pymc', 'pytensor', 'arviz') if m in sys.modules]\n"
            "print(heavy)\n"
            "print(out.getvalue())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    heavy, _, text = done.stdout.partition("\n")
    return heavy, text


@pytest.mark.parametrize("command, needles", [
    ("fit", ("(default: 0.1)", "(default: 1000)", "(default: lasso)")),
    ("path", ("--n-alphas", "(default: 20)", "(default: 1000)", "alpha_1se")),
])
def test_help_shows_defaults_without_importing_pymc(command, needles):
    heavy, text = _help_in_a_fresh_python(command)
    assert heavy == "[]", text
    assert all(needle in text for needle in needles), text
    # every option states one default, and None is said in words ("learned", "fresh")
    options = re.split(r"\n  (?=-)", text.split("options:", 1)[1])[2:]   # after -h
    assert options and all(o.count("(default:") == 1 for o in options), options
    assert "(default: None)" not in " ".join(text.split())  # wrapped lines joined


def test_the_command_line_offers_what_the_estimator_accepts():
    from bayesreg import estimator
    from service import cli

    assert set(cli.METHODS) == set(estimator.METHODS)
    assert set(cli.SAMPLERS) == set(estimator.SAMPLERS)
    assert set(cli.PRIORS) == set(estimator.PRIOR_NAMES)


def test_the_command_lines_defaults_are_the_estimators():
    from service.cli import build_parser

    names = ("prior", "alpha", "l1_ratio", "method", "draws", "tune", "chains", "hdi_prob",
             "sampler", "seed", "sigma", "standardize", "learn_alpha")
    parsed = vars(build_parser().parse_args(["fit"]))
    params = BayesianRegression().get_params()
    assert {n: parsed[n] for n in names} == {n: params[n] for n in names}
    # not merely equal by value: a bool stays a bool, an int an int
    assert all(type(parsed[n]) is type(params[n]) for n in names), names


def test_the_table_names_its_hdi_probability_and_has_a_legend(capsys):
    assert main(["fit", "--method", "exact", "--prior", "ridge", "--hdi-prob", "0.9",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "hdi_90%_low" in out and "hdi_90%_high" in out
    assert "columns: map = the MAP" in out and "the 90% highest-density credible interval" in out


# ----------------------------------------------------------------------------- bayesreg path


def _path_rows(out):
    """The table's rows: alpha, elpd_loo text, nonzero count, the mark."""
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if parts and re.fullmatch(r"[0-9.e+-]+", parts[0]) and "/" in line:
            nonzero = next(p for p in parts if re.fullmatch(r"\d+/\d+", p))
            rows.append((float(parts[0]), line, int(nonzero.split("/")[0])))
    return rows


def test_path_map_prints_scikit_learns_lasso_path(capsys):
    from sklearn.linear_model import lasso_path

    assert main(["path", "--method", "map", "--n-alphas", "6", "--quiet"]) == 0
    rows = _path_rows(capsys.readouterr().out)
    X, y = load_diabetes()
    Xc, yc = (X - X.mean()).to_numpy(), (y - y.mean()).to_numpy()
    alphas, coefs, _ = lasso_path(Xc, yc, alphas=6, eps=1e-3, tol=1e-12, max_iter=10**6)
    np.testing.assert_allclose([r[0] for r in rows], alphas, rtol=1e-3)  # printed to 4 digits
    assert [r[2] for r in rows] == list((np.abs(coefs) > 1e-10).sum(axis=0))
    assert rows[0][2] == 0 and all(" - " in r[1] for r in rows)  # no LOO for the MAP path


def test_path_nuts_marks_best_and_1se_and_saves_the_figure(tmp_path, capsys):
    from bayesreg import regularization_path

    png = tmp_path / "path.png"
    argv = ["path", "--n-alphas", "3", "--alpha-min-ratio", "0.01", "--draws", "100", "--tune",
            "100", "--chains", "2", "--seed", "3", "--plot", str(png)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    want = regularization_path(*load_diabetes(), n_alphas=3, alpha_min_ratio=0.01, draws=100,
                               tune=100, chains=2, seed=3)
    rows = _path_rows(captured.out)
    assert len(rows) == 3
    for (alpha, line, _), elpd, se in zip(rows, want.elpd_loo, want.elpd_loo_se):
        assert f"{elpd:.2f} +- {se:.2f}" in line
    marked = {alpha: line for alpha, line, _ in rows if "best_alpha" in line or "alpha_1se" in line}
    best = next(line for line in marked.values() if "best_alpha" in line)
    one_se = next(line for line in marked.values() if "alpha_1se" in line)
    assert best.split()[0] == f"{want.best_alpha:.4g}"
    assert one_se.split()[0] == f"{want.alpha_1se:.4g}"
    assert "3/3 fits" in captured.err  # the progress line
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv, needle", [
    (["path", "--alphas", "0.1,x", "--method", "map"], "--alphas must be comma-separated"),
    (["path", "--alphas", "0.1,-1", "--method", "map"], "alphas"),
    (["path", "--n-alphas", "0", "--method", "map"], "n_alphas"),
    (["path", "--prior", "lasso", "--method", "exact"], "exact"),
])
def test_path_usage_errors_exit_2_with_one_line(argv, needle):
    done = subprocess.run([sys.executable, "-m", "service.cli", *argv, "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in done.stderr, done.stderr


def test_the_path_commands_defaults_are_regularization_paths():
    import inspect

    from bayesreg import path as core_path
    from service import cli
    from service.cli import build_parser

    params = inspect.signature(core_path.regularization_path).parameters
    parsed = vars(build_parser().parse_args(["path"]))
    names = ("prior", "l1_ratio", "n_alphas", "alpha_min_ratio", "method", "draws", "tune",
             "chains", "hdi_prob", "seed")
    assert {n: parsed[n] for n in names} == {n: params[n].default for n in names}
    assert parsed["alphas"] is None and params["alphas"].default is None
    assert set(cli.PATH_PRIORS) == set(core_path.PRIORS)


def test_the_readmes_path_table_is_what_the_command_prints(capsys):
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text[text.index("`bayesreg path` runs"):]
    args = re.search(r"On diabetes with `([^`]+)`:\n\n```\n(.*?)```", section, flags=re.S)
    assert main(["path", *args.group(1).split(), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert args.group(2) in out, out


def test_path_passes_the_sampler_on(monkeypatch, capsys):
    """`bayesreg path --sampler` reaches every fit, as `bayesreg fit --sampler` does."""
    import bayesreg

    seen = {}
    real = bayesreg.regularization_path

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(bayesreg, "regularization_path", spy)
    assert main(["path", "--method", "map", "--n-alphas", "2", "--sampler", "pymc",
                 "--quiet"]) == 0
    assert seen["sampler"] == "pymc"
    with pytest.raises(SystemExit):
        main(["path", "--sampler", "stan"])
    assert "invalid choice: 'stan'" in capsys.readouterr().err


def test_path_prints_the_pareto_warning_as_a_warning_line(tmp_path):
    """On six rows PSIS-LOO is unreliable: the command says so in a `warning:` line on stdout
    (as `bayesreg fit` prints its diagnostics' warnings), not as a Python warning."""
    csv = tmp_path / "data.csv"
    csv.write_text("a,b,y\n1,2,3.1\n2,1,2.9\n3,4,7.2\n4,3,6.8\n5,5,9.9\n6,2,8.1\n")
    done = subprocess.run([sys.executable, "-m", "service.cli", "path", str(csv), "--target",
                           "y", "--prior", "ridge", "--method", "exact", "--alphas", "1,0.01",
                           "--seed", "1", "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("warning: ")]
    assert len(lines) == 1 and "Pareto k > 0.7" in lines[0], done.stdout
    assert "UserWarning" not in done.stderr and "warning" not in done.stderr.lower()
