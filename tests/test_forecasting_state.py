"""WindowedForecaster's parameters and fitted state: the default estimator's
nested keys, the epoch helpers and the epoch cache through a forecaster,
feature names, files (with an index) and the check of a restored state."""

import copy
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

from sklstm import LSTMRegressor, load, save
from sklstm.forecasting import WindowedForecaster
from sklstm.model_selection import refit_with_cv_epochs, stopped_epoch

sys.path.insert(0, str(Path(__file__).parent))
from conftest import SETTINGS  # noqa: E402
from test_forecasting import Column  # noqa: E402

FAST = SETTINGS["fast"]
T = np.arange(60.0)
SERIES = np.sin(T / 3) + 0.02 * T
LSTM_KEYS = {f"estimator__lstmregressor__{k}": v for k, v in FAST.items()}


# ------------------------------------------------------------ the default
def test_the_default_pipeline_is_visible_to_get_params_and_set_params():
    model = WindowedForecaster()
    params = model.get_params(deep=True)
    assert params["estimator"] is None
    assert params["estimator__lstmregressor__hidden_size"] == 32
    assert "estimator__sequencescaler__method" in params
    assert "estimator__lstmregressor__hidden_size" not in model.get_params(deep=False)
    model.set_params(estimator__lstmregressor__hidden_size=5)
    assert model.estimator[-1].hidden_size == 5
    assert model.get_params()["estimator__lstmregressor__hidden_size"] == 5
    # clone keeps None as None and a set pipeline as an unfitted copy
    assert clone(WindowedForecaster()).estimator is None
    again = clone(model)
    assert again.estimator is not model.estimator
    assert again.estimator[-1].hidden_size == 5
    # estimator=None in the same call still reaches the default
    other = WindowedForecaster(Column()).set_params(
        estimator=None, estimator__lstmregressor__lr=0.1
    )
    assert other.estimator[-1].lr == 0.1
    with pytest.raises(ValueError, match="Invalid parameter 'nope'"):
        WindowedForecaster().set_params(estimator__nope=1)


def test_a_search_over_the_documented_nested_key():
    X, y = SERIES[:, None], SERIES
    search = GridSearchCV(
        WindowedForecaster(lookback=4).set_params(**LSTM_KEYS),
        {"estimator__lstmregressor__hidden_size": [2, 3]},
        cv=TimeSeriesSplit(n_splits=2, test_size=10),
        scoring="neg_root_mean_squared_error",
    ).fit(X, y)
    sizes = {
        p["estimator__lstmregressor__hidden_size"] for p in search.cv_results_["params"]
    }
    assert sizes == {2, 3}
    best = search.best_params_["estimator__lstmregressor__hidden_size"]
    assert search.best_estimator_.estimator_[-1].hidden_size == best


# ------------------------------------------------------------ epochs
@pytest.mark.parametrize("inner", ["default", "target transformer"])
def test_stopped_epoch_and_refit_through_a_forecaster(inner):
    X, y = SERIES[:, None], SERIES
    settings = {**FAST, "max_epochs": 5, "early_stopping": True, "n_iter_no_change": 1}
    if inner == "default":
        model = WindowedForecaster(lookback=4).set_params(
            **{f"estimator__lstmregressor__{k}": v for k, v in settings.items()}
        )
        grid = {"estimator__lstmregressor__lr": [1e-3, 1e-2]}
    else:
        model = WindowedForecaster(
            TransformedTargetRegressor(LSTMRegressor(**settings)), lookback=4
        )
        grid = {"estimator__regressor__lr": [1e-3, 1e-2]}
    search = GridSearchCV(
        model,
        grid,
        scoring={"rmse": "neg_root_mean_squared_error", "epochs": stopped_epoch},
        refit="rmse",
        cv=TimeSeriesSplit(n_splits=2, test_size=10),
    ).fit(X, y)
    epochs = [
        search.cv_results_[f"split{i}_test_epochs"][search.best_index_]
        for i in range(2)
    ]
    assert all(1 <= e <= 5 for e in epochs)
    final = refit_with_cv_epochs(search, X, y)
    lstm = final.estimator_[-1] if inner == "default" else final.estimator_.regressor_
    assert lstm.max_epochs == max(1, int(round(np.median(epochs))))
    assert not lstm.early_stopping and lstm.n_iter_ == lstm.max_epochs
    assert stopped_epoch(final) == lstm.best_epoch_


def test_epoch_helpers_explain_what_is_missing():
    with pytest.raises(ValueError, match="holds none"):
        stopped_epoch(WindowedForecaster(Column(), lookback=3).fit(T[:, None], T))

    class Search:  # a finished search whose second fold failed
        cv_results_ = {
            "split0_test_epochs": np.array([3.0]),
            "split1_test_epochs": np.array([np.nan]),
            "split2_test_epochs": np.array([np.nan]),
        }
        best_index_ = 0

    with pytest.raises(ValueError, match=r"no 'epochs' score in split1, split2 \(NaN"):
        refit_with_cv_epochs(Search(), None, None)


