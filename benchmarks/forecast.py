"""Forecasting benchmark: sklstm's documented recipe against standard forecasters.

For three classic series it prints the held-out RMSE and MAE of one-step-ahead
forecasts (each test month or year forecast from the data before it) for:

- last value (``y[t-1]``) and seasonal naive (``y[t-s]``);
- a Box-Jenkins SARIMA model from statsmodels, parameters fitted on the
  training part and kept fixed over the test part;
- sklstm's recipe (the forecasting guide's): ``WindowedForecaster`` around
  the default ``SequenceScaler + LSTMRegressor`` pipeline; season-aware
  settings chosen by ``GridSearchCV`` with ``TimeSeriesSplit`` and the RMSE
  scorer string (``lookback`` of one season plus one step or two seasons
  plus one step, ``differences`` ``1`` or ``(1, season)``, ``hidden_size``
  8 or 32), with ``target_transform="log"`` set beforehand by Box and
  Jenkins' range-mean rule (a positive series whose seasonal range grows in
  proportion to its level; cross-validation folds of two seasons cannot
  tell); then the chosen settings refit as the average of 5 seeds (a
  ``VotingRegressor`` of the pipeline with 5 ``random_state`` values, each
  trained for ``max_epochs=150``: averaging removes the variance that
  longer training adds) with
  ``calibration_size=0.2`` for split conformal 90% intervals, whose coverage
  of the test points is reported.

Series: airline passengers (monthly, 1949-1960; the Box & Jenkins series,
written below as aeon's ``load_airline`` ships it), yearly sunspots
(1700-2008) and Mauna Loa CO2 (weekly, averaged to months, gaps
interpolated), both bundled with statsmodels. Run::

    python benchmarks/forecast.py                # 3 seeds, every series
    python benchmarks/forecast.py --seeds 1 --datasets airline
    python benchmarks/forecast.py --params '{"series_norm": false}'
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

# monthly international airline passengers (thousands), January 1949 to
# December 1960 (Box, Jenkins and Reinsel, series G)
AIRLINE = (
    "112 118 132 129 121 135 148 148 136 119 104 118 115 126 141 135 125 149 170 "
    "170 158 133 114 140 145 150 178 163 172 178 199 199 184 162 146 166 171 180 "
    "193 181 183 218 230 242 209 191 172 194 196 196 236 235 229 243 264 272 237 "
    "211 180 201 204 188 235 227 234 264 302 293 259 229 203 229 242 233 267 269 "
    "270 315 364 347 312 274 237 278 284 277 317 313 318 374 413 405 355 306 271 "
    "306 315 301 356 348 355 422 465 467 404 347 305 336 340 318 362 348 363 435 "
    "491 505 404 359 310 337 360 342 406 396 420 472 548 559 463 407 362 405 417 "
    "391 419 461 472 535 622 606 508 461 390 432"
)
N_MEMBERS = 5
MEMBER_EPOCHS = 150
CHOSEN = (
    "differences",
    "lookback",
    "estimator__lstmregressor__hidden_size",
    "target_transform",
)


def load(name: str) -> tuple[np.ndarray, int, int, str]:
    """Series, season length, test length, statistical model description."""
    import statsmodels.api as sm

    if name == "airline":
        series = np.array(AIRLINE.split(), dtype=float)
        return series, 12, 24, "log SARIMA(0,1,1)(0,1,1)12"
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


def recipe(series: np.ndarray, n_train: int, s: int, seed: int, params=None):
    """The documented recipe; returns test forecasts, 90% intervals, choice.

    ``params``: other ``LSTMRegressor`` parameters for every fit."""
    from sklearn.ensemble import VotingRegressor
    from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

    from sklstm.forecasting import WindowedForecaster

    X, y = series.reshape(-1, 1), series
    transform = "log" if multiplicative(series[:n_train], s) else None
    model = WindowedForecaster(target_transform=transform).set_params(
        estimator__lstmregressor__random_state=seed,
        **{f"estimator__lstmregressor__{k}": v for k, v in (params or {}).items()},
    )
    grid = {
        "lookback": [s + 1, 2 * s + 1],  # lags s and s + 1 pair with a difference
        "differences": [1, (1, s)],
        "estimator__lstmregressor__hidden_size": [8, 32],
    }
    search = GridSearchCV(
        model,
        grid,
        cv=TimeSeriesSplit(n_splits=3, test_size=2 * s),
        scoring="neg_root_mean_squared_error",
        refit=False,
    ).fit(X[:n_train], y[:n_train])
    best = search.best_params_
    chosen = model.set_params(**best).estimator
    # the chosen settings, averaged over seeds: members trained longer have
    # less bias and more variance, which the average removes
    members = [
        (f"seed{i}", clone_with_seed(chosen, seed * N_MEMBERS + i))
        for i in range(N_MEMBERS)
    ]
    settings = {k: v for k, v in best.items() if not k.startswith("estimator__")}
    final = WindowedForecaster(
        VotingRegressor(members),
        **settings,
        target_transform=transform,
        calibration_size=0.2,
    ).fit(X[:n_train], y[:n_train])
    pred = final.predict(X[n_train:])  # continues the training rows
    interval = final.predict_interval(X[n_train:], coverage=0.9)
    return pred, interval, {**best, "target_transform": transform}


def multiplicative(series: np.ndarray, s: int) -> bool:
    """Box and Jenkins' range-mean rule: log when the range of each season
    grows in proportion to its mean (slope of log range on log mean above
    0.5, a Box-Cox lambda nearer 0 than 1)."""
    if (series <= 0).any() or len(series) < 3 * s:
        return False
    seasons = series[len(series) % s :].reshape(-1, s)
    slope = np.polyfit(np.log(seasons.mean(1)), np.log(np.ptp(seasons, 1)), 1)[0]
    return bool(slope > 0.5)


def clone_with_seed(estimator, seed: int):
    from sklearn.base import clone

    return clone(estimator).set_params(
        lstmregressor__random_state=seed, lstmregressor__max_epochs=MEMBER_EPOCHS
    )


def rmse(a, b) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


def mae(a, b) -> float:
    return float(np.mean(np.abs(np.asarray(a) - np.asarray(b))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=["airline", "sunspots", "co2"])
    parser.add_argument(
        "--params",
        type=json.loads,
        default=None,
        help="other LSTMRegressor parameters as JSON, e.g. '{\"series_norm\": false}'",
    )
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
            pred, interval, best = recipe(series, n_train, s, seed, args.params)
            seconds.append(time.perf_counter() - start)
            scores.append(rmse(test, pred))
            errors.append(mae(test, pred))
            covered.append(np.mean((test >= interval[:, 0]) & (test <= interval[:, 1])))
            choices.append("/".join(str(best[k]) for k in CHOSEN if k in best))
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
        "| chosen differences / lookback / hidden_size / target_transform |"
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
