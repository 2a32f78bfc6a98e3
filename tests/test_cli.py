"""``bayesreg fit`` on a CSV and on the embedded diabetes data."""

import numpy as np
import pandas as pd
from sklearn.linear_model import Lasso

from bayesreg.cli import main


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
    assert "hdi_low" in captured.out and "bmi" in captured.out and "divergences:" in captured.out
    assert "400/400" not in captured.err and "800/800 draws" in captured.err  # the progress bar


def test_bad_argument_exits_2_with_message(tmp_path, capsys):
    assert main(["fit", "--alpha", "-1", "--method", "map"]) == 2
    assert "alpha" in capsys.readouterr().err
