"""Where WindowedForecaster places each row of X in time: by a pandas index for
every splitter, by explicit rules for plain arrays, and the errors where a
row cannot be placed.

The series is the row number itself (``X = y = t``) and the inner regressor
repeats the last value of each window plus the mean step: every value a
window holds names the row it was read from, so a row read at a wrong place
shows as a wrong number, and forecasts are exact wherever the right rows are
read (the steps between observed rows are filled with exact forecasts too).
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import (
    KFold,
    TimeSeriesSplit,
    cross_val_predict,
    cross_validate,
)

from sklstm.forecasting import WindowedForecaster

sys.path.insert(0, str(Path(__file__).parent))
from test_forecasting import Column  # noqa: E402

N = 90
T = np.arange(N, dtype=float)
INDEXES = {
    "integer": lambda: pd.Index(np.arange(1000, 1000 + N)),
    "datetime": lambda: pd.date_range("1950-01-01", periods=N, freq="MS"),
    "period": lambda: pd.period_range("1950-01", periods=N, freq="M"),
    "weekly": lambda: pd.date_range("2000-01-01", periods=N, freq="W-SAT"),
}
SPLITTERS = {
    "kfold": KFold(3),
    "shuffled kfold": KFold(3, shuffle=True, random_state=0),
    "gap": TimeSeriesSplit(n_splits=3, gap=10, test_size=15),
    "continuation": TimeSeriesSplit(n_splits=3, test_size=15),
}


def _frame(kind, values=T):
    return pd.DataFrame({"value": values}, index=INDEXES[kind]())


def _check_windows(model, test, horizon):
    """Each test row's window ends at its origin, and reads nothing later."""
    windows = model.estimator_.X_predict_[..., 0]
    has_past = test >= horizon  # the first rows repeat the series' first row
    assert np.array_equal(windows[has_past, -1], test[has_past] - horizon)
    assert (windows.max(axis=1) <= np.maximum(test - horizon, 0)).all()


@pytest.mark.parametrize("kind", INDEXES)
@pytest.mark.parametrize("splitter", SPLITTERS)
@pytest.mark.parametrize("horizon", [1, 3])
def test_an_index_places_every_test_row(kind, splitter, horizon):
    X = _frame(kind)
    model = WindowedForecaster(Column(), lookback=4, horizon=horizon)
    cv = SPLITTERS[splitter]
    out = cross_validate(model, X, T, cv=cv, return_estimator=True)
    for (train, test), fitted in zip(cv.split(X), out["estimator"], strict=True):
        # training windows never cross the rows of another fold
        seen = fitted.estimator_.X_fit_[..., 0]
        assert (np.diff(seen, axis=1) == 1).all() and np.isin(seen, train).all()
        _check_windows(fitted, test, horizon)
        pred = fitted.predict(X.iloc[test])
        assert np.allclose(pred[test >= horizon], T[test][test >= horizon])


@pytest.mark.parametrize("kind", ["integer", "datetime"])
def test_cross_val_predict_with_kfold_reads_each_row_at_its_place(kind):
    pred = cross_val_predict(
        WindowedForecaster(Column(), lookback=5, horizon=2),
        _frame(kind),
        T,
        cv=KFold(3),
    )
    assert np.allclose(pred[2:], T[2:])


@pytest.mark.parametrize("kind", INDEXES)
def test_in_sample_continuation_and_both_by_index(kind):
    X = _frame(kind)
    model = WindowedForecaster(Column(), lookback=4, horizon=2).fit(X[:60], T[:60])
    assert np.allclose(model.predict(X[:60])[2:], T[2:60])  # in-sample
    assert np.allclose(model.predict(X[60:]), T[60:])  # continuation
    assert np.allclose(model.predict(X[70:]), T[70:])  # after a gap
    assert np.allclose(model.predict(X[50:75]), T[50:75])  # both
    shuffled = X.iloc[::-1]  # rows in any order: placed by their index
    assert np.allclose(model.predict(shuffled)[:-2], T[::-1][:-2])
    assert np.allclose(model.forecast(5), T[60:65])


