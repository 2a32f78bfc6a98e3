"""BayesianRegression's own behaviour (bayesreg/estimator.py): save and load, to_dict,
its deprecated names. Sampling is small and seeded."""

import arviz as az
import numpy as np
import pytest

from bayesreg import BayesianRegression


def test_save_and_load_roundtrip(tmp_path, ridge_data):
    X, y = ridge_data
    est = BayesianRegression(prior="ridge", alpha=0.2, seed=4, method="exact").fit(X, y)
    path = tmp_path / "fit.nc"
    est.save(path)
    back = BayesianRegression.load(path)
    np.testing.assert_array_equal(back.coef_, est.coef_)
    assert back.to_dict() == est.to_dict()
    np.testing.assert_allclose(back.predict_interval(X[:4]).obs_high, est.predict_interval(X[:4]).obs_high)
    assert az.from_netcdf(path).posterior["coef"].shape == (4, 1000, 5)
    est_map = BayesianRegression(prior="lasso", alpha=0.1, method="map").fit(X, y)
    est_map.save(tmp_path / "map.nc")
    assert BayesianRegression.load(tmp_path / "map.nc").to_dict() == est_map.to_dict()


def test_to_dict_is_json_safe(diabetes):
    import json

    X, y = diabetes
    est = BayesianRegression(prior="elastic_net", alpha=0.01, draws=200, tune=200, chains=2,
                             seed=1).fit(X, y)
    d = json.loads(json.dumps(est.to_dict(), allow_nan=False))
    assert [c["name"] for c in d["posterior"]["coef"]] == list(X.columns)
    assert d["map"]["coef"] == pytest.approx(list(est.coef_))
    assert d["diagnostics"] == est.diagnostics_      # finite numbers: JSON keeps them as they are
    assert d["diagnostics"]["divergences"] == int(est.posterior_.sample_stats["diverging"].sum())
    assert d["diagnostics"]["max_r_hat"] == est.summary()["r_hat"].max()


def test_load_keeps_feature_names_numpy_params_and_closed_form(tmp_path, ridge_data):
    import pandas as pd

    X, y = ridge_data
    frame = pd.DataFrame(X, columns=list("abcde"))
    est = BayesianRegression(prior="ridge", alpha=np.float32(0.2), seed=np.int64(4),
                             standardize=np.bool_(False), method="exact").fit(frame, y)
    est.save(tmp_path / "fit.nc")
    back = BayesianRegression.load(tmp_path / "fit.nc")
    with pytest.raises(ValueError, match="feature names"):
        back.predict(frame[list("edcba")])
    with pytest.raises(ValueError, match="feature names"):
        back.predict_interval(frame[list("edcba")])
    np.testing.assert_array_equal(back.predict(frame), est.predict(frame))
    # the loaded exact fit still answers other hdi_probs in closed form
    pd.testing.assert_frame_equal(back.summary(hdi_prob=0.5), est.summary(hdi_prob=0.5))


def test_load_reads_the_file_and_closes_it(tmp_path, ridge_data):
    # a loaded estimator must not pin its file: the service deletes fits (freeing their space)
    # while loaded models stay cached
    import glob
    import os

    X, y = ridge_data
    path = tmp_path / "m.nc"
    BayesianRegression(prior="ridge", alpha=0.1, seed=1, method="exact").fit(X, y).save(path)
    est = BayesianRegression.load(path)
    held = {os.path.realpath(fd) for fd in glob.glob("/proc/self/fd/*")}
    assert str(path.resolve()) not in held
    before = est.predict_interval(X[:3]).mean
    os.remove(path)
    np.testing.assert_array_equal(est.predict_interval(X[:3]).mean, before)


def test_exact_fit_stores_the_covariance_diagonal_not_a_p_by_p_matrix(tmp_path):
    # model.nc held the p x p covariance as JSON text (97 MB at p = 2000); only its diagonal
    # is read after load
    import json

    import xarray as xr

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 300))
    y = X[:, 0] + rng.normal(size=400)
    est = BayesianRegression(prior="ridge", alpha=0.5, draws=50, chains=2, seed=0,
                             method="exact")
    est.fit(X, y).save(tmp_path / "m.nc")
    meta = json.loads(xr.open_dataset(tmp_path / "m.nc", group="posterior",
                                      engine="h5netcdf").attrs["bayesreg"])
    assert np.asarray(meta["exact"]["a_inv"]).shape == (300,)
    back = BayesianRegression.load(tmp_path / "m.nc")
    np.testing.assert_allclose(back.summary()["sd"].to_numpy(), est.summary()["sd"].to_numpy(),
                               rtol=1e-12)


