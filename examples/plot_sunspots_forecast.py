"""
Forecasting yearly sunspots with a windowed LSTM
================================================

The yearly sunspot numbers bundled with statsmodels (1700-2008) follow a
cycle of roughly 11 years whose height changes from cycle to cycle. A
:class:`~sklstm.preprocessing.WindowedForecaster` turns the series into
sliding windows of ``lookback`` years and trains an
:class:`~sklstm.LSTMRegressor` to predict the next year. The window length is
chosen by a :class:`~sklearn.model_selection.TimeSeriesSplit` search on the
first 259 years; the last 50 years are held out and forecast one year ahead,
next to two naive baselines: the last value, and the value one cycle
(11 years) earlier.
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
from sklstm.preprocessing import SequenceScaler, WindowedForecaster

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
# ``WindowedForecaster`` takes the *series* as ``X`` (one row per year) and
# builds the windows inside ``fit``, ``predict`` and ``score``. Inside it, a
# pipeline scales each window with a :class:`~sklstm.preprocessing.SequenceScaler`
# fitted on the training windows only; the regressor standardizes the target
# itself (``scale_target=True`` by default) and maps predictions back.
lstm = make_pipeline(
    SequenceScaler(),
    LSTMRegressor(
        hidden_size=16, lr=1e-2, max_epochs=120, batch_size=32, random_state=0
    ),
)
forecaster = WindowedForecaster(lstm, lookback=11)

# %%
# Choosing the lookback with time-series cross-validation
# -------------------------------------------------------
# ``TimeSeriesSplit`` splits the training years into expanding training
# periods, each followed by a later validation period. Windows never mix the
# two, and each fold is scored (R²) on windows of its validation years only.
# Half a cycle, one cycle and two cycles are tried.
search = GridSearchCV(
    forecaster,
    {"lookback": [5, 11, 22]},
    cv=TimeSeriesSplit(n_splits=3),
    n_jobs=2,
)
search.fit(train)
cv = pd.DataFrame(search.cv_results_)
print(cv[["param_lookback", "mean_test_score", "std_test_score"]].round(3).to_string())
print("chosen lookback:", search.best_params_["lookback"])

# %%
# Held-out forecasts
# ------------------
# To forecast the 50 test years one step ahead, the model reads the
# ``lookback`` years before each of them, so the test segment is given with
# the ``lookback`` years that precede it. Row ``i`` of the prediction is the
# forecast of test year ``i``.
best = search.best_estimator_
lookback = best.lookback
lstm_pred = best.predict(series[len(train) - lookback :])

last_value = series[len(train) - 1 : -1]  # this year = last year
seasonal = series[len(train) - 11 : -11]  # this year = 11 years ago

scores = pd.DataFrame(
    {
        name: {
            "R²": r2_score(test, pred),
            "RMSE": root_mean_squared_error(test, pred),
        }
        for name, pred in [
            (f"LSTM (lookback={lookback})", lstm_pred),
            ("last value", last_value),
            ("seasonal naive (11 years)", seasonal),
        ]
    }
).T
print(scores.round(3).to_string())

# %%
# One-year-ahead forecasts are much better than either naive rule: the LSTM
# sees where in the cycle the recent years are and how steep the rise or fall
# is. The seasonal-naive rule is the weakest, since cycles differ in height
# and drift in length.
fig, ax = plt.subplots(figsize=(10, 4))
ax.plot(test_years, test, "k-", lw=2, label="observed")
ax.plot(test_years, lstm_pred, "o-", ms=3, label=f"LSTM, lookback={lookback}")
ax.plot(test_years, seasonal, "--", alpha=0.7, label="seasonal naive (11 years)")
ax.plot(test_years, last_value, ":", alpha=0.7, label="last value")
ax.set_xlabel("Year")
ax.set_ylabel("Sunspot number")
ax.set_title("One-year-ahead forecasts of the held-out years")
ax.legend(loc="upper right")
fig.tight_layout()

# %%
# Forecasting beyond the data
# ---------------------------
# :meth:`~sklstm.preprocessing.WindowedForecaster.forecast` predicts the
# ``horizon`` steps after the end of a series (here one year). Refit on all
# 309 years first to use them all.
final = best.fit(series)
print(f"forecast for {years[-1] + 1}: {final.forecast(series)[0]:.1f}")
plt.show()
