"""The posterior regularization path (bayesreg.path): the MAP path against scikit-learn's
lasso_path / enet_path, the grid, the selection rules, the posterior against direct fits."""

import io
import json
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure
from sklearn.linear_model import enet_path, lasso_path

from bayesreg import (BayesianRegression, InputError, RegularizationPath, SuffStats,
                      regularization_path)
from bayesreg.model import Cancelled
from bayesreg.path import SUMMARY_COLUMNS, alpha_max, best_index, one_se_index
from bayesreg.pipeline import solve_map
from bayesreg.priors import Prior

SMALL = dict(draws=200, tune=200, chains=2)
DICT_KEYS = {"alphas", "feature_names", "coef_map", "summary", "elpd_loo", "elpd_loo_se", "loo",
             "best_alpha", "alpha_1se", "diagnostics", "settings", "hdi_prob"}


@pytest.fixture(scope="module")
def nuts_path(diabetes):
    X, y = diabetes
    calls = []
    path = regularization_path(X, y, n_alphas=4, alpha_min_ratio=1e-2, seed=11,
                               progress=lambda done, total: calls.append((done, total)), **SMALL)
    return path, calls


def centred(diabetes):
    X, y = diabetes
    X, y = X.to_numpy(dtype=float), y.to_numpy(dtype=float)
    return X - X.mean(axis=0), y - y.mean()