def test_deprecated_names_still_work_and_warn(diabetes):
    """``random_seed=`` (now ``seed=``) and ``fit(method=)`` (now the constructor's) keep working,
    with a FutureWarning naming the replacement, and give the same fit."""
    X, y = diabetes
    new = BayesianRegression(seed=3, method="exact", prior="ridge").fit(X, y)
    with pytest.warns(FutureWarning, match="use seed="):
        old = BayesianRegression(random_seed=3, method="exact", prior="ridge").fit(X, y)
    def result(est):
        return {k: v for k, v in est.to_dict().items() if k != "timing"}
    assert result(old) == result(new) and old.seed_ == new.seed_ == 3
    with pytest.warns(FutureWarning, match=r"BayesianRegression\(method=\.\.\.\)"):
        old = BayesianRegression(seed=3, prior="ridge").fit(X, y, method="exact")
    assert result(old) == result(new)
    with pytest.warns(FutureWarning), pytest.raises(ValueError, match="give only seed"):
        BayesianRegression(seed=1, random_seed=2).fit(X, y)


def _as_older_file(path, est, older):
    """``est`` saved as before the summary was dropped from model.nc: the table (in the JSON
    split form that save wrote) beside the params and state in the attrs."""
    import json

    import pandas as pd

    s = est.summary()
    with az.rc_context({"data.load": "eager"}):
        idata = az.from_netcdf(str(path))
    meta = json.loads(idata.posterior.attrs["bayesreg"])
    assert "summary" not in meta                                    # stored once: no table
    meta["summary"] = {"index": list(s.index), "columns": list(s.columns),
                       "data": [[v.item() if hasattr(v, "item") else v for v in row]
                                for row in s.itertuples(index=False)]}
    idata.posterior.attrs["bayesreg"] = json.dumps(meta)
    idata.to_netcdf(str(older))
    split = meta["summary"]
    return pd.DataFrame(split["data"], index=split["index"], columns=split["columns"])


@pytest.mark.parametrize("kw", [
    {"prior": "ridge", "alpha": 0.2, "method": "exact", "seed": 4},
    {"prior": "lasso", "alpha": 0.1, "learn_alpha": True, "draws": 150, "tune": 150,
     "chains": 2, "seed": 3},
    {"prior": "elastic_net", "alpha": 0.1, "sigma": 1.3, "draws": 150, "tune": 150,
     "chains": 2, "seed": 5},                                  # a constant sigma: NaN r_hat
])
def test_load_recomputes_the_summary_exactly_and_reads_older_files(tmp_path, ridge_data, kw,
                                                                   monkeypatch):
    """model.nc no longer stores the summary table (SQLite has the result): load recomputes
    it, on first use, from the draws (or the exact posterior) and the MAP, and that equals, to
    the bit, the table of the fit and the table an older file stores."""
    import pandas as pd

    from bayesreg import diagnostics

    X, y = ridge_data
    est = BayesianRegression(**kw).fit(X, y)
    est.save(tmp_path / "m.nc")
    calls = []
    summarize = diagnostics.summarize
    monkeypatch.setattr(diagnostics, "summarize", lambda *a: calls.append(1) or summarize(*a))
    back = BayesianRegression.load(tmp_path / "m.nc")
    back.predict_interval(X[:3])
    assert calls == []                                   # a prediction needs only the draws
    pd.testing.assert_frame_equal(back.summary(), est.summary(), check_exact=True)
    back.summary()
    assert calls == [1]                                  # computed once
    assert back.to_dict() == est.to_dict()
    stored = _as_older_file(tmp_path / "m.nc", est, tmp_path / "older.nc")
    old = BayesianRegression.load(tmp_path / "older.nc")
    pd.testing.assert_frame_equal(old.summary(), stored, check_exact=True, check_dtype=False)
    assert old.to_dict() == est.to_dict()
