"""WindowedForecaster: the regression contract, differencing, covariates,
intervals, and the quantile loss of LSTMRegressor."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    TimeSeriesSplit,
    cross_val_predict,
    cross_val_score,
    cross_validate,
)

from sklstm import LSTMRegressor, load, save, to_onnx
from sklstm.forecasting import WindowedForecaster


class Column(RegressorMixin, BaseEstimator):
    """Predicts one column of a window's row ``row`` plus the mean offset of
    the targets from it; records what it saw."""

    def __init__(self, col=0, row=-1):
        self.col = col
        self.row = row

    def fit(self, X, y):
        X, y = np.asarray(X), np.asarray(y, dtype=float)
        self.X_fit_, self.y_fit_ = X, y
        base = X[:, self.row, self.col][:, None]
        self.offset_ = np.mean(y.reshape(len(y), -1) - base, axis=0)
        return self

    def predict(self, X):
        X = np.asarray(X)
        self.X_predict_ = X
        out = X[:, self.row, self.col][:, None] + self.offset_
        return out[:, 0] if len(self.offset_) == 1 else out


class MeanTarget(RegressorMixin, BaseEstimator):
    """Predicts the training targets' mean (per output)."""

    def fit(self, X, y):
        y = np.asarray(y, dtype=float)
        self.mean_ = y.mean(axis=0)
        return self

    def predict(self, X):
        return np.tile(self.mean_, (len(X), 1)).reshape(len(X), *self.mean_.shape)


def _univariate(series):
    return series.reshape(-1, 1), series


# ------------------------------------------------------------- the contract
@pytest.mark.parametrize("horizon", [1, 3])
def test_one_forecast_per_row_continuing_the_fitted_data(horizon):
    series = 5.0 + 2.0 * np.arange(40)
    X, y = _univariate(series)
    model = WindowedForecaster(Column(), lookback=4, horizon=horizon)
    model.fit(X[:30], y[:30])
    # row t is forecast from rows up to t - horizon: a trend of +2 per row
    assert np.allclose(model.predict(X[30:]), y[30:])
    assert model.predict(X[30:]).shape == (10,)
    assert model.score(X[30:], y[30:]) == pytest.approx(1.0)
    # each window the estimator saw ends horizon rows before its target
    seen = model.estimator_.X_predict_[:, :, 0]
    assert np.allclose(seen[:, -1], y[30:] - 2.0 * horizon)


def test_in_sample_predict_reads_its_own_history():
    series = np.arange(30.0)
    X, y = _univariate(series)
    model = WindowedForecaster(Column(), lookback=3).fit(X, y)
    pred = model.predict(X)
    assert pred.shape == (30,)
    assert np.allclose(pred[3:], y[3:])  # full windows: exact
    # the first rows have no history: padded with the first row
    assert pred[0] == pytest.approx(1.0) and np.isfinite(pred).all()


def test_no_window_reads_a_row_at_or_after_its_forecast_origin():
    """X holds the row number: every value an estimator sees is a row index."""
    t = np.arange(80.0)
    X, y = np.column_stack([t, np.sin(t)]), np.sin(t)
    cv = TimeSeriesSplit(n_splits=3)
    out = cross_validate(
        WindowedForecaster(Column(col=0), lookback=5, horizon=2),
        X,
        y,
        cv=cv,
        return_estimator=True,
        scoring="neg_mean_absolute_error",
    )
    for (train, test), model in zip(cv.split(X), out["estimator"], strict=True):
        assert model.estimator_.X_fit_[..., 0].max() <= train.max()
        windows = model.estimator_.X_predict_[..., 0]
        assert len(windows) == len(test)
        # the window for test row t ends at row t - horizon
        assert np.array_equal(windows[:, -1], test - 2)


