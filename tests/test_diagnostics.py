"""bayesreg.diagnostics on synthetic draws, against ArviZ called here and by-hand computations.

``summarize_posterior`` is checked column by column against ``az.summary`` / ``az.hdi`` /
``az.ess`` / ``az.rhat`` / ``az.mcse`` run in the test on the same draws, against NumPy for
the moments and the sign, and against a by-hand shortest interval for the HDI.
``convergence_warnings`` is checked on hand-made summaries on both sides of every threshold.
"""

import math

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from bayesreg.diagnostics import (ESS_MIN, MIN_DIAGNOSTIC_DRAWS, MIN_RELIABLE_DRAWS, R_HAT_MAX,
                                  SUMMARY_COLUMNS, convergence_warnings, summarize_posterior)

CHAINS, DRAWS = 4, 500
FEATURES = ["a", "b", "c"]


def _posterior(seed=0, shift=None):
    """Normal coefficients with known means and sds, an AR(1) intercept (so ESS < draws), a
    positive sigma; ``shift`` adds a per-chain offset to coef[b] (chains that have not mixed)."""
    rng = np.random.default_rng(seed)
    means, sds = np.array([1.5, -0.2, 0.0]), np.array([0.5, 0.3, 2.0])
    coef = means + sds * rng.standard_normal((CHAINS, DRAWS, 3))
    if shift is not None:
        coef[:, :, 1] += shift * np.arange(CHAINS)[:, None]
    e = rng.standard_normal((CHAINS, DRAWS))
    intercept = np.empty((CHAINS, DRAWS))
    intercept[:, 0] = e[:, 0]
    for t in range(1, DRAWS):
        intercept[:, t] = 0.9 * intercept[:, t - 1] + math.sqrt(1 - 0.81) * e[:, t]
    intercept += 3.0
    sigma = rng.gamma(20.0, 0.05, (CHAINS, DRAWS))
    return xr.Dataset(
        {"coef": (("chain", "draw", "feature"), coef),
         "intercept": (("chain", "draw"), intercept),
         "sigma": (("chain", "draw"), sigma)},
        coords={"chain": np.arange(CHAINS), "draw": np.arange(DRAWS), "feature": FEATURES})


def _map_rows(map_coef=(1.5, -0.2, 0.0), map_intercept=3.0, map_sigma=1.0):
    rows = {name: ("coef", j, float(map_coef[j])) for j, name in enumerate(FEATURES)}
    rows["intercept"] = ("intercept", None, map_intercept)
    rows["sigma"] = ("sigma", None, map_sigma)
    return rows


def _draws(post, name):
    """(chain, draw) array of one row's draws."""
    if name in FEATURES:
        return post["coef"].sel(feature=name).values
    return post[name].values


def _shortest_interval(x, prob):
    """The narrowest window of sorted draws holding floor(prob * n) + 1 of them (ArviZ's rule)."""
    x = np.sort(x.ravel())
    n = len(x)
    k = int(math.floor(prob * n))
    widths = x[k:] - x[:n - k]
    i = int(np.argmin(widths))
    return x[i], x[i + k]