def test_a_gap_is_filled_by_forecasts_not_by_the_last_rows():
    t = np.arange(80.0)
    series = np.where(t % 2 == 0, 1.0, -1.0) + 0.1 * t  # the rows alternate
    X = pd.DataFrame({"v": series})
    model = WindowedForecaster(Column(row=-2), lookback=2)  # reads 2 rows back
    model.fit(X[:50], series[:50])
    # rows 60.. follow a gap of 10: a forecast reads filled rows 50..59
    assert np.allclose(model.predict(X[60:]), series[60:])
    # read as a continuation the same rows would be off by the alternation
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        plain = model.predict(X[60:].to_numpy())
    assert not np.allclose(plain, series[60:])


def test_missing_dates_split_the_fitted_series():
    X = _frame("datetime").drop(index=_frame("datetime").index[30:33])
    y = X["value"].to_numpy()
    model = WindowedForecaster(Column(), lookback=4).fit(X, y)
    seen = model.estimator_.X_fit_[..., 0]
    assert (np.diff(seen, axis=1) == 1).all()  # no window across the gap
    assert model.n_windows_ == (30 - 4) + (N - 33 - 4)
    assert np.allclose(model.predict(X)[1:], y[1:])


def test_several_indexed_series_are_each_placed_by_their_own_index():
    a = pd.DataFrame({"value": T[:50]})
    b = pd.DataFrame({"value": 1000 + T[:40]}, index=pd.RangeIndex(10, 50))
    model = WindowedForecaster(Column(), lookback=3)
    model.fit([a, b], [a["value"].to_numpy(), b["value"].to_numpy()])
    later = [
        pd.DataFrame({"value": T[55:60]}, index=pd.RangeIndex(55, 60)),  # a gap
        pd.DataFrame({"value": 1000 + T[40:45]}, index=pd.RangeIndex(50, 55)),
    ]
    pred = model.predict(later)
    assert np.allclose(pred[0], T[55:60]) and np.allclose(pred[1], 1000 + T[40:45])
    assert np.allclose(model.forecast(2)[1], [1040, 1041])


# ------------------------------------------------------------ plain arrays
def test_plain_arrays_follow_explicit_rules():
    X = T[:, None]
    model = WindowedForecaster(Column(), lookback=4, horizon=2).fit(X[:60], T[:60])
    in_sample = model.predict(X[:60])
    assert np.allclose(in_sample[2:], T[2:60])
    assert np.allclose(model.predict(X[60:]), T[60:])  # the rows after
    both = model.predict(X)  # the fitted rows, then new ones
    assert np.allclose(both[2:], T[2:])
    # in-sample is exact equality of values, whatever the dtype
    assert np.array_equal(model.predict(X[:60].astype(np.float32)), in_sample)


def _one_ulp_up(X, row):
    out = X.copy()
    out[row] = np.nextafter(out[row], np.inf)
    return out


@pytest.mark.parametrize(
    "rows, message",
    [
        (lambda X: X.astype(np.float32), "only up to rounding"),
        (lambda X: _one_ulp_up(X, 20), "up to rounding"),
        (lambda X: X[10:40], "repeat the fitted rows from row 10"),
        (lambda X: X[:30], "repeat the fitted rows from row 0"),
        (lambda X: X[50:], "repeat the fitted rows from row 50"),
    ],
)
def test_a_plain_array_whose_place_is_ambiguous_is_refused(rows, message):
    series = np.round(np.sin(T[:60]) * 10, 1)
    X = series[:, None]
    model = WindowedForecaster(Column(), lookback=4).fit(X, series)
    with pytest.raises(ValueError, match=f"{message}.*pandas object whose index"):
        model.predict(rows(X))


def test_a_constant_continuation_is_not_ambiguous():
    zeros = np.zeros((40, 1))
    model = WindowedForecaster(Column(), lookback=3).fit(zeros, zeros[:, 0])
    assert np.array_equal(model.predict(np.zeros((5, 1))), np.zeros(5))


