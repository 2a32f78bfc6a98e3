"""The core refuses what would overflow or mean nothing, with the same rules as the service."""

import numpy as np
import pandas as pd
import pytest

from bayesreg import BayesianRegression, InputError
from bayesreg._validation import BOUNDS
from bayesreg.diagnostics import convergence_warnings

rng = np.random.default_rng(5)
X = rng.standard_normal((30, 2))
y = X @ [1.0, -2.0] + 0.5 * rng.standard_normal(30)
TINY = dict(draws=50, tune=50, chains=1, seed=0)


@pytest.mark.parametrize("params,field,fragment", [
    ({"alpha": 1e308}, "alpha", "1e+100"),
    ({"alpha": BOUNDS.alpha * 1.01}, "alpha", "float64"),
    ({"sigma": 1e300}, "sigma", "[1e-50, 1e+100]"),
    ({"sigma": 1e-300}, "sigma", "1e-50"),
])
@pytest.mark.parametrize("method", ["map", "exact", "nuts"])
def test_parameters_beyond_the_bounds(params, field, fragment, method):
    with pytest.raises(InputError) as info:
        BayesianRegression(prior="ridge", **params, **TINY, method=method).fit(X, y)
    assert info.value.field == field and fragment in str(info.value)


@pytest.mark.parametrize("Xb,yb,fragment", [
    (X * 1e200, y, "X[0][0]: |X[0][0]| = "),
    (X, np.r_[y[:-1], -1e101], "y[29]: |y[29]| = 1e+101 exceeds 1e+100"),
])
def test_data_beyond_the_bound(Xb, yb, fragment):
    with pytest.raises(InputError) as info:
        BayesianRegression(method="map").fit(Xb, yb)
    assert info.value.field == fragment.split(":")[0] and fragment in str(info.value)


def test_predict_beyond_the_bound_is_refused_not_inf():
    est = BayesianRegression(prior="ridge", method="map").fit(X, y)
    with pytest.raises(InputError, match="X"):
        est.predict(np.array([[1e308, 0.0]]))
    assert np.isfinite(est.predict(np.array([[BOUNDS.data, 0.0]]))).all()


@pytest.mark.parametrize("method", ["map", "exact"])
def test_values_at_the_bounds_give_finite_results(method):
    Xb = X / np.abs(X).max() * BOUNDS.data
    est = BayesianRegression(prior="ridge", alpha=BOUNDS.alpha, sigma=BOUNDS.sigma_high,
                             standardize=False, method=method).fit(Xb, y)
    columns = ["map"] if method == "map" else ["map", "mean", "hdi_low", "hdi_high"]
    assert np.isfinite(est.summary()[columns].to_numpy(dtype=float)).all()


@pytest.mark.parametrize("Xb,yb,kw", [
    (X[:1], y[:1], {}),                                        # n = 1 with an intercept
    (np.array([[1.0]]), np.array([0.0]), {}),       # was "All initialization points failed"
    (np.array([[1.0]]), np.array([2.0]), {"fit_intercept": False, "alpha": 0.0}),
    (X[:3], y[:3], {"alpha": 0.0}),                            # n - 1 - p = 0 under the flat prior
])
@pytest.mark.parametrize("method", ["exact", "nuts"])
def test_too_few_rows_to_learn_sigma(Xb, yb, kw, method):
    with pytest.raises(InputError) as info:
        BayesianRegression(prior="ridge", **kw, **TINY, method=method).fit(Xb, yb)
    assert info.value.field == "y"
    assert "too few to learn sigma" in str(info.value) or "sigma" in str(info.value)
    if method == "nuts":
        assert "too few to learn sigma" in str(info.value)


def test_exactly_zero_residuals_resolve_no_noise():
    # y = 0 without an intercept: every residual is exactly 0 and sigma's posterior collapses
    with pytest.raises(InputError, match="rounding level"):
        BayesianRegression(prior="ridge", fit_intercept=False, **TINY).fit(X, np.zeros(30))


@pytest.mark.parametrize("method", ["exact", "nuts"])
def test_a_known_sigma_below_the_rounding_of_y(method):
    with pytest.raises(InputError, match="rounding level of y") as info:
        BayesianRegression(prior="ridge", sigma=1e-20, **TINY, method=method).fit(X, y)
    assert info.value.field == "sigma"
    # the MAP does not use sigma: no reason to refuse it
    BayesianRegression(prior="ridge", sigma=1e-20, method="map").fit(X, y)


def test_lone_surrogates_in_names_are_refused():
    with pytest.raises(InputError) as info:
        BayesianRegression(method="map").fit(X, y, feature_names=["a", "\ud800"])
    assert info.value.field == "feature_names[1]" and "U+D800" in str(info.value)
    frame = pd.DataFrame(X, columns=pd.Index(["\udc80", "b"], dtype=object))
    with pytest.raises(InputError) as info:
        BayesianRegression(method="map").fit(frame, y)
    assert info.value.field == "X.columns[0]"
    # control characters are the service's concern: the core saves them fine
    est = BayesianRegression(method="map").fit(X, y, feature_names=["a\tb", "c\n"])
    assert est.feature_names_ == ["a\tb", "c\n"]


def _summary(r_hat, ess):
    return pd.DataFrame({"r_hat": [r_hat], "ess_bulk": [ess]}, index=["x0"])


def test_warnings_for_too_few_draws_or_chains():
    nan = float("nan")
    few = convergence_warnings(_summary(nan, nan), 0, draws=1, chains=2)
    assert len(few) == 1 and "only 1 draw(s) per chain" in few[0] and "r_hat" in few[0]
    assert "at least 4 draws per chain" in few[0]
    some = convergence_warnings(_summary(1.0, 500.0), 0, draws=50, chains=4)
    assert len(some) == 1 and "too few to check convergence reliably" in some[0]
    one = convergence_warnings(_summary(nan, 500.0), 0, draws=1000, chains=1)
    assert len(one) == 1 and "only one chain" in one[0]
    assert convergence_warnings(_summary(1.0, 500.0), 0, draws=1000, chains=4) == []
    assert convergence_warnings(_summary(1.0, 500.0), 0) == []       # old call: no new warnings


def test_one_draw_is_refused_not_a_silent_success():
    # ArviZ's split r_hat and ESS need 4 draws per chain: the core refuses fewer, as HTTP does
    with pytest.raises(InputError, match=r"draws: must be in the range \[4, inf\]; got 1: "):
        BayesianRegression(prior="ridge", draws=1, tune=50, chains=2, seed=1).fit(X, y)