@pytest.mark.parametrize("hdi_prob", [0.94, 0.5])
def test_summary_equals_arviz_and_numpy(hdi_prob):
    post = _posterior()
    s = summarize_posterior(post, _map_rows(), hdi_prob)
    assert list(s.columns) == SUMMARY_COLUMNS
    assert list(s.index) == FEATURES + ["intercept", "sigma"]

    ref = az.summary(post, hdi_prob=hdi_prob, round_to="none")
    ref_names = {**{f: f"coef[{f}]" for f in FEATURES}, "intercept": "intercept", "sigma": "sigma"}
    lo_col, hi_col = [c for c in ref.columns if c.startswith("hdi_")]
    for name, ref_name in ref_names.items():
        row, r = s.loc[name], ref.loc[ref_name]
        x = _draws(post, name)
        # moments and sign: NumPy
        assert row["mean"] == pytest.approx(x.mean(), rel=1e-12, abs=1e-14)
        assert row["sd"] == pytest.approx(x.std(ddof=1), rel=1e-12)
        assert row["median"] == pytest.approx(np.median(x), rel=1e-12, abs=1e-14)
        assert row["prob_positive"] == np.count_nonzero(x > 0) / x.size
        # ArviZ's own summary of the same draws
        for col in ("mean", "sd", "mcse_mean", "ess_bulk", "ess_tail", "r_hat"):
            assert row[col] == pytest.approx(r[col], rel=1e-10), (name, col)
        assert (row["hdi_low"], row["hdi_high"]) == pytest.approx((r[lo_col], r[hi_col]), rel=1e-12)
        # ArviZ's functions on the bare (chain, draw) array, and the HDI by hand
        assert row["ess_bulk"] == pytest.approx(az.ess(x, method="bulk"), rel=1e-10)
        assert row["ess_tail"] == pytest.approx(az.ess(x, method="tail"), rel=1e-10)
        assert row["r_hat"] == pytest.approx(az.rhat(x), rel=1e-12)
        assert row["mcse_mean"] == pytest.approx(az.mcse(x, method="mean"), rel=1e-10)
        assert (row["hdi_low"], row["hdi_high"]) == pytest.approx(_shortest_interval(x, hdi_prob),
                                                                  rel=1e-12)
        inside = np.count_nonzero((x >= row["hdi_low"]) & (x <= row["hdi_high"])) / x.size
        assert inside == pytest.approx(hdi_prob, abs=2 / x.size)


def test_summary_recovers_the_known_distribution():
    """The synthetic draws' known parameters come back within Monte Carlo error; the
    autocorrelated intercept has fewer effective draws than draws, the iid coefficients about
    as many; chains that have not mixed have a large r_hat."""
    s = summarize_posterior(_posterior(), _map_rows(), 0.94)
    total = CHAINS * DRAWS
    for name, mean, sd in [("a", 1.5, 0.5), ("b", -0.2, 0.3), ("c", 0.0, 2.0)]:
        assert abs(s.loc[name, "mean"] - mean) < 4 * sd / math.sqrt(total)
        assert s.loc[name, "sd"] == pytest.approx(sd, rel=0.08)
        # the 94% HDI of a normal is mean +- 1.881 sd
        assert s.loc[name, "hdi_high"] - s.loc[name, "hdi_low"] == pytest.approx(
            2 * 1.8808 * sd, rel=0.1)
        assert 0.6 * total < s.loc[name, "ess_bulk"] < 1.6 * total
        assert s.loc[name, "r_hat"] < R_HAT_MAX
    assert s.loc["a", "prob_positive"] > 0.99 and s.loc["b", "prob_positive"] < 0.35
    # AR(1) with phi = 0.9: ESS is about total (1 - phi) / (1 + phi) = total / 19
    assert total / 40 < s.loc["intercept", "ess_bulk"] < total / 8
    unmixed = summarize_posterior(_posterior(shift=1.0), _map_rows(), 0.94)
    assert unmixed.loc["b", "r_hat"] > 1.5
    assert unmixed.loc["a", "r_hat"] == s.loc["a", "r_hat"]   # the other rows are untouched


def test_map_in_hdi_and_map_column():
    post = _posterior()
    s = summarize_posterior(post, _map_rows(map_coef=(1.5, 5.0, -0.01), map_intercept=-100.0,
                                            map_sigma=float("nan")), 0.94)
    assert s["map"].tolist()[:4] == [1.5, 5.0, -0.01, -100.0] and math.isnan(s.loc["sigma", "map"])
    for name in FEATURES + ["intercept"]:
        lo, hi, m = s.loc[name, "hdi_low"], s.loc[name, "hdi_high"], s.loc[name, "map"]
        assert s.loc[name, "map_in_hdi"] == (lo <= m <= hi)
    assert s.loc["a", "map_in_hdi"]
    assert not s.loc["b", "map_in_hdi"] and not s.loc["intercept", "map_in_hdi"]
    assert s.loc["c", "map_in_hdi"]
    assert s.loc["sigma", "map_in_hdi"] is None          # no MAP, no verdict
    # the interval's own end points count as inside
    lo = s.loc["a", "hdi_low"]
    edge = summarize_posterior(post, _map_rows(map_coef=(lo, 0.0, 0.0)), 0.94)
    assert edge.loc["a", "map_in_hdi"]
    below = summarize_posterior(post, _map_rows(map_coef=(np.nextafter(lo, -np.inf), 0.0, 0.0)), 0.94)
    assert not below.loc["a", "map_in_hdi"]


