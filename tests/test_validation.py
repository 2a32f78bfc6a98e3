"""Bad input raises a ValueError that names the argument and what was received."""

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import check_estimator

from bayesreg import BayesianRegression, InputError

X = np.arange(20.0).reshape(10, 2) ** 1.5
y = np.arange(10.0)


@pytest.mark.parametrize("params,field,fragment", [
    ({"alpha": -0.1}, "alpha", "-0.1"),
    ({"l1_ratio": 1.5}, "l1_ratio", "1.5"),
    ({"l1_ratio": -0.01}, "l1_ratio", "[0, 1]"),
    ({"prior": "spike_and_slab"}, "prior", "spike_and_slab"),
    ({"draws": 0}, "draws", "0"),
    ({"chains": 0}, "chains", "[1, inf]"),
    ({"tune": -5}, "tune", "-5"),
    ({"draws": 2.5}, "draws", "integer"),
    ({"hdi_prob": 1.0}, "hdi_prob", "(0, 1)"),
    ({"hdi_prob": 0.0}, "hdi_prob", "0.0"),
    ({"sigma": -1.0}, "sigma", "-1.0"),
    ({"sigma": 0.0}, "sigma", "(0.0, inf]"),
    ({"fit_intercept": "yes"}, "fit_intercept", "boolean"),
    ({"alpha": "0.1"}, "alpha", "real number"),
    ({"alpha": True}, "alpha", "real number"),
    ({"alpha": float("nan")}, "alpha", "must be a finite number; got nan"),
    ({"alpha": 10**400}, "alpha", "an integer too large for float64"),  # was an OverflowError
    ({"sampler": "stan"}, "sampler", "stan"),
    ({"method": "vi"}, "method", "'exact', 'map', 'nuts'"),
])
def test_bad_parameters(params, field, fragment):
    with pytest.raises(ValueError) as info:
        BayesianRegression(**{"method": "map", **params}).fit(X, y)
    assert isinstance(info.value, InputError) and info.value.field == field
    assert fragment in str(info.value) and field in str(info.value)


def test_unknown_method_in_fit():
    with pytest.raises(InputError, match="method.*'gibbs'"):
        BayesianRegression(method="gibbs").fit(X, y)


def test_exact_needs_ridge_and_learn_alpha_needs_nuts():
    with pytest.raises(InputError, match="exact"):
        BayesianRegression(prior="lasso", method="exact").fit(X, y)
    with pytest.raises(InputError, match="learn_alpha"):
        BayesianRegression(learn_alpha=True, method="map").fit(X, y)


@pytest.mark.parametrize("Xb,yb,field,fragment", [
    (X[:9], y, "y", "10 samples but X has 9"),
    (np.where(np.eye(10, 2) == 1, np.nan, X), y, "X[0][0]",
     "X[0][0]: must be a finite number; got NaN (2 non-finite value(s) in X in all)"),
    (X, np.r_[y[:-1], np.inf], "y[9]", "y[9]: must be a finite number; got inf"),
    (X.tolist()[:5] + [[1.0]] + X.tolist()[6:], y, "X[5]",
     "X[5]: must have 2 values like row 0 (X must be rectangular); got 1"),
    (np.array([["1", "a"]] * 10), y, "X", "only numbers"),
    (np.empty((0, 2)), np.empty(0), "X", "empty"),
    (np.arange(10.0), y, "X", "1-D"),
    (X, "abc", "y", "numbers"),
    (pd.DataFrame({"a": range(10), "b": list("abcdefghij")}), y, "X", "'b'"),
    (X, np.ones((10, 2)), "y", "1-D"),
])
def test_bad_data(Xb, yb, field, fragment):
    with pytest.raises(ValueError) as info:
        BayesianRegression(prior="ridge", method="map").fit(Xb, yb)
    assert isinstance(info.value, InputError) and info.value.field == field
    assert fragment in str(info.value)


def test_feature_names_must_match_width():
    with pytest.raises(InputError, match=r"feature_names: must have one name per column of X "
                                         r"\(2\); got 3 names"):
        BayesianRegression(method="map").fit(X, y, feature_names=["a", "b", "c"])
    with pytest.raises(InputError, match=r"unique; got 'a' as both feature_names\[0\] and "
                                         r"feature_names\[1\]"):
        BayesianRegression(method="map").fit(X, y, feature_names=["a", "a"])


def test_predict_checks_width():
    est = BayesianRegression(prior="ridge", method="map").fit(X, y)
    with pytest.raises(InputError, match="3 features"):
        est.predict(np.ones((2, 3)))


def test_valid_corner_cases_work():
    rng = np.random.default_rng(0)
    Xw = rng.standard_normal((8, 20))                  # p > n
    Xw[:, 3] = 1.0                                     # a constant column
    Xw[:, 5] = Xw[:, 4]                                # a duplicated column
    yw = Xw[:, 0] + rng.standard_normal(8)
    for prior in ["ridge", "lasso", "elastic_net"]:
        est = BayesianRegression(prior=prior, alpha=0.1, method="map").fit(Xw, yw)
        assert np.all(np.isfinite(est.coef_)) and est.coef_[3] == 0


# scikit-learn warns for each check it skips: check_array_api_input unless SCIPY_ARRAY_API=1
# is set in the environment.
@pytest.mark.filterwarnings(r"ignore:Skipping check check_array_api_input for \w+ because it "
                            r"raised SkipTest:sklearn.exceptions.SkipTestWarning")
def test_passes_sklearn_check_estimator():
    check_estimator(BayesianRegression(method="map"))


def test_flat_prior_needs_full_rank_and_then_samples():
    rng = np.random.default_rng(1)
    Xw = rng.standard_normal((10, 20))
    with pytest.raises(InputError, match="improper"):
        BayesianRegression(prior="ridge", alpha=0.0, draws=50, tune=50, chains=1).fit(Xw, Xw[:, 0])
    Xn = rng.standard_normal((40, 2))
    yn = Xn @ [1.0, -1.0] + rng.standard_normal(40)
    est = BayesianRegression(prior="ridge", alpha=0.0, draws=300, tune=300, chains=2,
                             seed=0).fit(Xn, yn)
    ols = np.linalg.lstsq(np.column_stack([Xn, np.ones(40)]), yn, rcond=None)[0]
    np.testing.assert_allclose(est.coef_, ols[:2], rtol=1e-10)          # the MAP is OLS
    assert np.all(np.abs(est.summary()["mean"].values[:2] - ols[:2]) < 0.1)
