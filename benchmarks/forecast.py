"""Forecasting benchmark: sklstm's documented recipe against standard forecasters.

For three classic series it prints the held-out RMSE and MAE of one-step-ahead
forecasts (each test month or year forecast from the data before it) for:

- last value (``y[t-1]``) and seasonal naive (``y[t-s]``);
- a Box-Jenkins SARIMA model from statsmodels, parameters fitted on the
  training part and kept fixed over the test part;
- sklstm's recipe: ``WindowedForecaster`` around the default
  ``SequenceScaler + LSTMRegressor`` pipeline, ``lookback`` and
  ``differences`` chosen by ``GridSearchCV`` with ``TimeSeriesSplit`` and the
  RMSE scorer string, refit with ``calibration_size=0.2`` for split conformal
  90% intervals, whose coverage of the test points is reported.

Series: airline passengers (monthly, 1949-1960; from aeon), yearly sunspots
(1700-2008) and Mauna Loa CO2 (weekly, averaged to months, gaps interpolated),
both bundled with statsmodels. Run::

    python benchmarks/forecast.py                # 3 seeds, every series
    python benchmarks/forecast.py --seeds 1 --datasets airline
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def load(name: str) -> tuple[np.ndarray, int, int, str]:
    """Series, season length, test length, statistical model description."""
    import statsmodels.api as sm

    if name == "airline":
        from aeon.datasets import load_airline

        return (
            np.asarray(load_airline(), dtype=float),
            12,
            24,
            "log SARIMA(0,1,1)(0,1,1)12",
        )
    if name == "sunspots":
        data = sm.datasets.sunspots.load_pandas().data
        return data["SUNACTIVITY"].to_numpy(float), 11, 50, "ARIMA(9,0,0)"
    if name == "co2":
        weekly = sm.datasets.co2.load_pandas().data["co2"]
        monthly = weekly.resample("MS").mean().interpolate()
        return monthly.to_numpy(float), 12, 48, "SARIMA(1,1,1)(0,1,1)12"
    raise ValueError(f"unknown series {name!r}")


def statistical(name: str, series: np.ndarray, n_train: int, s: int) -> np.ndarray:
    """One-step-ahead SARIMA forecasts of the test part, fitted on the training part."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    log = name == "airline"
    data = np.log(series) if log else series
    if name == "airline":
        spec = {"order": (0, 1, 1), "seasonal_order": (0, 1, 1, s)}
    elif name == "co2":
        spec = {"order": (1, 1, 1), "seasonal_order": (0, 1, 1, s)}
    else:
        spec = {"order": (9, 0, 0), "trend": "c"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = SARIMAX(data[:n_train], **spec).fit(disp=False)
        full = fitted.apply(data)  # the same parameters, filtered over all data
        pred = full.get_prediction(start=n_train).predicted_mean
    return np.exp(pred) if log else np.asarray(pred)


def recipe(series: np.ndarray, n_train: int, s: int, seed: int):
    """The documented recipe; returns test forecasts, 90% intervals, choice."""
    from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
    from sklearn.pipeline import make_pipeline

    from sklstm import LSTMRegressor
    from sklstm.preprocessing import SequenceScaler, WindowedForecaster

    X, y = series.reshape(-1, 1), series
    model = WindowedForecaster(
        make_pipeline(SequenceScaler(), LSTMRegressor(random_state=seed))
    )
    grid = {"lookback": [s, 2 * s], "differences": [None, 1, (1, s)]}
    if (series > 0).all():  # a log is only defined for positive series
        grid["target_transform"] = [None, "log"]
    search = GridSearchCV(
        model,
        grid,
        cv=TimeSeriesSplit(n_splits=3, test_size=2 * s),
        scoring="neg_root_mean_squared_error",
        refit=False,
    ).fit(X[:n_train], y[:n_train])
    final = model.set_params(**search.best_params_, calibration_size=0.2)
    final.fit(X[:n_train], y[:n_train])
    pred = final.predict(X[n_train:])  # continues the training rows
    interval = final.predict_interval(X[n_train:], coverage=0.9)
    return pred, interval, search.best_params_


def rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def mae(a, b) -> float:
    return float(np.mean(np.abs(np.asarray(a) - np.asarray(b))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=["airline", "sunspots", "co2"])
    args = parser.parse_args()

    rows = []
    for name in args.datasets:
        series, s, n_test, stat_name = load(name)
        n_train = len(series) - n_test
        test = series[n_train:]
        methods = {
            "last value": series[n_train - 1 : -1],
            f"seasonal naive ({s})": series[n_train - s : len(series) - s],
            stat_name: statistical(name, series, n_train, s),
        }
        for method, pred in methods.items():
            rows.append((name, method, rmse(test, pred), 0.0, mae(test, pred), "", ""))
        scores, errors, covered, choices, seconds = [], [], [], [], []
        for seed in range(args.seeds):
            start = time.perf_counter()
            pred, interval, best = recipe(series, n_train, s, seed)
            seconds.append(time.perf_counter() - start)
            scores.append(rmse(test, pred))
            errors.append(mae(test, pred))
            covered.append(np.mean((test >= interval[:, 0]) & (test <= interval[:, 1])))
            choices.append("/".join(str(v) for v in best.values()))
            print(
                f"{name} seed {seed}: RMSE {scores[-1]:.2f}, coverage "
                f"{covered[-1]:.2f}, {choices[-1]}, "
                f"{seconds[-1]:.0f} s",
                flush=True,
            )
        rows.append(
            (
                name,
                "sklstm recipe",
                float(np.mean(scores)),
                float(np.std(scores)),
                float(np.mean(errors)),
                f"{np.mean(covered):.2f}",
                ", ".join(choices),
            )
        )

    print()
    print(
        "| series | method | RMSE | MAE | 90% interval coverage "
        "| chosen differences / lookback / target_transform |"
    )
    print("|---|---|---|---|---|---|")
    for name, method, score, sd, error, cover, chosen in rows:
        spread = f" ± {sd:.3g}" if sd else ""
        print(
            f"| {name} | {method} | {score:.3g}{spread} | {error:.3g} | "
            f"{cover or '-'} | {chosen or '-'} |"
        )


if __name__ == "__main__":
    main()