def test_rows_follow_the_map_values_order_and_subset():
    post = _posterior()
    rows = {"sigma": ("sigma", None, 1.0), "c": ("coef", 2, 0.0), "a": ("coef", 0, 1.5)}
    s = summarize_posterior(post, rows, 0.9)
    assert list(s.index) == ["sigma", "c", "a"]
    full = summarize_posterior(post, _map_rows(), 0.9)
    pd.testing.assert_frame_equal(s.loc[["c", "a"]], full.loc[["c", "a"]])


def test_a_constant_parameter_has_nan_diagnostics_without_a_warning():
    """A known sigma is constant: r_hat is undefined (NaN; ArviZ counts a constant's ESS as its
    number of draws) and no RuntimeWarning escapes (the suite turns warnings into errors)."""
    post = _posterior()
    post["sigma"] = xr.full_like(post["sigma"], 0.7)
    post["intercept"] = xr.zeros_like(post["intercept"])   # no intercept: a point mass at 0
    s = summarize_posterior(post, _map_rows(map_intercept=0.0, map_sigma=0.7), 0.94)
    assert s.loc["intercept", "prob_positive"] == 0.0          # 0 is not positive
    assert s.loc["intercept", "hdi_low"] == s.loc["intercept", "hdi_high"] == 0.0
    row = s.loc["sigma"]
    assert math.isnan(row["r_hat"]) and math.isnan(row["mcse_mean"])
    assert row["ess_bulk"] == row["ess_tail"] == CHAINS * DRAWS
    assert convergence_warnings(s.loc[["sigma"]], 0, draws=DRAWS, chains=CHAINS) == []
    assert row["median"] == row["hdi_low"] == row["hdi_high"] == 0.7
    assert row["mean"] == pytest.approx(0.7, rel=1e-15) and row["sd"] == pytest.approx(0, abs=1e-15)
    assert row["prob_positive"] == 1.0 and row["map_in_hdi"]
    assert not s.loc[FEATURES, ["r_hat", "ess_bulk"]].isna().any().any()


# ---------------------------------------------------------------------------- warnings
def _summary(r_hat, ess_bulk):
    names = [f"x{i}" for i in range(len(r_hat))]
    return pd.DataFrame({"r_hat": r_hat, "ess_bulk": ess_bulk}, index=names)


GOOD = _summary([1.0, 1.005, R_HAT_MAX], [5000.0, 900.0, float(ESS_MIN)])


def test_no_warning_at_or_inside_every_threshold():
    assert convergence_warnings(GOOD, 0) == []
    assert convergence_warnings(GOOD, 0, draws=MIN_RELIABLE_DRAWS, chains=2) == []
    assert convergence_warnings(GOOD, 0, draws=1000, chains=4) == []
    # undefined diagnostics (NaN, e.g. a known sigma) are not failures
    assert convergence_warnings(_summary([1.0, np.nan], [1000.0, np.nan]), 0) == []


@pytest.mark.parametrize("r_hat", [np.nextafter(R_HAT_MAX, 2), 1.0101, 1.2, np.inf])
def test_r_hat_above_the_threshold_warns_and_names_the_rows(r_hat):
    s = _summary([1.0, r_hat, 1.001, r_hat], [1000.0] * 4)
    out = convergence_warnings(s, 0)
    assert len(out) == 1
    assert out[0].startswith(f"r_hat > {R_HAT_MAX} for x1, x3 ")
    assert "x0" not in out[0] and "x2" not in out[0]
    assert f"max {r_hat:.3f}" in out[0]