def test_scorer_strings_cross_val_predict_and_lookback_search():
    rng = np.random.RandomState(0)
    season = rng.normal(size=6)
    series = np.tile(season, 20) + 0.01 * rng.normal(size=120)
    X, y = _univariate(series)
    # Column(row=0) repeats the window's first row: exact when lookback = 6
    model = WindowedForecaster(Column(row=0))
    for scoring in ["neg_root_mean_squared_error", "r2", "neg_mean_absolute_error"]:
        scores = cross_val_score(
            model, X, y, cv=TimeSeriesSplit(n_splits=3), scoring=scoring
        )
        assert np.isfinite(scores).all()
    # KFold folds precede their training rows: an index places them
    frame = pd.DataFrame(X, index=pd.RangeIndex(120))
    pred = cross_val_predict(model.set_params(lookback=6), frame, y, cv=KFold(4))
    assert pred.shape == (120,) and np.abs(pred - y)[6:].max() < 0.05
    search = GridSearchCV(
        model,
        {"lookback": [4, 5, 6, 7]},
        cv=TimeSeriesSplit(n_splits=3),
        scoring="neg_root_mean_squared_error",
    ).fit(X, y)
    assert search.best_params_ == {"lookback": 6}
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_score_ > -0.05


# ------------------------------------------------------------- differencing
@pytest.mark.parametrize("horizon", [1, 3])
@pytest.mark.parametrize("lags", [1, (1, 4), 4])
def test_differencing_is_inverted_exactly(horizon, lags):
    """Trend plus a period-4 season is a constant after (1 - B)(1 - B^4)."""
    t = np.arange(60)
    series = 3.0 * t + np.array([0.0, 5.0, -2.0, 1.0])[t % 4]
    X, y = _univariate(series)
    model = WindowedForecaster(
        MeanTarget(), lookback=5, horizon=horizon, differences=lags
    )
    model.fit(X[:40], y[:40])
    assert np.allclose(model.predict(X[40:]), y[40:]) == (lags != 1)
    if lags != 1:  # the season needs its own lag; then every step is exact
        assert np.allclose(model.forecast(20), y[40:])


def test_differencing_beats_levels_beyond_the_training_range():
    t = np.arange(220)
    rng = np.random.RandomState(1)
    series = 0.08 * t + np.sin(2 * np.pi * t / 12) + 0.05 * rng.normal(size=220)
    X, y = _univariate(series)
    lstm = LSTMRegressor(hidden_size=16, max_epochs=40, random_state=0)

    def rmse(differences):
        model = WindowedForecaster(lstm, lookback=12, differences=differences)
        pred = model.fit(X[:180], y[:180]).predict(X[180:])
        return np.sqrt(np.mean((pred - y[180:]) ** 2))

    last_value = np.sqrt(np.mean((y[179:-1] - y[180:]) ** 2))
    changes, levels = rmse(1), rmse(None)
    assert changes < last_value < levels


@pytest.mark.parametrize("transform", ["log", "sqrt"])
def test_transform_is_inverted(transform):
    t = np.arange(50)
    series = np.exp(0.05 * t) if transform == "log" else (1.0 + 0.5 * t) ** 2
    X, y = _univariate(series)
    model = WindowedForecaster(
        MeanTarget(), lookback=3, differences=1, target_transform=transform
    )
    model.fit(X[:35], y[:35])
    assert np.allclose(model.predict(X[35:]), y[35:])
    assert np.allclose(model.forecast(15), y[35:])
    with pytest.raises(ValueError, match="needs (positive|non-negative) target"):
        model.fit(-X, -y)


