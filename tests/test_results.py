"""``bayesreg.results``: each typed result's ``to_dict()`` is strict JSON (NaN and infinities
as None, as documented), ``Diagnostics`` round-trips through its dict, and
``Posterior.summary_at`` gives ArviZ's HDI of the same draws at another mass."""

import dataclasses
import json

import arviz as az
import numpy as np
import pytest

from bayesreg import Prior
from bayesreg.diagnostics import summarize
from bayesreg.model import SuffStats
from bayesreg.pipeline import SamplerSettings, conjugate_ridge, solve_map
from bayesreg.results import Diagnostics, MapResult, Posterior, num


def _strict(d):
    """``d`` through strict JSON (raises on NaN or inf) and back."""
    return json.loads(json.dumps(d, allow_nan=False))


@pytest.fixture(scope="module")
def posterior():
    """A posterior from draws: the closed form dropped and the summary made from the draws."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((40, 3))
    y = X @ np.array([1.0, -0.5, 0.0]) + 0.3 + 0.4 * rng.standard_normal(40)
    stats, prior = SuffStats.of(X, y), Prior.create("ridge", 0.2)
    post = conjugate_ridge(stats, prior, solve_map(stats, prior),
                           SamplerSettings(draws=200, chains=2, seed=1, hdi_prob=0.9),
                           feature_names=["a", "b", "c"])
    summary = summarize(post.idata.posterior, post.map, ["a", "b", "c"], post.hdi_prob)
    return dataclasses.replace(post, exact=None, summary=summary)


def test_num_maps_non_finite_to_none_and_keeps_bools():
    assert [num(v) for v in (None, np.nan, np.inf, -np.inf)] == [None] * 4
    assert num(np.bool_(True)) is True and num(False) is False
    assert num(np.float32(1.5)) == 1.5 and type(num(np.int64(3))) is float


def test_map_result_to_dict_is_strict_json():
    m = MapResult(coef=np.array([1.0, np.float32(-2.5)]), intercept=np.float64(0.25),
                  sigma=0.5, alpha=0.1, kkt=0.0, scale=np.ones(2), rss=1.0, xtr=np.zeros(2))
    assert _strict(m.to_dict()) == {"coef": [1.0, -2.5], "intercept": 0.25, "sigma": 0.5}


@pytest.mark.parametrize("d", [
    Diagnostics(0, 1.001, 812.5),
    Diagnostics(3, None, None, ("a warning",), "a note"),
    Diagnostics(np.int64(2), np.float64(1.2), np.float64(50.0), ("w1", "w2")),
])
def test_diagnostics_to_dict_is_strict_json_and_round_trips(d):
    out = d.to_dict()
    assert _strict(out) == out
    assert ("note" in out) == (d.note is not None)
    assert Diagnostics.from_dict(out) == d
    assert Diagnostics.from_dict(_strict(out)) == d
    assert Diagnostics.from_dict(None) is None


def test_undefined_diagnostics_are_none_in_the_dict():
    out = Diagnostics(0, float("nan"), float("inf")).to_dict()
    assert _strict(out) == {"divergences": 0, "max_r_hat": None, "min_ess_bulk": None,
                            "warnings": []}


def test_posterior_to_dict_is_strict_json(posterior):
    out = _strict(posterior.to_dict())
    assert set(out) == {"map", "posterior", "diagnostics"}
    assert [r["name"] for r in out["posterior"]["coef"]] == ["a", "b", "c"]
    assert out["posterior"]["sigma"]["mean"] == pytest.approx(
        float(posterior.idata.posterior["sigma"].mean()), rel=1e-12)


def test_posterior_to_dict_writes_nan_as_none(posterior):
    summary = posterior.summary.copy()
    summary.loc["intercept", "r_hat"] = np.nan
    out = _strict(dataclasses.replace(posterior, summary=summary).to_dict())
    assert out["posterior"]["intercept"]["r_hat"] is None


@pytest.mark.parametrize("hdi_prob", [0.5, 0.8, 0.9])
def test_summary_at_is_arvizs_hdi_of_the_same_draws(posterior, hdi_prob):
    table = posterior.summary_at(hdi_prob)
    hdi = az.hdi(posterior.idata.posterior, hdi_prob=hdi_prob)
    coef = hdi["coef"].values          # (feature, 2)
    expected = {name: coef[j] for j, name in enumerate(["a", "b", "c"])}
    expected["intercept"] = hdi["intercept"].values
    expected["sigma"] = hdi["sigma"].values
    for name, (low, high) in expected.items():
        assert table.loc[name, "hdi_low"] == pytest.approx(float(low), rel=1e-12), name
        assert table.loc[name, "hdi_high"] == pytest.approx(float(high), rel=1e-12), name
    # recomputed at the asked mass, not the summary's own intervals
    width = table["hdi_high"] - table["hdi_low"]
    own = posterior.summary["hdi_high"] - posterior.summary["hdi_low"]
    assert (width < own).all() if hdi_prob < posterior.hdi_prob else width.equals(own)


def test_summary_at_its_own_mass_is_a_copy_of_the_summary(posterior):
    same = posterior.summary_at(posterior.hdi_prob)
    assert same.equals(posterior.summary) and same is not posterior.summary
    assert isinstance(posterior, Posterior)
