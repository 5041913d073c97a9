"""
Forecasting yearly sunspots with an interval band
=================================================

The yearly sunspot numbers bundled with statsmodels (1700-2008) follow a
cycle of roughly 11 years whose height changes from cycle to cycle. A
:class:`~sklstm.forecasting.WindowedForecaster` is a regressor over years:
``X`` holds the observed values, one row per year, indexed by the year, and
``y`` the series to forecast. Its window length and differencing are chosen by a
:class:`~sklearn.model_selection.TimeSeriesSplit` search with a scoring
string on the first 259 years; the last 50 years are held out and forecast
one year ahead, with 90% split-conformal intervals, next to two naive
baselines: the last value, and the value one cycle (11 years) earlier.
"""

# %%
# The series
# ----------
import matplotlib.pyplot as plt
import pandas as pd
import statsmodels.api as sm
from sklearn.metrics import r2_score, root_mean_squared_error
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.pipeline import make_pipeline

from sklstm import LSTMRegressor
from sklstm.forecasting import WindowedForecaster
from sklstm.preprocessing import SequenceScaler

data = sm.datasets.sunspots.load_pandas().data
years = data["YEAR"].to_numpy().astype(int)
series = data["SUNACTIVITY"].to_numpy()

n_test = 50
train = series[:-n_test]
test_years, test = years[-n_test:], series[-n_test:]
print(
    f"{len(series)} years; training on {years[0]}-{years[len(train) - 1]}, "
    f"testing on {test_years[0]}-{test_years[-1]}"
)

fig, ax = plt.subplots(figsize=(10, 3))
ax.plot(years[: len(train)], train, label="training years")
ax.plot(test_years, test, label="held-out years")
ax.set_xlabel("Year")
ax.set_ylabel("Sunspot number")
ax.legend()
fig.tight_layout()

# %%
# The model
# ---------
# Rows are years. For a univariate series ``X`` is the series as one column
# and ``y`` the series itself. ``X`` is a DataFrame indexed by the year: the
# index tells the forecaster where each row sits in time, on every fold of
# a cross-validation and at ``predict``. Inside, the forecaster cuts ``X``
# into windows of ``lookback`` years, each labelled with the next year, and
# fits a pipeline that scales the windows (a
# :class:`~sklstm.preprocessing.SequenceScaler` fitted on the training
# windows only) before an :class:`~sklstm.LSTMRegressor`.
X = pd.DataFrame({"sunspots": series}, index=pd.Index(years, name="year"))
y = series
lstm = make_pipeline(SequenceScaler(), LSTMRegressor(random_state=0))
forecaster = WindowedForecaster(lstm)

# %%
# Choosing the lookback and the differencing with time-series CV
# --------------------------------------------------------------
# ``TimeSeriesSplit`` splits the training years into expanding training
# periods, each followed by a later validation period of 22 years. Each
# fold's validation years are placed by their index, right after its
# training years, so the RMSE scoring string works as for any regressor.
# One and two cycles of history are tried, on levels and on year-to-year
# changes (``differences=1``).
search = GridSearchCV(
    forecaster,
    {"lookback": [11, 22], "differences": [None, 1]},
    cv=TimeSeriesSplit(n_splits=3, test_size=22),
    scoring="neg_root_mean_squared_error",
    n_jobs=2,
)
search.fit(X.iloc[: len(train)], y[: len(train)])
cv = pd.DataFrame(search.cv_results_)
columns = ["param_lookback", "param_differences", "mean_test_score"]
print(cv[columns].round(2).to_string())
print("chosen:", search.best_params_)

# %%
# Held-out forecasts with 90% intervals
# -------------------------------------
# ``calibration_size=0.2`` holds out the last fifth of the training windows,
# measures a first model's errors there, then refits on every window: the
# interval is each forecast plus and minus the conformal quantile of those
# errors. ``predict`` places the test years by their index, after the
# training years, so row ``i`` is the forecast of test year ``i`` from the
# years before it.
best = forecaster.set_params(**search.best_params_, calibration_size=0.2)
best.fit(X.iloc[: len(train)], y[: len(train)])
lstm_pred = best.predict(X.iloc[len(train) :])
band = best.predict_interval(X.iloc[len(train) :], coverage=0.9)
inside = (test >= band[:, 0]) & (test <= band[:, 1])
print(f"90% intervals hold {inside.mean():.0%} of the {n_test} test years")

last_value = series[len(train) - 1 : -1]  # this year = last year
seasonal = series[len(train) - 11 : -11]  # this year = 11 years ago
scores = pd.DataFrame(
    {
        name: {
            "R²": r2_score(test, pred),
            "RMSE": root_mean_squared_error(test, pred),
        }
        for name, pred in [
            ("LSTM", lstm_pred),
            ("last value", last_value),
            ("seasonal naive (11 years)", seasonal),
        ]
    }
).T
print(scores.round(3).to_string())

# %%
# One-year-ahead forecasts are much better than either naive rule: the LSTM
# sees where in the cycle the recent years are and how steep the rise or fall
# is. The band is as wide in quiet years as at the peaks (its radius is one
# quantile of the calibration errors), so it dips below zero there;
# ``target_transform="sqrt"``, made for counts, would calibrate it on the
# square-root scale and keep it non-negative.
fig, ax = plt.subplots(figsize=(10, 4))
ax.fill_between(test_years, band[:, 0], band[:, 1], alpha=0.25, label="90% interval")
ax.plot(test_years, test, "k-", lw=2, label="observed")
ax.plot(test_years, lstm_pred, "o-", ms=3, label="LSTM forecast")
ax.plot(test_years, seasonal, "--", alpha=0.7, label="seasonal naive (11 years)")
ax.set_xlabel("Year")
ax.set_ylabel("Sunspot number")
ax.set_title("One-year-ahead forecasts of the held-out years")
ax.legend(loc="upper right")
fig.tight_layout()

# %%
# Forecasting beyond the data
# ---------------------------
# :meth:`~sklstm.forecasting.WindowedForecaster.forecast` predicts the
# steps after the end of the fitted data. Refit on all 309 years first.
final = best.fit(X, y)
value, interval = final.forecast(1, coverage=0.9)
low, high = interval[0]
print(f"{years[-1] + 1}: {value[0]:.1f} (90% interval {low:.1f} to {high:.1f})")
plt.show()