# ----------------------------------------------------------- covariates
def test_known_future_covariates_enter_at_the_target_time():
    rng = np.random.RandomState(0)
    driver = rng.normal(size=70)
    y = 2.0 * driver  # the target follows a covariate known in advance
    X = np.column_stack([y, driver])
    known = WindowedForecaster(Column(col=1), lookback=4, future_covariates=True).fit(
        X[:50], y[:50]
    )
    assert known.target_columns_ == [0]
    pred = known.predict(X[50:])
    assert np.corrcoef(pred, y[50:])[0, 1] > 0.99
    future = known.forecast(20, X_future=driver[50:, None])
    assert np.corrcoef(future, y[50:])[0, 1] > 0.99
    # full-width rows work too (the target's column is ignored)
    assert np.allclose(
        known.forecast(20, X_future=np.c_[np.zeros(20), driver[50:]]), future
    )
    past = WindowedForecaster(Column(col=1), lookback=4).fit(X[:50], y[:50])
    assert abs(np.corrcoef(past.predict(X[50:]), y[50:])[0, 1]) < 0.5
    with pytest.raises(ValueError, match="needs their future values"):
        known.forecast(5)
    with pytest.raises(ValueError, match="X_future has shape"):
        known.forecast(5, X_future=np.ones((3, 1)))


def test_several_series_never_share_a_window():
    a, b = np.arange(30.0), 1000 + np.arange(25.0)
    model = WindowedForecaster(Column(), lookback=3).fit(
        [a.reshape(-1, 1), b.reshape(-1, 1)], [a, b]
    )
    windows = model.estimator_.X_fit_[..., 0]
    assert not ((windows.min(axis=1) < 1000) & (windows.max(axis=1) >= 1000)).any()
    nxt = [np.arange(30.0, 35.0), 1025 + np.arange(5.0)]
    pred = model.predict([s.reshape(-1, 1) for s in nxt])
    assert isinstance(pred, list) and all(
        np.allclose(p, s) for p, s in zip(pred, nxt, strict=True)
    )
    future = model.forecast(3)
    assert np.allclose(future[0], [30, 31, 32]) and np.allclose(
        future[1], [1025, 1026, 1027]
    )


def test_multiple_targets_and_horizons():
    t = np.arange(50.0)
    Y = np.column_stack([t, 10 - t])
    model = WindowedForecaster(Column(), lookback=3, horizon=2, differences=1)
    model.fit(Y, Y)
    assert model.target_columns_ == [0, 1]
    later = np.column_stack([t + 50, 10 - (t + 50)])  # continues Y
    assert np.allclose(model.predict(later), later)
    assert model.forecast(5).shape == (5, 2)


# ------------------------------------------------------------- intervals
def test_conformal_interval_mechanics():
    rng = np.random.RandomState(0)
    series = np.cumsum(rng.normal(size=300))
    X, y = _univariate(series)
    model = WindowedForecaster(
        Column(), lookback=2, horizon=2, calibration_size=0.5
    ).fit(X[:280], y[:280])
    scores = model.conformal_scores_
    assert scores.shape[1:] == (2, 1) and (scores >= 0).all()
    pred, band = model.predict(X[280:]), model.predict_interval(X[280:], 0.8)
    assert band.shape == (20, 2)
    n = len(scores)
    radius = np.sort(scores[:, 1, 0])[int(np.ceil((n + 1) * 0.8)) - 1]
    assert np.allclose(band[:, 1] - pred, radius) and np.allclose(
        pred - band[:, 0], radius
    )
    values, bounds = model.forecast(2, coverage=0.8)
    assert bounds.shape == (2, 2) and (bounds[:, 0] <= values).all()
    with pytest.raises(ValueError, match="calibrated for steps up to horizon=2"):
        model.forecast(3, coverage=0.8)
    with pytest.raises(ValueError, match="coverage must be in"):
        model.predict_interval(X, coverage=1.5)
    with pytest.raises(ValueError, match="calibration windows"):
        model.predict_interval(X, coverage=0.999)
    with pytest.raises(ValueError, match="set calibration_size"):
        WindowedForecaster(Column(), lookback=2).fit(X, y).predict_interval(X)