def test_the_epoch_cache_resumes_through_a_forecaster(tmp_path):
    X, y = SERIES[:, None], SERIES

    def fit(epochs, cache):
        keys = {**LSTM_KEYS, "estimator__lstmregressor__max_epochs": epochs}
        keys["estimator__lstmregressor__lr_scheduler"] = None  # resumable
        keys["estimator__lstmregressor__epoch_cache"] = cache
        return WindowedForecaster(lookback=4).set_params(**keys).fit(X, y)

    fit(2, str(tmp_path))
    resumed = fit(4, str(tmp_path))
    stored = sorted(p.name.split("-")[-1] for p in tmp_path.iterdir())
    assert stored == ["00002.sklstm", "00004.sklstm"]
    np.testing.assert_allclose(resumed.predict(X), fit(4, None).predict(X), rtol=1e-5)


# ------------------------------------------------------------ errors
def test_raw_errors_are_now_clear():
    X, y = T[:12, None], T[:12]
    with pytest.raises(ValueError, match="leaves no window to calibrate on"):
        WindowedForecaster(Column(), lookback=4, horizon=3, calibration_size=0.9).fit(
            X, y
        )
    model = WindowedForecaster(Column(), lookback=3).fit(X, y)
    for bad in (True, 2.0, "3"):
        with pytest.raises(ValueError, match="n_steps must be a positive integer"):
            model.forecast(bad)
    assert np.allclose(model.forecast(np.int64(2)), [12, 13])
    frame = pd.DataFrame({"a": T, "b": -T})
    named = WindowedForecaster(Column(), lookback=3).fit(frame, T)
    assert list(named.feature_names_in_) == ["a", "b"]
    with pytest.raises(ValueError, match="feature names should match"):
        named.predict(frame[["b", "a"]])


# ------------------------------------------------------------ files
def _fitted(kind="datetime"):
    index = {
        "datetime": pd.date_range("2001-01-01", periods=60, freq="MS"),
        "integer": pd.RangeIndex(60),
    }[kind]
    X = pd.DataFrame({"level": SERIES}, index=index)
    model = WindowedForecaster(LSTMRegressor(**FAST), lookback=4, calibration_size=0.3)
    return model.fit(X[:45], SERIES[:45]), X


def test_an_indexed_forecaster_round_trips(tmp_path):
    pytest.importorskip("skops")
    model, X = _fitted()
    again = load(save(model, tmp_path / "f.sklstm"))
    assert list(again.feature_names_in_) == ["level"]
    for rows in (X[45:], X[50:], X[:45], X[10:55]):
        np.testing.assert_array_equal(again.predict(rows), model.predict(rows))
    np.testing.assert_array_equal(again.forecast(3), model.forecast(3))
    again._check_loaded_state()


def test_the_sklstm_02_forecaster_file_is_read_as_today():
    pytest.importorskip("skops")
    here = Path(__file__).parent / "data" / "legacy_0.2"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old = load(here / "forecaster.skops")
    old._check_loaded_state()
    assert old.missing == "raise" and old._time_index is None
    # its last rows continue: new rows are forecast from them
    last = old._fit_rows[0]
    assert old.predict(last[-1:] + 0.01).shape == (1,)


def _broken(attribute, value):
    model, _ = _fitted("integer")
    model = copy.copy(model)
    if callable(value):
        value = value(getattr(model, attribute))
    setattr(model, attribute, value)
    return model


@pytest.mark.parametrize(
    "attribute, value, message",
    [
        ("lookback", 10**9, "lookback=1000000000 is outside"),
        ("lookback", 5, "fitted on windows of 4 steps"),
        ("horizon", 2, "has 1 outputs"),
        ("horizon", "1", "horizon must be an integer"),
        ("differences", 3, "does not match the fitted lags"),
        ("n_features_in_", 2, r"shape \(45, 1\); expected \(n, 2\)"),
        ("n_targets_", 0, "n_targets_=0 is outside"),
        ("target_columns_", [3], "a target column=3 is outside"),
        ("_fit_rows", lambda r: [r[0][:, [0, 0]]], r"expected \(n, 1\)"),
        ("_fit_rows", lambda r: [r[0].astype(np.float32)], "2D float64"),
        ("_fit_steps", lambda s: [s[0][::-1].copy()], "steps must increase"),
        ("_fit_steps", lambda s: [s[0] * 10**7], "span at most"),
        ("_fit_steps", lambda s: [s[0][:3]], "one per row"),
        ("_anchors", ["2001-01-01"], "exactly for a datetime index"),
        ("_time_index", "weekly", "unknown"),
        ("conformal_scores_", lambda c: c[:, :, :, None], "must have shape"),
        ("conformal_scores_", lambda c: -c, "non-negative"),
        ("feature_names_in_", np.array(["a", "b"], dtype=object), "column names"),
        ("estimator_", None, "not a fitted regressor"),
        ("missing", "drop", "missing='drop' is unknown"),
    ],
)
def test_an_inconsistent_restored_state_is_refused(attribute, value, message):
    with pytest.raises(ValueError, match=message):
        _broken(attribute, value)._check_loaded_state()


def test_a_consistent_state_passes_and_sizes_are_bounded_before_use():
    model, X = _fitted("integer")
    model._check_loaded_state()
    model._fit_steps = [np.arange(45, dtype=np.int64) * 2**20]
    with pytest.raises(ValueError, match="span at most"):
        model._check_loaded_state()