@pytest.mark.parametrize("ess", [np.nextafter(ESS_MIN, 0), 399.0, 12.0, 0.0])
def test_ess_below_the_threshold_warns_and_names_the_rows(ess):
    s = _summary([1.0] * 3, [ess, 401.0, 1e4])
    out = convergence_warnings(s, 0)
    assert len(out) == 1
    assert out[0].startswith(f"ess_bulk < {ESS_MIN} for x0 ")
    assert f"min {ess:.0f}" in out[0] and "x1" not in out[0]


@pytest.mark.parametrize("divergences", [1, 7])
def test_any_divergence_warns_with_the_count(divergences):
    out = convergence_warnings(GOOD, divergences)
    assert out == [f"{divergences} divergent transition(s): the intervals may be biased"]


@pytest.mark.parametrize("draws,expected", [
    (1, "undefined"), (MIN_DIAGNOSTIC_DRAWS - 1, "undefined"),
    (MIN_DIAGNOSTIC_DRAWS, "too few"), (MIN_RELIABLE_DRAWS - 1, "too few"),
    (MIN_RELIABLE_DRAWS, None), (5000, None)])
def test_too_few_draws_warns_below_pymcs_thresholds(draws, expected):
    out = convergence_warnings(GOOD, 0, draws=draws, chains=3)
    if expected is None:
        assert out == []
        return
    assert len(out) == 1 and out[0].startswith(f"only {draws} draw")
    if expected == "undefined":
        assert "r_hat and ESS are undefined" in out[0]
        assert f"rest on {draws * 3} draw(s) in all" in out[0]
    else:
        assert "too few to check convergence reliably" in out[0]
        assert "undefined" not in out[0]


def test_one_chain_warns_and_two_do_not():
    out = convergence_warnings(GOOD, 0, draws=1000, chains=1)
    assert len(out) == 1 and out[0].startswith("only one chain")
    assert convergence_warnings(GOOD, 0, draws=1000, chains=2) == []


def test_every_crossed_threshold_gives_its_own_warning_in_order():
    s = _summary([1.5, 1.0], [1000.0, 50.0])
    out = convergence_warnings(s, 3, draws=50, chains=1)
    assert len(out) == 5
    assert out[0].startswith("only 50 draws per chain")
    assert out[1].startswith("only one chain")
    assert out[2].startswith("r_hat > 1.01 for x0 ")
    assert out[3].startswith("ess_bulk < 400 for x1 ")
    assert out[4].startswith("3 divergent")


# ---------------------------------------------------------------------------- in the estimator
def test_estimator_counts_the_samplers_divergences(diabetes):
    """diagnostics_ reports the divergences in the sampler's own sample_stats, and its r_hat,
    ESS and warnings are those of its draws (ArviZ and convergence_warnings called here).
    Three tuning steps leave the step size unadapted, so this seeded fit diverges; with 300
    tuning steps the same fit has none."""
    from bayesreg import BayesianRegression

    X, y = diabetes
    est = BayesianRegression(prior="lasso", alpha=0.1, draws=100, tune=3, chains=2,
                             seed=0).fit(X, y)
    diverging = est.posterior_.sample_stats["diverging"].values
    assert diverging.shape == (2, 100)
    count = int(diverging.sum())
    d = est.diagnostics_
    assert d["divergences"] == count > 0
    ref = az.summary(est.posterior_.posterior, round_to="none")
    assert d["max_r_hat"] == pytest.approx(ref["r_hat"].max(), rel=1e-12)
    assert d["min_ess_bulk"] == pytest.approx(ref["ess_bulk"].min(), rel=1e-12)
    assert d["warnings"] == convergence_warnings(est.summary(), count, draws=100, chains=2)
    assert d["warnings"][-1] == f"{count} divergent transition(s): the intervals may be biased"

    tuned = BayesianRegression(prior="lasso", alpha=0.1, draws=300, tune=300, chains=2,
                               seed=0).fit(X, y)
    assert tuned.diagnostics_["divergences"] == int(tuned.posterior_.sample_stats["diverging"].sum())
    assert tuned.diagnostics_["divergences"] == 0
    assert not any("divergent" in w for w in tuned.diagnostics_["warnings"])