def test_a_plain_fit_ignores_the_index_of_later_frames():
    model = WindowedForecaster(Column(), lookback=3).fit(T[:50, None], T[:50])
    later = pd.DataFrame({"v": T[50:]}, index=np.arange(N - 50))  # index from 0
    with pytest.warns(UserWarning, match="fitted without feature names"):
        assert np.allclose(model.predict(later), T[50:])


# ------------------------------------------------------------ index errors
def test_index_errors_are_clear():
    X = _frame("integer")
    model = WindowedForecaster(Column(), lookback=3).fit(X[:50], T[:50])
    revised = X[40:55].copy()
    revised.iloc[0, 0] += 1.0
    with pytest.raises(ValueError, match="other values than the fitted row"):
        model.predict(revised)
    with pytest.raises(ValueError, match="repeats a value"):
        model.predict(pd.concat([X[50:52], X[50:52]]))
    with pytest.raises(ValueError, match="repeats a value"):
        WindowedForecaster(Column()).fit(pd.concat([X, X[:1]]), np.r_[T, 0.0])
    with pytest.raises(ValueError, match="cannot place its rows in time"):
        model.predict(X.set_axis([f"r{i}" for i in range(N)]))
    with pytest.raises(ValueError, match="fitted on X with an index of integers"):
        model.predict(_frame("datetime")[50:])
    with pytest.raises(ValueError, match="more than .* steps"):
        model.predict(X[50:].set_axis(np.arange(50, N) * 10**9))
    months = WindowedForecaster(Column(), lookback=3).fit(_frame("period")[:50], T[:50])
    with pytest.raises(ValueError, match="PeriodIndex of frequency 'Q-DEC'"):
        months.predict(
            pd.DataFrame(
                {"value": T[:5]}, index=pd.period_range("2000", periods=5, freq="Q")
            )
        )
    stamps = WindowedForecaster(Column(), lookback=3).fit(
        _frame("datetime")[:50], T[:50]
    )
    off_grid = _frame("datetime")[50:].set_axis(
        _frame("datetime").index[50:] + pd.Timedelta(days=3)
    )
    with pytest.raises(ValueError, match="not on the fitted frequency 'MS'"):
        stamps.predict(off_grid)
    irregular = pd.DataFrame(
        {"v": T[:5]},
        index=pd.to_datetime(
            ["2000-01-01", "2000-01-02", "2000-01-05", "2000-02-11", "2000-07-01"]
        ),
    )
    with pytest.raises(ValueError, match="without a regular frequency"):
        WindowedForecaster(Column(), lookback=2).fit(irregular, T[:5])


# ------------------------------------------------------------ missing values
def test_missing_values_raise_or_are_interpolated():
    X = T[:60, None].copy()
    X[[20, 41], 0] = np.nan
    y = X[:, 0]
    with pytest.raises(
        ValueError, match=r"2 missing values \(NaN\), the first at row 20"
    ):
        WindowedForecaster(Column(), lookback=3).fit(X, y)
    model = WindowedForecaster(Column(), lookback=3, missing="interpolate").fit(X, y)
    # fit interpolates in time: the series is a line again, every window exact
    assert np.allclose(np.diff(model.estimator_.X_fit_[..., 0], axis=1), 1)
    assert model.__sklearn_tags__().input_tags.allow_nan
    # forecasting carries the last value forward: row 42 reads row 41 as 40
    pred = model.predict(X)
    assert pred[42] == pytest.approx(41.0) and pred[43] == pytest.approx(43.0)
    later = np.r_[[[np.nan]], T[61:70, None]]
    assert model.predict(later)[1] == pytest.approx(60.0)  # row 60 read as 59
    by_time = _frame("datetime")[:60].copy()
    by_time.iloc[[20, 41], 0] = np.nan
    fitted = WindowedForecaster(Column(), lookback=3, missing="interpolate").fit(
        by_time, by_time["value"]
    )
    assert np.allclose(fitted.forecast(3), [60, 61, 62])