def test_conformal_intervals_cover_90_percent_of_held_out_points():
    """AR(1) series: 90% intervals cover 85-95% of 3 x 250 held-out points."""
    covered = []
    for seed in range(3):
        rng = np.random.RandomState(seed)
        noise = rng.normal(size=650)
        series = np.zeros(650)
        for i in range(1, 650):
            series[i] = 0.7 * series[i - 1] + noise[i]
        X, y = _univariate(series)
        model = WindowedForecaster(
            LSTMRegressor(hidden_size=8, max_epochs=8, random_state=seed),
            lookback=5,
            calibration_size=0.3,
        ).fit(X[:400], y[:400])
        band = model.predict_interval(X[400:], coverage=0.9)
        covered.append(np.mean((y[400:] >= band[:, 0]) & (y[400:] <= band[:, 1])))
    assert 0.85 <= np.mean(covered) <= 0.95, covered


# ------------------------------------------------------------ persistence
@pytest.mark.parametrize("inner", ["lstm", "default"])
def test_forecaster_saves_without_pickle(inner, tmp_path):
    pytest.importorskip("skops")
    t = np.arange(120.0)
    X, y = _univariate(0.05 * t + np.sin(t / 3))
    lstm = LSTMRegressor(hidden_size=4, max_epochs=3, random_state=0)
    model = WindowedForecaster(
        lstm if inner == "lstm" else None,
        lookback=6,
        differences=1,
        calibration_size=0.2,
    ).fit(X[:100], y[:100])
    again = load(save(model, tmp_path / "f.sklstm"))
    assert isinstance(again, WindowedForecaster)
    assert again.get_params()["differences"] == 1
    assert np.array_equal(again.predict(X[100:]), model.predict(X[100:]))
    assert np.array_equal(again.predict(X[:100]), model.predict(X[:100]))  # in-sample
    assert np.array_equal(again.forecast(4), model.forecast(4))
    assert np.array_equal(
        again.predict_interval(X[100:]), model.predict_interval(X[100:])
    )
    # the template is an unfitted twin of the fitted regressor
    if inner == "lstm":
        assert again.estimator.get_params() == lstm.get_params()


def test_numpy_grid_in_parallel_search_and_saved_best(tmp_path):
    pytest.importorskip("skops")
    t = np.arange(90.0)
    X, y = _univariate(0.1 * t + np.sin(t / 2))
    search = GridSearchCV(
        WindowedForecaster(
            LSTMRegressor(hidden_size=4, max_epochs=2, random_state=0),
            calibration_size=np.float32(0.25),
        ),
        {"lookback": np.array([3, 5]), "differences": [None, np.int64(1)]},
        cv=TimeSeriesSplit(n_splits=2, test_size=15),
        scoring="neg_mean_absolute_error",
        n_jobs=2,
    ).fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = search.best_estimator_
    again = load(save(best, tmp_path / "best.sklstm"))
    assert np.array_equal(again.forecast(3), best.forecast(3))
    assert np.array_equal(again.predict_interval(X), best.predict_interval(X))


# ---------------------------------------------------------------- errors
def test_clear_errors():
    X, y = _univariate(np.arange(30.0))
    with pytest.raises(ValueError, match=r"requires y to be passed.*reshape\(-1, 1\)"):
        WindowedForecaster(Column()).fit(X)
    with pytest.raises(ValueError, match="row-aligned"):
        WindowedForecaster(Column()).fit(X, y[:-1])
    with pytest.raises(ValueError, match="No window fits"):
        WindowedForecaster(Column(), lookback=40).fit(X, y)
    with pytest.raises(ValueError, match="not a column of X"):
        WindowedForecaster(Column(), differences=1).fit(X * 2, y)
    with pytest.raises(ValueError, match="differences must be"):
        WindowedForecaster(Column(), differences=(1, 0)).fit(X, y)
    with pytest.raises(ValueError, match=r"missing values \(NaN\).*interpolate"):
        WindowedForecaster(Column()).fit(np.r_[X[:-1], [[np.nan]]], y)
    model = WindowedForecaster(Column(), lookback=3).fit(X, y)
    with pytest.raises(ValueError, match="X has 2 features.*expecting 1.*Reshape"):
        model.predict(np.ones((5, 2)))
    with pytest.raises(ValueError, match="n_steps must be a positive integer"):
        model.forecast(0)
    with pytest.raises(NotFittedError):
        WindowedForecaster(Column()).predict(X)