def test_map_path_equals_sklearn_lasso_path_on_the_default_grid(diabetes):
    Xc, yc = centred(diabetes)
    path = regularization_path(*diabetes, method="map")
    alphas, coefs, _ = lasso_path(Xc, yc, alphas=20, eps=1e-3, tol=1e-14, max_iter=1_000_000)
    np.testing.assert_allclose(path.alphas, alphas, rtol=1e-12)
    np.testing.assert_allclose(path.coef_map, coefs.T, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(path.coef_map == 0, coefs.T == 0)
    assert path.fits[0].coef_.tolist() == [0.0] * 10 and np.all(path.coef_map[-1] != 0)


def test_map_path_equals_sklearn_lasso_path_when_wide(rng):
    X = rng.normal(size=(30, 60))  # n < p: the statistics keep the centred X, not X'X
    y = X[:, :3] @ np.array([2.0, -1.0, 1.0]) + 0.5 * rng.normal(size=30)
    path = regularization_path(X, y, n_alphas=8, method="map")
    alphas, coefs, _ = lasso_path(X - X.mean(axis=0), y - y.mean(), alphas=8, eps=1e-3,
                                  tol=1e-14, max_iter=1_000_000)
    np.testing.assert_allclose(path.alphas, alphas, rtol=1e-12)
    np.testing.assert_allclose(path.coef_map, coefs.T, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(path.coef_map == 0, coefs.T == 0)


def test_map_path_equals_sklearn_enet_path_standardized_at_given_alphas(diabetes):
    Xc, yc = centred(diabetes)
    given = [0.001, 0.1, 0.01, 0.3]  # any order: the path sorts them descending
    path = regularization_path(*diabetes, prior="elastic_net", l1_ratio=0.3, alphas=given,
                               method="map", standardize=True)
    assert path.alphas.tolist() == [0.3, 0.1, 0.01, 0.001]
    scale = Xc.std(axis=0)
    _, coefs, _ = enet_path(Xc / scale, yc, l1_ratio=0.3, alphas=path.alphas, tol=1e-14,
                            max_iter=1_000_000)
    expected = coefs.T / scale
    np.testing.assert_allclose(path.coef_map, expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(path.coef_map == 0, expected == 0)


@pytest.mark.parametrize("prior, l1_ratio, standardize", [("lasso", 1.0, False),
                                                          ("elastic_net", 0.4, True)])
def test_alpha_max_zeroes_every_coefficient_and_just_below_it_does_not(diabetes, prior,
                                                                       l1_ratio, standardize):
    stats = SuffStats.of(*(np.asarray(a, dtype=float) for a in diabetes))
    top = alpha_max(stats, l1_ratio, standardize)
    at = solve_map(stats, Prior.create(prior, top, l1_ratio), standardize=standardize)
    below = solve_map(stats, Prior.create(prior, top * (1 - 1e-6), l1_ratio),
                      standardize=standardize)
    assert np.all(at.coef == 0) and np.count_nonzero(below.coef) == 1
    path = regularization_path(*diabetes, prior=prior, l1_ratio=l1_ratio, n_alphas=5,
                               alpha_min_ratio=1e-2, method="map", standardize=standardize)
    assert path.alphas[0] == top


def test_grid_is_log_spaced_and_ridge_starts_where_glmnets_does(diabetes):
    lasso = regularization_path(*diabetes, n_alphas=7, alpha_min_ratio=1e-4, method="map")
    ratios = lasso.alphas[1:] / lasso.alphas[:-1]
    np.testing.assert_allclose(ratios, 1e-4 ** (1 / 6), rtol=1e-12)
    assert lasso.alphas[-1] == pytest.approx(1e-4 * lasso.alphas[0], rel=1e-12)
    ridge = regularization_path(*diabetes, prior="ridge", n_alphas=7, method="exact", draws=50,
                                chains=2, seed=1)
    # glmnet's lambda_max for alpha = 0 (max |correlation| / 1e-3 on standardized data), in
    # units of columns of mean square scale mean(var(x_j))
    X, y = (np.asarray(a, dtype=float) for a in diabetes)
    corr = np.corrcoef(np.column_stack([X, y]), rowvar=False)[-1, :-1]
    top = X.var(axis=0).mean() * np.abs(corr).max() / 1e-3
    assert ridge.alphas[0] == pytest.approx(top, rel=1e-12)
    # the path runs from nearly all shrunk away to mild shrinkage
    ols = regularization_path(*diabetes, prior="ridge", alphas=[0.0], method="map").coef_map[0]
    assert np.all(np.abs(ridge.coef_map[0]) < 5e-3 * np.abs(ols).max())
    assert np.linalg.norm(ridge.coef_map[-1]) > 0.25 * np.linalg.norm(ols)
    assert np.all(np.isfinite(ridge.elpd_loo)) and ridge.settings["method"] == "exact"
    standardized = regularization_path(*diabetes, prior="ridge", n_alphas=2, method="map",
                                       standardize=True)
    assert standardized.alphas[0] == pytest.approx(np.abs(corr).max() / 1e-3, rel=1e-12)


def test_best_and_one_se_rules_on_constructed_values():
    assert best_index([-3.0, -1.0, -2.0]) == 1
    assert best_index([-1.0, -1.0, -2.0]) == 0          # ties: the largest alpha
    assert best_index([np.nan, -5.0, -4.0]) == 2
    assert best_index([np.nan, np.nan]) is None
    elpd, se = [-110.0, -102.5, -100.0, -101.0], [1.0, 1.0, 3.0, 1.0]
    assert one_se_index(elpd, se) == 1                  # -102.5 >= -100 - 3
    # the best model's se, not each model's own: index 0's own se (10) would reach -100
    assert one_se_index([-104.0, -100.0], [10.0, 3.0]) == 1
    assert one_se_index([-100.0], [3.0]) == 0
    assert one_se_index([-104.0, -100.0], [1.0, np.nan]) == 1  # no se: the best itself


def test_best_alpha_and_alpha_1se_of_a_constructed_path(nuts_path):
    d = nuts_path[0].to_dict()
    d["elpd_loo"], d["elpd_loo_se"] = [-200.0, -150.0, -100.0, -102.0], [5.0, 5.0, 4.0, 6.0]
    path = RegularizationPath.from_dict(d)
    assert path.best_alpha == d["alphas"][2]
    assert path.alpha_1se == d["alphas"][2]             # -150 < -100 - 4
    d["elpd_loo"][1] = -103.9
    assert RegularizationPath.from_dict(d).alpha_1se == d["alphas"][1]


def test_the_posterior_at_an_alpha_equals_a_direct_fit_with_its_seed(nuts_path, diabetes):
    path, _ = nuts_path
    i = 2
    fit = path.fits[i]
    direct = BayesianRegression(prior="lasso", alpha=path.alphas[i], seed=fit.seed_,
                                **SMALL).fit(*diabetes)
    for var in ("coef", "intercept", "sigma"):
        np.testing.assert_array_equal(fit.posterior_.posterior[var].values,
                                      direct.posterior_.posterior[var].values)
    np.testing.assert_array_equal(path.coef_map[i], direct.coef_)
    assert path.elpd_loo[i] == direct.loo(*diabetes)["elpd_loo"]
    assert len({f.seed_ for f in path.fits}) == 4   # each alpha its own seed


def test_summary_has_a_row_per_alpha_and_feature(nuts_path, diabetes):
    path, _ = nuts_path
    table = path.summary()
    assert list(table.columns) == SUMMARY_COLUMNS and len(table) == 4 * 10
    assert table["feature"].tolist() == list(diabetes[0].columns) * 4
    np.testing.assert_array_equal(table["alpha"].to_numpy(), np.repeat(path.alphas, 10))
    np.testing.assert_array_equal(table["map"].to_numpy(), path.coef_map.ravel())
    assert np.all(table["hdi_low"] <= table["median"])
    assert np.all(table["median"] <= table["hdi_high"])
    fit_table = path.fits[1].summary().loc["bmi"]
    row = table[(table["alpha"] == path.alphas[1]) & (table["feature"] == "bmi")].iloc[0]
    assert row["ess_bulk"] == fit_table["ess_bulk"] and row["median"] == fit_table["median"]


def test_to_dict_is_json_safe_and_from_dict_round_trips(nuts_path):
    path, _ = nuts_path
    d = path.to_dict()
    assert set(d) == DICT_KEYS
    text = json.dumps(d, allow_nan=False)
    again = RegularizationPath.from_dict(json.loads(text))
    assert again.fits is None and again.to_dict() == d
    assert (again.best_alpha, again.alpha_1se) == (path.best_alpha, path.alpha_1se)
    assert again.summary().equals(path.summary())
    assert d["settings"]["seed"] == 11 and d["settings"]["draws"] == 200
    assert len(d["loo"]) == len(d["diagnostics"]) == 4 and d["loo"][0]["n_draws"] == 400
    assert d["elpd_loo"] == [r["elpd_loo"] for r in d["loo"]]


def plt_figures():
    return len(sys.modules["matplotlib.pyplot"].get_fignums())


def test_plot_is_a_figure_with_three_axes(nuts_path, diabetes):
    path, _ = nuts_path
    map_only = regularization_path(*diabetes, n_alphas=3, method="map")
    for p in (path, RegularizationPath.from_dict(path.to_dict()), map_only):
        fig = p.plot()
        assert isinstance(fig, Figure) and len(fig.axes) == 3
        buf = io.BytesIO()
        fig.savefig(buf, format="png")  # as the service renders: no pyplot, no backend switch
        assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "matplotlib.pyplot" not in sys.modules or plt_figures() == 0
    assert map_only.elpd_loo is None and map_only.best_alpha is None
    assert map_only.to_dict()["loo"] == [None] * 3
    _check_drawn_values(path, path.plot())


def _check_drawn_values(path, fig):
    """The panels draw the path's numbers: MAP lines, medians, HDI bands, elpd_loo."""
    ax_map, ax_post, ax_elpd = fig.axes
    table = path.summary()
    for line in ax_map.get_lines():
        if line.get_label() in path.feature_names:
            j = path.feature_names.index(line.get_label())
            np.testing.assert_array_equal(line.get_ydata(), path.coef_map[:, j])
    bands = ax_post.collections
    assert len(bands) == len(path.feature_names)      # 10 features, all shown
    for band, name in zip(bands, path.feature_names):
        rows = table[table["feature"] == name]
        ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
        assert ys.min() == pytest.approx(rows["hdi_low"].min(), rel=1e-12)
        assert ys.max() == pytest.approx(rows["hdi_high"].max(), rel=1e-12)
    medians = [ln.get_ydata() for ln in ax_post.get_lines() if len(ln.get_ydata()) > 2]
    want = [table[table["feature"] == name]["median"].to_numpy()
            for name in path.feature_names]
    np.testing.assert_allclose(np.array(medians, dtype=float), np.array(want), rtol=1e-12)
    elpd = [ln.get_ydata() for ln in ax_elpd.get_lines()
            if len(ln.get_ydata()) == len(path.alphas)]
    np.testing.assert_allclose(np.asarray(elpd[0], dtype=float), path.elpd_loo, rtol=1e-12)


def test_progress_counts_fits_and_should_stop_cancels(nuts_path, diabetes):
    assert nuts_path[1] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    polls = []

    def stop_after_two():
        polls.append(1)
        return len(polls) > 2

    with pytest.raises(Cancelled):
        regularization_path(*diabetes, n_alphas=5, method="map", should_stop=stop_after_two)
    assert len(polls) == 3


def test_pareto_problems_along_the_path_are_warned_once():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 2))
    y = X @ np.array([1.0, 1.0]) + 0.1 * rng.normal(size=20)
    X[0], y[0] = [8.0, -8.0], 10.0  # a gross outlier at a high-leverage point
    with pytest.warns(UserWarning, match="Pareto k > 0.7 at 2 of 2 alphas") as record:
        path = regularization_path(X, y, prior="ridge", alphas=[1e-3, 1e-4], method="exact",
                                   sigma=0.1, draws=500, chains=2, seed=0)
    assert len(record) == 1
    assert all(r.pareto_k_bad > 0 and r.warning for r in path.loo)


def test_settings_are_json_safe_from_numpy_scalars(diabetes):
    path = regularization_path(*diabetes, n_alphas=np.int64(2), method="map", draws=np.int64(5),
                               hdi_prob=np.float32(0.5), sigma=np.float64(50.0),
                               seed=np.int64(4))
    settings = json.loads(json.dumps(path.to_dict(), allow_nan=False))["settings"]
    assert (settings["draws"], settings["hdi_prob"], settings["sigma"]) == (5, 0.5, 50.0)
    assert settings["n_alphas"] == 2 and settings["seed"] == 4


def test_random_seed_is_the_deprecated_alias_of_seed(diabetes):
    with pytest.warns(FutureWarning, match="random_seed"):
        path = regularization_path(*diabetes, n_alphas=2, method="map", random_seed=5)
    assert path.settings["seed"] == 5


@pytest.mark.parametrize("kwargs, field", [
    ({"prior": "horseshoe"}, "prior"),
    ({"method": "exact"}, "method"),
    ({"learn_alpha": True}, "learn_alpha"),
    ({"bogus": 1}, "bogus"),
    ({"alphas": []}, "alphas"),
    ({"alphas": [0.1, -1]}, "alphas[1]"),
    ({"alphas": [0.1, 2e100]}, "alphas[1]"),
    ({"n_alphas": 0}, "n_alphas"),
    ({"alpha_min_ratio": 1.0}, "alpha_min_ratio"),
    ({"draws": 0}, "draws"),
    ({"sigma": -1.0}, "sigma"),
    ({"progress": 3}, "progress"),
])
def test_bad_arguments_name_the_field(diabetes, kwargs, field):
    with pytest.raises(InputError) as err:
        regularization_path(*diabetes, **{"method": "map", **kwargs})
    assert err.value.field == field


def test_both_seed_names_and_a_constant_y_are_refused(diabetes):
    X, y = diabetes
    with pytest.warns(FutureWarning), pytest.raises(InputError) as err:
        regularization_path(X, y, method="map", seed=1, random_seed=1)
    assert err.value.field == "random_seed"
    with pytest.raises(InputError) as err:
        regularization_path(X, np.ones(len(y)), method="map")
    assert err.value.field == "y"


def test_pareto_k_bad_counts_per_alpha(nuts_path):
    path, _ = nuts_path
    want = [r.pareto_k_bad for r in path.loo]
    np.testing.assert_array_equal(path.pareto_k_bad, want)
    d = path.to_dict()
    assert [r["pareto_k_bad"] for r in d["loo"]] == want
    np.testing.assert_array_equal(RegularizationPath.from_dict(d).pareto_k_bad, want)
