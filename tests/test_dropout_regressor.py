"""Tests of bayesreg.dropout.regressor (MCDropoutRegressor) against closed forms: predictions,
intervals, validation, save and load, deprecations (seeded, a few seconds each)."""

import json
import math

import numpy as np
import pytest
from scipy.special import ndtr
from scipy.stats import norm
from sklearn.base import clone

from bayesreg._validation import InputError
from bayesreg.dropout import MCDropoutRegressor


@pytest.fixture(scope="module")
def small_fit(sine_data):
    X, y = sine_data
    return MCDropoutRegressor(hidden=(20,), dropout=0.1, tau=50.0, epochs=50,
                              mc_samples=400, seed=1).fit(X, y)


def test_zero_dropout_mc_equals_deterministic_and_variance_is_noise(sine_data):
    X, y = sine_data
    tau = 4.0
    m = MCDropoutRegressor(hidden=(10,), dropout=0.0, tau=tau, epochs=5, mc_samples=200,
                           seed=0).fit(X, y)
    Xt = X[:30]
    mean, sd = m.predict(Xt, return_std=True)
    det = m.predict_deterministic(Xt)
    np.testing.assert_allclose(mean, det, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(sd**2, np.full(30, 1 / tau))
    # the mixture of identical Gaussians is that Gaussian: exact normal quantiles (the former
    # central interval, under the deprecated prob=)
    with pytest.warns(FutureWarning, match=r"predict_interval\(prob=\) is deprecated"):
        iv = m.predict_interval(Xt, prob=0.9)
    half = norm.ppf(0.95) / math.sqrt(tau)
    np.testing.assert_allclose(iv.obs_low, det - half, atol=1e-8)
    np.testing.assert_allclose(iv.obs_high, det + half, atol=1e-8)
    ll = m.log_likelihood(Xt, y[:30])
    np.testing.assert_allclose(ll, norm.logpdf(y[:30], det, 1 / math.sqrt(tau)).mean(),
                               rtol=1e-10)


def test_linear_model_mc_moments_match_closed_form():
    r"""For y = (m o x / (1-p)) w + b: E = x w + b and Var = p/(1-p) sum_j x_j^2 w_j^2."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(100, 4))
    y = X @ np.array([1.0, -1.0, 0.5, 2.0]) + 0.1 * rng.normal(size=100)
    p = 0.4
    m = MCDropoutRegressor(hidden=(), dropout=p, epochs=20, seed=0).fit(X, y)
    Xt = X[:10]
    s = m.sample_predictions(Xt, n_samples=20000)
    Xs = (Xt - m.x_mean_) / m.x_scale_
    w = m.coefs_[0][:, 0]
    var = p / (1 - p) * (Xs**2 @ w**2) * m.y_scale_**2
    det = m.predict_deterministic(Xt)
    se = np.sqrt(var / s.shape[0])
    assert np.all(np.abs(s.mean(0) - det) < 5 * se)
    # sample variance of 20000 draws: relative SE ~ sqrt(2/T) * kurtosis factor < 3%
    np.testing.assert_allclose(s.var(0), var, rtol=0.08)


def test_interval_and_loglik_are_the_mixture_closed_forms(small_fit, sine_data):
    X, y = sine_data
    m = small_fit
    Xt, yt = X[:15], y[:15]
    s = m.sample_predictions(Xt)
    sd = 1 / math.sqrt(m.tau)
    with pytest.warns(FutureWarning, match="central intervals"):  # the former interval
        iv = m.predict_interval(Xt, prob=0.8)
    # mixture CDF at the bounds is exactly 0.1 and 0.9
    cdf = lambda x: ndtr((x[None, :] - s) / sd).mean(0)  # noqa: E731
    np.testing.assert_allclose(cdf(iv.obs_low), 0.1, atol=1e-8)
    np.testing.assert_allclose(cdf(iv.obs_high), 0.9, atol=1e-8)
    np.testing.assert_allclose(iv.mean, m.predict(Xt))
    # log of the mixture density, computed directly
    dens = norm.pdf(yt[None, :], s, sd).mean(0)
    np.testing.assert_allclose(m.log_likelihood(Xt, yt), np.log(dens).mean(), rtol=1e-10)
    mean, psd = m.predict(Xt, return_std=True)
    np.testing.assert_allclose(psd**2, 1 / m.tau + (s**2).mean(0) - s.mean(0) ** 2, rtol=1e-8)
    assert np.all(psd**2 > 1 / m.tau)


def test_mc_mean_settles_like_one_over_sqrt_T(small_fit, sine_data):
    """sd over seeds of the MC mean shrinks by ~4 when T grows 16x."""
    X, _ = sine_data
    Xt = X[:20]
    sds = []
    for T in (50, 800):
        means = np.array([small_fit.sample_predictions(Xt, T, seed=r).mean(0)
                          for r in range(40)])
        sds.append(means.std(0, ddof=1).mean())
    ratio = sds[0] / sds[1]
    assert 3.0 < ratio < 5.3, ratio


def test_sklearn_clone_and_params():
    m = MCDropoutRegressor(hidden=(5, 5), dropout=0.2, seed=3)
    c = clone(m)
    assert c.get_params() == m.get_params()
    X = np.random.default_rng(0).normal(size=(30, 2))
    c.set_params(epochs=2, mc_samples=10).fit(X, X[:, 0])
    assert [W.shape for W in c.coefs_] == [(2, 5), (5, 5), (5, 1)]


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"tau": 0.0}, "tau"),
        ({"tau": float("nan")}, "tau"),
        ({"epochs": 0}, "epochs"),
        ({"epochs": 2.5}, "epochs"),
        ({"hidden": 50}, "hidden"),
        ({"hidden": (50, 0)}, "hidden"),
        ({"hidden": (5.5,)}, "hidden"),
        ({"batch_size": 0}, "batch_size"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"mc_samples": 0}, "mc_samples"),
        ({"length_scale": -1.0}, "length_scale"),
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"seed": "a"}, "seed"),
        ({"seed": -1}, "seed"),
        ({"standardize": "yes"}, "standardize"),
        ({"dtype": "float16"}, "dtype"),
    ],
)
def test_bad_hyperparameters_raise(kwargs, name):
    X = np.zeros((5, 2))
    with pytest.raises(ValueError, match=name) as exc:
        MCDropoutRegressor(**kwargs).fit(X, np.zeros(5))
    assert repr(next(iter(kwargs.values())))[:3] in str(exc.value)
    assert isinstance(exc.value, InputError)
    assert exc.value.field == name


def test_a_bad_deprecated_random_state_names_its_field():
    with pytest.warns(FutureWarning, match="random_state"), \
            pytest.raises(InputError, match="random_state") as exc:
        MCDropoutRegressor(random_state=-1).fit(np.zeros((5, 2)), np.zeros(5))
    assert exc.value.field == "random_state"


def test_bad_data_raise():
    m = MCDropoutRegressor(epochs=1, mc_samples=5, hidden=(3,))
    X = np.random.default_rng(0).normal(size=(10, 2))
    y = X[:, 0]
    with pytest.raises(ValueError, match="X: must be 2-D"):
        m.fit(X[:, 0], y)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"X\[0\]\[0\]: must be a finite number; got NaN"):
        m.fit(Xn, y)
    with pytest.raises(ValueError, match=r"y\[0\]: must be a finite number; got inf"):
        m.fit(X, np.r_[np.inf, y[1:]])
    with pytest.raises(ValueError, match="y: has 9 samples but X has 10"):
        m.fit(X, y[:9])
    m.fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features"):
        m.predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"hdi_prob: must be in the range \(0, 1\); got 1.5"):
        m.predict_interval(X, hdi_prob=1.5)
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="prob"):
        m.predict_interval(X, prob=1.5)
    with pytest.raises(ValueError, match="n_samples"):
        m.sample_predictions(X, n_samples=0)


def test_chunks_draw_fresh_masks(small_fit, sine_data, monkeypatch):
    """Chunking T must not repeat masks: with one pass per chunk the passes still vary.

    (With p = 0.1 on 21 units many masks coincide by chance, about 20 distinct values out
    of 50 passes; repeated masks would give exactly 1.)"""
    from bayesreg.dropout import layers

    X, _ = sine_data
    monkeypatch.setattr(layers, "_MAX_CHUNK_ELEMENTS", 1)
    s = small_fit.sample_predictions(X[:3], n_samples=50)
    assert len(np.unique(s[:, 0])) > 10


def test_row_blocks_give_the_same_draws_as_sample_predictions(small_fit, sine_data, monkeypatch):
    """predict & co. summarize row blocks; they must see exactly sample_predictions' draws."""
    from bayesreg.dropout import regressor

    X, y = sine_data
    monkeypatch.setattr(regressor, "_MAX_BLOCK_PASSES", 400 * 7)  # 7 rows per block
    s = small_fit.sample_predictions(X[:30])
    mean, sd = small_fit.predict(X[:30], return_std=True)
    np.testing.assert_allclose(mean, s.mean(0), rtol=1e-12)
    np.testing.assert_allclose(sd, np.sqrt(1 / small_fit.tau + s.var(0)), rtol=1e-12)
    dens = norm.pdf(y[:30][None, :], s, 1 / math.sqrt(small_fit.tau)).mean(0)
    np.testing.assert_allclose(small_fit.log_likelihood(X[:30], y[:30]), np.log(dens).mean(),
                               rtol=1e-10)
    # blocks do not reuse masks: first rows of two blocks with equal inputs differ
    Xd = np.repeat(X[:1], 14, axis=0)
    sd_ = small_fit.sample_predictions(Xd)
    assert not np.array_equal(sd_[:, 0], sd_[:, 7])


# scikit-learn warns for each check it skips: check_array_api_input unless SCIPY_ARRAY_API=1
# is set in the environment, check_pipeline_consistency for an estimator tagged
# non_deterministic (MC dropout is, by design).
@pytest.mark.filterwarnings(r"ignore:Skipping check check_(array_api_input|pipeline_consistency) "
                            r"for \w+ because it raised SkipTest:"
                            "sklearn.exceptions.SkipTestWarning")
# sklearn.utils.estimator_checks sets random_state=0 on every estimator that has the
# parameter: here the deprecated alias of seed, which warns when set.
@pytest.mark.filterwarnings(
    r"ignore:MCDropoutRegressor\(random_state=\) is deprecated:FutureWarning")
def test_passes_sklearn_check_estimator():
    """The scikit-learn contract; MC predictions are declared non-deterministic per row."""
    from sklearn.utils.estimator_checks import check_estimator

    check_estimator(MCDropoutRegressor(epochs=200, mc_samples=50, seed=0))


@pytest.mark.parametrize("kwargs", [
    {"hidden": (8, 6), "dropout": 0.2, "tau": 20.0, "standardize": True},
    {"hidden": (), "dropout": 0.1, "tau": 5.0, "standardize": False, "dtype": "float32"},
])
def test_save_load_round_trip_gives_identical_numbers(sine_data, tmp_path, kwargs):
    X, y = sine_data
    est = MCDropoutRegressor(epochs=5, mc_samples=50, seed=3, **kwargs).fit(X, y)
    path = tmp_path / "model.bin"  # any name: save must not append a suffix
    est.save(path)
    assert path.exists() and not (tmp_path / "model.bin.npz").exists()
    back = MCDropoutRegressor.load(path)
    assert back.get_params() == est.get_params()
    Xt = X[:17] + 0.3
    np.testing.assert_array_equal(back.predict(Xt), est.predict(Xt))
    for a, b in zip(back.predict(Xt, return_std=True), est.predict(Xt, return_std=True)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(back.predict_interval(Xt, hdi_prob=0.8), est.predict_interval(Xt, hdi_prob=0.8)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(back.predict_deterministic(Xt), est.predict_deterministic(Xt))
    assert back.log_likelihood(X, y) == est.log_likelihood(X, y)
    np.testing.assert_array_equal(back.loss_curve_, est.loss_curve_)
    assert back.weight_decay_ == est.weight_decay_ and back.hidden_ == est.hidden_


def test_save_needs_a_fit_and_load_rejects_other_files(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MCDropoutRegressor().save(tmp_path / "m.npz")
    np.savez(tmp_path / "other.npz", meta=np.asarray('{"format": "something else"}'))
    with pytest.raises(ValueError, match="not a saved MCDropoutRegressor") as exc:
        MCDropoutRegressor.load(tmp_path / "other.npz")
    assert isinstance(exc.value, InputError) and exc.value.field == "path"


def test_generator_seed_saves_as_none(sine_data, tmp_path):
    X, y = sine_data
    est = MCDropoutRegressor(hidden=(4,), epochs=2, mc_samples=20,
                             seed=np.random.default_rng(5)).fit(X, y)
    est.save(tmp_path / "m.npz")
    back = MCDropoutRegressor.load(tmp_path / "m.npz")
    assert back.seed is None and back.random_state is None
    np.testing.assert_array_equal(back.predict(X[:5]), est.predict(X[:5]))


def test_predict_interval_is_the_estimators_interval(small_fit, sine_data):
    """The same class as BayesianRegression's, and the same kind of interval: the mean
    function's band is ArviZ's HDI of the T passes, the observation's band ArviZ's HDI of the
    same passes plus one noise draw each (the tests at the end check the rest)."""
    import arviz as az

    from bayesreg.estimator import PredictiveInterval

    X, _ = sine_data
    iv = small_fit.predict_interval(X[:12], hdi_prob=0.8)
    assert isinstance(iv, PredictiveInterval)
    assert iv._fields == ("mean", "mean_low", "mean_high", "obs_low", "obs_high")
    mean_hdi = az.hdi(small_fit.sample_predictions(X[:12])[None], hdi_prob=0.8)
    obs_hdi = az.hdi(small_fit.sample_predictions(X[:12], noise=True)[None], hdi_prob=0.8)
    np.testing.assert_array_equal(np.c_[iv.mean_low, iv.mean_high], mean_hdi)
    np.testing.assert_array_equal(np.c_[iv.obs_low, iv.obs_high], obs_hdi)
    assert iv.to_dict() == {k: np.asarray(v).tolist() for k, v in zip(iv._fields, iv)}
    summary = small_fit.predict_summary(X[:12], hdi_prob=0.8)
    for field in iv._fields:
        np.testing.assert_array_equal(getattr(summary, field), getattr(iv, field))


def test_zero_dropout_mean_band_is_the_plain_network(sine_data):
    X, y = sine_data
    m = MCDropoutRegressor(hidden=(6,), dropout=0.0, epochs=3, mc_samples=50, seed=0).fit(X, y)
    iv = m.predict_interval(X[:10], hdi_prob=0.95)
    det = m.predict_deterministic(X[:10])
    np.testing.assert_allclose(iv.mean_low, det, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(iv.mean_high, det, rtol=1e-12, atol=1e-12)


def test_to_dict_is_the_fit_on_its_training_data(sine_data, tmp_path):
    X, y = sine_data
    m = MCDropoutRegressor(hidden=(7,), dropout=0.1, tau=30.0, epochs=4, mc_samples=60,
                           seed=4).fit(X, y, evaluate=True)
    out = m.to_dict()
    json.dumps(out, allow_nan=False)
    rmse = math.sqrt(np.mean((y - m.predict(X)) ** 2))
    assert out["train_rmse"] == pytest.approx(rmse, rel=1e-12)
    assert out["log_likelihood_train"] == pytest.approx(m.log_likelihood(X, y), rel=1e-12)
    assert out["final_loss"] == m.loss_curve_[-1]
    assert out["weight_decay"] == pytest.approx(1e-4 * 0.9 / (2 * 200 * 30.0), rel=1e-12)
    assert {k: out[k] for k in ("tau", "dropout", "hidden", "n_features", "n_samples",
                                "epochs", "mc_samples")} == {
        "tau": 30.0, "dropout": 0.1, "hidden": [7], "n_features": 1, "n_samples": 200,
        "epochs": 4, "mc_samples": 60}
    assert set(out["timing"]) == {"train_s", "evaluate_s"} and out["timing"]["train_s"] > 0
    m.save(tmp_path / "m.npz")  # the result is saved with the weights: it cannot be recomputed
    assert MCDropoutRegressor.load(tmp_path / "m.npz").to_dict() == out
    lazy = MCDropoutRegressor(hidden=(7,), epochs=1, mc_samples=5, seed=4).fit(X, y)
    assert lazy.to_dict()["train_rmse"] is None and lazy.to_dict()["timing"]["evaluate_s"] is None


def test_deprecated_names_warn_and_still_work(small_fit, sine_data):
    X, y = sine_data
    kw = dict(hidden=(4,), epochs=2, mc_samples=20)
    want = MCDropoutRegressor(seed=5, **kw).fit(X, y).predict(X[:6])
    with pytest.warns(FutureWarning, match=r"random_state=\) is deprecated"):
        old = MCDropoutRegressor(random_state=5, **kw).fit(X, y)
    np.testing.assert_array_equal(old.predict(X[:6]), want)
    with pytest.warns(FutureWarning, match="ignored, as seed is set"):
        both = MCDropoutRegressor(seed=5, random_state=9, **kw).fit(X, y)
    np.testing.assert_array_equal(both.predict(X[:6]), want)
    iv = small_fit.predict_interval(X[:5], hdi_prob=0.95)
    summary = small_fit.predict_summary(X[:5], hdi_prob=0.95)
    for obj, name in ((iv, "PredictiveInterval"), (summary, "PredictiveSummary")):
        with pytest.warns(FutureWarning, match=rf"{name}\.lower is deprecated"):
            np.testing.assert_array_equal(obj.lower, obj.obs_low)
        with pytest.warns(FutureWarning, match=rf"{name}\.upper is deprecated"):
            np.testing.assert_array_equal(obj.upper, obj.obs_high)
    with pytest.warns(FutureWarning, match=r"sample_predictions\(random_state=\)"):
        old_draws = small_fit.sample_predictions(X[:5], 30, random_state=3)
    np.testing.assert_array_equal(old_draws, small_fit.sample_predictions(X[:5], 30, seed=3))


def test_loads_a_version_1_file(small_fit, sine_data, tmp_path):
    """Files saved before the rename carry the seed as random_state and no result."""
    X, _ = sine_data
    small_fit.save(tmp_path / "new.npz")
    with np.load(tmp_path / "new.npz") as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays.pop("meta")))
    meta["params"]["random_state"] = meta["params"].pop("seed")
    meta["version"] = 1
    del meta["result"]
    np.savez(tmp_path / "old.npz", meta=np.asarray(json.dumps(meta)), **arrays)
    back = MCDropoutRegressor.load(tmp_path / "old.npz")
    assert back.seed == 1 and back.random_state is None
    assert not hasattr(back, "result_")
    np.testing.assert_array_equal(back.predict(X[:8]), small_fit.predict(X[:8]))


def test_the_file_keeps_the_result_that_cannot_be_recomputed(small_fit, sine_data, tmp_path):
    """save loses nothing the fit computed: its result (final loss, the values used, timing)
    comes back with the weights."""
    X, _ = sine_data
    small_fit.save(tmp_path / "fit.npz")
    with np.load(tmp_path / "fit.npz") as data:
        meta = json.loads(str(data["meta"]))
    assert meta["version"] == 2 and meta["result"]["final_loss"] == small_fit.result_.final_loss
    back = MCDropoutRegressor.load(tmp_path / "fit.npz")
    assert back.to_dict() == small_fit.to_dict()
    assert back.result_ == small_fit.result_
    np.testing.assert_array_equal(back.predict(X[:8]), small_fit.predict(X[:8]))


def _same_count_central(samples, prob):
    """The central interval holding as many sorted values as the HDI does: one of the
    intervals the HDI is the shortest of."""
    ordered = np.sort(samples, axis=0)
    T = ordered.shape[0]
    k = int(np.floor(prob * T))
    start = (T - 1 - k) // 2
    return ordered[start], ordered[start + k]


def test_hdis_are_no_wider_than_central_intervals_and_hold_their_mass(small_fit, sine_data):
    """On the same passes, each HDI is no wider than the central interval of the same mass;
    the observation band holds hdi_prob of the exact predictive mixture (within the Monte
    Carlo error of T draws), and the noise added to the passes is N(0, 1/tau)."""
    from scipy.stats import kstest

    X, _ = sine_data
    Xt, prob = X[:40], 0.9
    iv = small_fit.predict_interval(Xt, hdi_prob=prob)
    passes = small_fit.sample_predictions(Xt)
    noisy = small_fit.sample_predictions(Xt, noise=True)
    for (low, high), samples in (((iv.mean_low, iv.mean_high), passes),
                                 ((iv.obs_low, iv.obs_high), noisy)):
        c_low, c_high = _same_count_central(samples, prob)
        assert np.all(high - low <= c_high - c_low)
    sd = 1 / math.sqrt(small_fit.tau_)
    assert kstest(((noisy - passes) / sd).ravel(), "norm").pvalue > 1e-3
    cdf = lambda x: norm.cdf((x[None, :] - passes) / sd).mean(0)  # noqa: E731  exact mixture
    mass = cdf(iv.obs_high) - cdf(iv.obs_low)
    T = passes.shape[0]
    assert np.all(np.abs(mass - prob) < 4 * math.sqrt(prob * (1 - prob) / T) + 1 / T)
    np.testing.assert_allclose(iv.mean, small_fit.predict(Xt))


def test_prob_is_a_deprecated_alias_that_keeps_the_central_numbers(small_fit, sine_data):
    X, _ = sine_data
    Xt = X[:10]
    with pytest.warns(FutureWarning, match=r"predict_interval\(prob=\) is deprecated"):
        old = small_fit.predict_interval(Xt, prob=0.8)
    with pytest.warns(FutureWarning, match=r"predict_summary\(prob=\) is deprecated"):
        old_summary = small_fit.predict_summary(Xt, prob=0.8)
    passes = small_fit.sample_predictions(Xt)
    np.testing.assert_allclose(np.c_[old.mean_low, old.mean_high],
                               np.quantile(passes, [0.1, 0.9], axis=0).T, rtol=1e-12)
    sd = 1 / math.sqrt(small_fit.tau_)
    np.testing.assert_allclose(norm.cdf((old.obs_low[None, :] - passes) / sd).mean(0), 0.1,
                               atol=1e-8)
    for field in old._fields:
        np.testing.assert_array_equal(getattr(old_summary, field), getattr(old, field))
    # the default changed to HDIs at 0.95, and says so
    with pytest.warns(FutureWarning, match="now returns highest-density intervals"):
        new = small_fit.predict_interval(Xt)
    with pytest.warns(FutureWarning, match=r"predict_summary\(\) now returns highest-density"):
        small_fit.predict_summary(Xt)
    np.testing.assert_array_equal(new.obs_low,
                                  small_fit.predict_interval(Xt, hdi_prob=0.95).obs_low)
    assert not np.array_equal(new.mean_low, old.mean_low)


def test_a_positional_mass_is_the_deprecated_prob_with_the_former_central_numbers(small_fit,
                                                                                  sine_data):
    # the former signature was predict_interval(X, prob=0.95), predict_summary(X, prob=0.95)
    X, _ = sine_data
    Xt = X[:10]
    with pytest.warns(FutureWarning, match=r"predict_interval\(prob=\) is deprecated"):
        old = small_fit.predict_interval(Xt, 0.8)
    with pytest.warns(FutureWarning, match=r"predict_summary\(prob=\) is deprecated"):
        old_summary = small_fit.predict_summary(Xt, 0.8)
    passes = small_fit.sample_predictions(Xt)
    sd = 1 / math.sqrt(small_fit.tau_)
    for iv in (old, old_summary):
        np.testing.assert_allclose(np.c_[iv.mean_low, iv.mean_high],
                                   np.quantile(passes, [0.1, 0.9], axis=0).T, rtol=1e-12)
        for bound, tail in ((iv.obs_low, 0.1), (iv.obs_high, 0.9)):  # the exact mixture cdf
            np.testing.assert_allclose(norm.cdf((bound[None, :] - passes) / sd).mean(0), tail,
                                       atol=1e-8)
    with pytest.raises(TypeError):
        small_fit.predict_interval(Xt, 0.8, 0.8)  # hdi_prob is keyword-only
    with pytest.raises(InputError, match="not both") as err:
        small_fit.predict_interval(Xt, hdi_prob=0.8, prob=0.8)
    assert err.value.field == "prob"