# ------------------------------------------------------------ quantile loss
def _quantile_data(n, seed):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 6, 1))
    y = X[:, -1, 0] + rng.normal(scale=0.5, size=n)
    return X, y


def test_quantile_loss_is_monotone_and_covers():
    X, y = _quantile_data(900, 0)
    reg = LSTMRegressor(
        loss="quantile", quantiles=(0.05, 0.5, 0.95), max_epochs=25, random_state=0
    ).fit(X[:600], y[:600])
    q = reg.predict_quantiles(X[600:])
    assert q.shape == (300, 3) and (np.diff(q, axis=1) >= 0).all()
    assert np.allclose(reg.predict(X[600:]), q[:, 1])
    inside = np.mean((y[600:] >= q[:, 0]) & (y[600:] <= q[:, 2]))
    assert 0.8 <= inside <= 0.97, inside
    assert 0.4 <= np.mean(y[600:] <= q[:, 1]) <= 0.6


def test_quantile_loss_with_several_outputs_persists(tmp_path):
    X, y = _quantile_data(80, 1)
    Y = np.column_stack([y, -y])
    reg = LSTMRegressor(
        loss="quantile", quantiles=[0.25, 0.75], max_epochs=2, random_state=0
    ).fit(X, Y)
    q = reg.predict_quantiles(X)
    assert q.shape == (80, 2, 2) and (q[..., 1] >= q[..., 0]).all()
    assert reg.predict(X).shape == (80, 2)  # the quantile nearest 0.5
    save(reg, tmp_path / "q.zip")
    assert np.allclose(load(tmp_path / "q.zip").predict_quantiles(X), q)
    with pytest.raises(ValueError, match="does not export loss='quantile'"):
        to_onnx(reg, tmp_path / "q.onnx")
    with pytest.raises(ValueError, match="changing n_quantiles"):
        reg.set_params(warm_start=True, quantiles=(0.1, 0.5, 0.9)).fit(X, Y)


def test_quantile_loss_with_skorch_scoring_and_partial_fit():
    from skorch.callbacks import EpochScoring

    X, y = _quantile_data(80, 2)
    reg = LSTMRegressor(
        loss="quantile",
        max_epochs=3,
        early_stopping=True,
        random_state=0,
        callbacks=[EpochScoring("r2", name="valid_r2")],
    ).fit(X, y)
    # net_.predict gives the median on the scaled targets: skorch's scorer
    # agrees with sklstm's own validation score
    last = reg.history_[-1]
    assert last["valid_r2"] == pytest.approx(last["valid_score"], rel=1e-5)
    scaled = (reg.predict(X[:5]) - reg.y_mean_) / reg.y_scale_
    np.testing.assert_allclose(reg.net_.predict(X[:5]), scaled, rtol=1e-5)
    plain = LSTMRegressor(max_epochs=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="changing n_quantiles"):
        plain.set_params(loss="quantile").partial_fit(X, y)


@pytest.mark.parametrize("bad", [(0.5, 0.1), (), (0.0, 0.5), (0.2, 1.2)])
def test_quantile_levels_are_checked(bad):
    X, y = _quantile_data(20, 0)
    with pytest.raises(ValueError, match="strictly increasing sequence of levels"):
        LSTMRegressor(loss="quantile", quantiles=bad, max_epochs=1).fit(X, y)
    reg = LSTMRegressor(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="fitted with loss='quantile'"):
        reg.predict_quantiles(X)
