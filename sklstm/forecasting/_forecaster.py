"""WindowedForecaster: a series regressor built on a sequence regressor.

``fit(X, y)`` takes one row per time step, like any scikit-learn regressor,
and ``predict(X)`` returns one forecast per row; windows, differencing and
the conformal calibration all live inside, so scorer strings,
``cross_val_score``, ``cross_val_predict`` and searches over ``lookback``
work with :class:`~sklearn.model_selection.TimeSeriesSplit` unchanged.
"""

from __future__ import annotations

import hashlib
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted

import sklstm.forecasting._differencing as diff
from sklstm._data import is_sequence_list
from sklstm._sklearn_private import HasMethods, Interval, StrOptions, _fit_context
from sklstm.forecasting._windows import series_arrays
from sklstm.io._registry import register_plain


def _default_estimator():
    from sklearn.pipeline import make_pipeline

    from sklstm._regressor import LSTMRegressor
    from sklstm.preprocessing._scaler import SequenceScaler

    return make_pipeline(SequenceScaler(), LSTMRegressor())


def _fingerprint(arr: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(arr).tobytes()).hexdigest() + str(
        arr.shape
    )


@register_plain(formerly=("sklstm.preprocessing._forecaster.WindowedForecaster",))
class WindowedForecaster(RegressorMixin, BaseEstimator):
    """Forecast a time series with a sequence regressor fitted on its windows.

    Rows are time steps. ``fit(X, y)`` reads ``X`` of shape
    ``(n_timesteps, n_features)``, the values observed at each step, and the
    target series ``y``; the regressor learns ``y`` ``horizon`` steps after
    each window of ``lookback`` rows. For a univariate series the call is
    ``fit(series.reshape(-1, 1), series)``; covariates are extra columns of
    ``X``. ``predict(X)`` returns one forecast per row: row ``t`` is the
    forecast of ``y`` at row ``t`` made ``horizon`` steps earlier, from the
    rows up to ``t - horizon``. When ``X`` continues the data seen in fit (a
    :class:`~sklearn.model_selection.TimeSeriesSplit` test fold does), the
    first rows read the end of the fitted data as history. So any regression
    scorer string, ``cross_val_score``, ``cross_val_predict`` and searches
    over ``lookback`` work unchanged, and windows, scaling and differencing
    are fitted on each fold's training rows only.

    Parameters
    ----------
    estimator : regressor, default=None
        Fitted on 3D windows ``(n_windows, lookback, n_features)`` with
        targets ``(n_windows, horizon * n_targets)`` (1D when that is 1).
        ``None`` uses ``make_pipeline(SequenceScaler(), LSTMRegressor())``.
        It is cloned, never changed.
    lookback : int, default=10
        Rows (time steps) in each input window. Cover at least one season.
    horizon : int, default=1
        Steps ahead: the regressor predicts steps ``1..horizon`` after each
        window (the direct strategy); :meth:`predict` returns step
        ``horizon``, :meth:`forecast` all of them.
    differences : int, tuple of int or None, default=None
        Lags of the differencing applied to the target: ``1`` models the
        change from the last value (for trends), ``12`` the change from the
        same month a year earlier, ``(1, 12)`` both. An LSTM does not
        extrapolate beyond the levels it was trained on; changes keep a
        trended series in range. The target's columns of ``X`` are
        differenced the same way as inputs, and predictions are turned back
        into levels from the observed values. Needs every target to be a
        column of ``X``.
    target_transform : {"log", "sqrt"} or None, default=None
        Applied to the target (and its columns of ``X``) before anything
        else, inverted on every forecast and interval bound: ``"log"`` for
        positive series whose swings grow with their level (multiplicative
        seasonality), ``"sqrt"`` for non-negative counts. Intervals are then
        calibrated on the transformed scale, so they widen with the level.

    future_covariates : bool, default=False
        Whether the covariate columns of ``X`` (those that are not the
        target) are known in advance, like calendar effects or planned
        prices. If true, the window for a target at row ``t`` reads them up
        to row ``t`` and :meth:`forecast` needs their future values; if
        false, only up to row ``t - horizon``, which is safe for measured
        variables.
    calibration_size : float or None, default=None
        Fraction in (0, 1) of each series' last training windows held out to
        calibrate prediction intervals (split conformal prediction, Vovk et
        al., "Algorithmic Learning in a Random World", 2005): a first model
        is trained on the earlier windows, its absolute errors on the held
        out ones are stored, then the final model is trained on every
        window. Costs a second fit. ``None`` fits once, without intervals.
    step : int, default=1
        Rows between the ends of consecutive training windows.

    Attributes
    ----------
    estimator_ : regressor
        The clone of ``estimator`` fitted on every training window.

    n_features_in_ : int
        Columns of ``X``.

    n_targets_ : int
        Columns of ``y`` (1 for 1D ``y``).

    target_columns_ : list of int or None
        For each target, the column of ``X`` that holds it (its observed
        values), or None.

    n_windows_ : int
        Number of training windows.

    conformal_scores_ : ndarray of shape (n_calibration, horizon, n_targets) \
or None
        Absolute errors on the calibration windows, in the target's units.

    See Also
    --------
    make_windows : Cut a series into (window, next values) pairs.
    sklstm.LSTMRegressor : The default regressor; ``loss="quantile"`` gives
        quantile forecasts.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
    >>> from sklstm import LSTMRegressor
    >>> from sklstm.preprocessing import WindowedForecaster
    >>> t = np.arange(150)
    >>> series = 0.05 * t + np.sin(t / 3)                # trend and cycle
    >>> model = WindowedForecaster(
    ...     LSTMRegressor(hidden_size=8, max_epochs=10, random_state=0),
    ...     differences=1,
    ... )
    >>> search = GridSearchCV(
    ...     model, {"lookback": [6, 12]}, cv=TimeSeriesSplit(n_splits=2),
    ...     scoring="neg_root_mean_squared_error",
    ... ).fit(series.reshape(-1, 1), series)
    >>> search.best_estimator_.forecast(3).shape          # the next 3 steps
    (3,)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "lookback": [Interval(Integral, 1, None, closed="left")],
        "horizon": [Interval(Integral, 1, None, closed="left")],
        "differences": [Interval(Integral, 1, None, closed="left"), tuple, list, None],
        "target_transform": [StrOptions({"log", "sqrt"}), None],
        "future_covariates": ["boolean"],
        "calibration_size": [Interval(Real, 0, 1, closed="neither"), None],
        "step": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        estimator: BaseEstimator | None = None,
        *,
        lookback: int = 10,
        horizon: int = 1,
        differences: int | tuple[int, ...] | None = None,
        target_transform: str | None = None,
        future_covariates: bool = False,
        calibration_size: float | None = None,
        step: int = 1,
    ) -> None:
        self.estimator = estimator
        self.lookback = lookback
        self.horizon = horizon
        self.differences = differences
        self.target_transform = target_transform
        self.future_covariates = future_covariates
        self.calibration_size = calibration_size
        self.step = step

    # ---------------------------------------------------------------- fitting
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the regressor on the windows of ``X`` and the targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features), or list of such
            Observed values, one row per time step (a list: several series).
        y : array-like of shape (n_timesteps,) or (n_timesteps, n_targets), \
or list of such
            The series to forecast, row-aligned with ``X``.

        Returns
        -------
        self : WindowedForecaster
            The fitted forecaster.

        Raises
        ------
        ValueError
            If ``y`` is missing or not row-aligned with ``X``, if no window
            fits, or if ``differences`` is set and a target is not a column
            of ``X``.
        """
        if y is None:
            raise ValueError(
                "WindowedForecaster requires y to be passed, but the target y is "
                "None: y is the series to forecast. For a univariate series call "
                "fit(series.reshape(-1, 1), series)."
            )
        many = is_sequence_list(X)
        if many != is_sequence_list(y) or (many and len(X) != len(y)):
            raise ValueError(
                "X and y must both be one series or lists of the same number of series."
            )
        y_ndims: list[int] = []
        Xs, ys = series_arrays(X, "X", many), series_arrays(y, "y", many, y_ndims)
        for i, (a, b) in enumerate(zip(Xs, ys, strict=True)):
            if len(a) != len(b):
                raise ValueError(
                    f"X has {len(a)} rows but y has {len(b)} (series {i}); they "
                    "must be row-aligned: one row per time step."
                )
        if len({a.shape[1] for a in Xs}) > 1 or len({b.shape[1] for b in ys}) > 1:
            raise ValueError("Every series must have the same columns in X and y.")
        self.n_features_in_ = Xs[0].shape[1]
        self.n_targets_ = ys[0].shape[1]
        self._y_1d = y_ndims[0] == 1
        self._lags = self._check_lags()
        self.target_columns_ = self._find_target_columns(Xs, ys)
        self._seen = [_fingerprint(a) for a in Xs]
        Xs = [self._forward_X(a, "X") for a in Xs]
        ys = [self._forward(b, "y") for b in ys]
        self._tails = [a[max(0, len(a) - self._need()) :] for a in Xs]

        ends = [self._train_ends(len(a)) for a in Xs]
        self.n_windows_ = int(sum(len(e) for e in ends))
        if self.n_windows_ == 0:
            longest = max(len(a) for a in Xs)
            raise ValueError(
                f"No window fits: the longest series has n_samples={longest} rows, but "
                f"lookback={self.lookback}, horizon={self.horizon} and "
                f"differences={self.differences} need at least "
                f"{self._need() + 1}. Use a smaller lookback or a longer series."
            )
        self.conformal_scores_ = None
        if self.calibration_size is not None:
            self.conformal_scores_ = self._calibrate(Xs, ys, ends)
        W, T = self._training_set(Xs, ys, ends)
        self.estimator_ = self._fresh().fit(W, T)
        return self

    def _fresh(self):
        if self.estimator is None:
            return _default_estimator()
        return clone(self.estimator)

    def _calibrate(self, Xs, ys, ends) -> np.ndarray:
        fit_ends, cal_ends = [], []
        for e in ends:
            n_cal = int(np.ceil(self.calibration_size * len(e)))
            if n_cal < 1 or n_cal >= len(e):
                continue
            fit_ends.append(e[: len(e) - n_cal])
            cal_ends.append(e[len(e) - n_cal :])
        if not cal_ends:
            raise ValueError(
                f"calibration_size={self.calibration_size} leaves no window to "
                f"calibrate on or none to train on ({self.n_windows_} windows). "
                "Use a longer series or a calibration_size nearer 0.2."
            )
        # windows whose targets reach into the calibration targets are dropped
        trains = [
            f[f <= c[0] - self.horizon] for f, c in zip(fit_ends, cal_ends, strict=True)
        ]
        keep = [i for i, f in enumerate(trains) if len(f)]
        W, T = self._training_set(
            [Xs[i] for i in keep], [ys[i] for i in keep], [trains[i] for i in keep]
        )
        model = self._fresh().fit(W, T)
        scores, steps = [], np.arange(1, self.horizon + 1)
        for i, c in enumerate(cal_ends):
            pred = self._levels(model, Xs[i], c, steps)
            truth = ys[i][c[:, None] + steps]
            scores.append(np.abs(truth - pred))
        return np.concatenate(scores)

    # ------------------------------------------------------------- predicting
    def predict(self, X):
        """Forecast ``y`` at every row of ``X``, from ``horizon`` rows earlier.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features), or list of such
            Observed values, one row per time step. If ``X`` is the data
            seen in fit, each row reads its own history (the first rows of
            the series see it padded with its first row). Otherwise ``X`` is
            taken to continue the fitted series, whose last rows then serve
            as history for the first rows of ``X`` (as in a
            ``TimeSeriesSplit`` test fold). With a list of as many series as
            in fit, series ``i`` continues fitted series ``i``; with another
            number of series, each reads only its own rows.

        Returns
        -------
        y_pred : ndarray of shape (n_timesteps,) or (n_timesteps, n_targets), \
or list of such
            Row ``t`` forecasts ``y`` at row ``t`` (made ``horizon`` steps
            earlier), in the shape of ``y`` in fit.
        """
        preds = [
            self._shape(self._inverse(self._predict_series(arr, ctx)[:, 0]))
            for arr, ctx in self._with_history(X)
        ]
        return preds if is_sequence_list(X) else preds[0]

    def predict_interval(self, X, coverage: float = 0.9):
        """Prediction intervals for :meth:`predict`, by split conformal prediction.

        Each interval is the forecast plus and minus the conformal quantile
        of the calibration errors at ``horizon`` steps: under exchangeable
        errors it holds the true value with probability at least
        ``coverage``.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features), or list of such
            As in :meth:`predict`.
        coverage : float, default=0.9
            Target probability, in (0, 1).

        Returns
        -------
        intervals : ndarray of shape (n_timesteps, 2) or \
(n_timesteps, n_targets, 2), or list of such
            Lower and upper bounds on the last axis.

        Raises
        ------
        ValueError
            If the forecaster was fitted without ``calibration_size``, or
            ``coverage`` is outside (0, 1) or beyond what the calibration
            set can resolve.
        """
        radius = self._radius(coverage)[self.horizon - 1]
        out = []
        for arr, ctx in self._with_history(X):
            point = self._predict_series(arr, ctx)[:, 0]
            out.append(self._bounds(point, radius))
        return out if is_sequence_list(X) else out[0]

    def forecast(self, n_steps: int, X_future=None, coverage: float | None = None):
        """Forecast the ``n_steps`` steps after the end of the fitted data.

        Steps ``1..horizon`` come from one window (the direct strategy);
        further steps feed the forecasts back as observed values, block by
        block (the recursive strategy). Refit on all data first to forecast
        from its end.

        Parameters
        ----------
        n_steps : int
            Steps to forecast.
        X_future : array-like of shape (n_steps, n_features) or \
(n_steps, n_covariates), or list of such, default=None
            Future values of the covariate columns of ``X``, one row per
            forecast step (the target's columns, if given, are ignored).
            Required when ``X`` has covariates. More rows are welcome: with
            ``future_covariates=True`` a window may read up to ``horizon - 1``
            rows past ``n_steps`` (the last row given stands in for missing
            ones).
        coverage : float, default=None
            Also return conformal intervals of this coverage; needs
            ``calibration_size`` and ``n_steps <= horizon`` (recursive steps
            are not calibrated).

        Returns
        -------
        y_future : ndarray of shape (n_steps,) or (n_steps, n_targets), or \
list of such (one per fitted series)
            The forecasts.
        intervals : ndarray of shape (n_steps, 2) or (n_steps, n_targets, 2)
            Only with ``coverage``: lower and upper bounds.
        """
        check_is_fitted(self)
        if not isinstance(n_steps, Integral) or n_steps < 1:
            raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}.")
        covs = self._covariate_columns()
        futures = self._check_future(X_future, n_steps, covs)
        radius = None
        if coverage is not None:
            if n_steps > self.horizon:
                raise ValueError(
                    f"Intervals are calibrated for steps up to horizon="
                    f"{self.horizon}, not n_steps={n_steps}: set horizon="
                    f"{n_steps} to forecast them directly, or drop coverage."
                )
            radius = self._radius(coverage)
        outs = []
        for tail, future in zip(self._tails, futures, strict=True):
            outs.append(self._forecast_series(tail, future, n_steps, covs))
        shaped = [self._shape(self._inverse(o)) for o in outs]
        if radius is not None:
            bounds = [self._bounds(o, radius[:n_steps]) for o in outs]
            return (shaped, bounds) if len(self._tails) > 1 else (shaped[0], bounds[0])
        return shaped if len(self._tails) > 1 else shaped[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.target_tags.multi_output = True  # several targets: 2D y
        return tags

    # ------------------------------------------------------------- internals
    def _check_lags(self) -> tuple[int, ...]:
        lags = self.differences
        if lags is None:
            return ()
        lags = (lags,) if isinstance(lags, Integral) else tuple(lags)
        if not lags or not all(
            isinstance(d, Integral) and not isinstance(d, bool) and d >= 1 for d in lags
        ):
            raise ValueError(
                "differences must be a positive integer lag or a tuple of them, "
                f"e.g. 1 or (1, 12); got {self.differences!r}."
            )
        return tuple(int(d) for d in lags)

    def _find_target_columns(self, Xs, ys) -> list[int | None]:
        X, y = np.concatenate(Xs), np.concatenate(ys)
        columns = []
        for k in range(y.shape[1]):
            match = [c for c in range(X.shape[1]) if np.array_equal(X[:, c], y[:, k])]
            columns.append(match[0] if match else None)
        if self._lags and None in columns:
            raise ValueError(
                f"differences={self.differences!r} needs the target's observed "
                "values as a column of X (to turn forecast changes back into "
                "levels), but target "
                f"{columns.index(None)} of y is not a column of X. Add it: "
                "X = np.column_stack([y, covariates])."
            )
        return columns

    def _forward(self, values: np.ndarray, name: str) -> np.ndarray:
        if self.target_transform is None:
            return values
        low = 0.0 if self.target_transform == "sqrt" else np.nextafter(0, 1)
        if (values < low).any():
            need = "non-negative" if self.target_transform == "sqrt" else "positive"
            raise ValueError(
                f"target_transform={self.target_transform!r} needs {need} target "
                f"values, but {name} has {values.min()!r}. Use "
                "target_transform=None or shift the series."
            )
        return np.log(values) if self.target_transform == "log" else np.sqrt(values)

    def _inverse(self, values: np.ndarray) -> np.ndarray:
        if self.target_transform == "log":
            return np.exp(values)
        if self.target_transform == "sqrt":
            return np.square(np.maximum(values, 0.0))
        return values

    def _forward_X(self, arr: np.ndarray, name: str) -> np.ndarray:
        cols = [c for c in self.target_columns_ if c is not None]
        if self.target_transform is None or not cols:
            return arr
        out = arr.copy()
        out[:, cols] = self._forward(arr[:, cols], f"the target columns of {name}")
        return out

    def _input_order(self) -> int:
        return sum(self._lags)

    def _target_coefs(self) -> list[np.ndarray]:
        return diff.target_polynomials(self._lags, self.horizon)

    def _need(self) -> int:
        """Rows of history a forecast reads: window, horizon and differencing."""
        out_order = len(self._target_coefs()[-1]) - 1
        return max(self.lookback - 1 + self._input_order(), out_order) + self.horizon

    def _train_ends(self, n_rows: int) -> np.ndarray:
        # the window's first row needs its differencing history, the targets
        # theirs (order_k - k rows before the window's end)
        first = max(
            self.lookback - 1 + self._input_order(),
            *[len(c) - 1 - k for k, c in enumerate(self._target_coefs(), 1)],
        )
        return np.arange(first, n_rows - self.horizon, self.step)

    def _covariate_columns(self) -> list[int]:
        targets = {c for c in self.target_columns_ if c is not None}
        return [c for c in range(self.n_features_in_) if c not in targets]

    def _windows(self, levels: np.ndarray, ends: np.ndarray) -> np.ndarray:
        feats = levels.copy()
        if self._lags:
            coef = diff.lag_polynomial(self._lags)
            cols = [c for c in self.target_columns_ if c is not None]
            feats[:, cols] = diff.apply(levels[:, cols], coef)
        rows = ends[:, None] + np.arange(1 - self.lookback, 1)
        W = feats[rows]
        covs = self._covariate_columns()
        if self.future_covariates and covs:
            W[:, :, covs] = levels[rows + self.horizon][:, :, covs]
        return W

    def _training_set(self, Xs, ys, ends):
        Ws, Ts = [], []
        steps = np.arange(1, self.horizon + 1)
        for X, y, e in zip(Xs, ys, ends, strict=True):
            if not len(e):
                continue
            Ws.append(self._windows(X, e))
            change = np.stack(
                [
                    diff.apply(y, coef)[e + k] if self._lags else y[e + k]
                    for k, coef in zip(steps, self._target_coefs(), strict=True)
                ],
                axis=1,
            )  # (n, horizon, n_targets)
            Ts.append(change.reshape(len(e), -1))
        T = np.concatenate(Ts)
        return np.concatenate(Ws), T[:, 0] if T.shape[1] == 1 else T

    def _levels(self, model, levels, ends, steps) -> np.ndarray:
        """Level forecasts ``(n, len(steps), n_targets)`` from windows at ``ends``."""
        raw = np.asarray(model.predict(self._windows(levels, ends)), dtype=np.float64)
        raw = raw.reshape(len(ends), self.horizon, self.n_targets_)
        out = raw[:, steps - 1]
        if not self._lags:
            return out
        history = levels[:, self.target_columns_]
        coefs = self._target_coefs()
        for i, k in enumerate(steps):
            coef = coefs[k - 1]
            order = len(coef) - 1
            # rows up to the target's (end + k), most recent last
            rows = (ends + k)[:, None] - order + np.arange(order)
            out[:, i] = diff.invert(out[:, i], history[rows], coef)
        return out

    def _with_history(self, X):
        check_is_fitted(self)
        many = is_sequence_list(X)
        arrays = series_arrays(X, "X", many)
        for arr in arrays:
            if arr.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {arr.shape[1]} features, but WindowedForecaster is "
                    f"expecting {self.n_features_in_} features as input. Reshape "
                    f"your data to (n_timesteps, {self.n_features_in_}): the "
                    "columns seen in fit, one row per time step."
                )
        # a series continues a fitted one only when the counts say which
        continues = len(arrays) == len(self._tails)
        out = []
        for i, arr in enumerate(arrays):
            seen = continues and _fingerprint(arr) == self._seen[i]
            arr = self._forward_X(arr, "X")
            tail = self._tails[i] if continues and not seen else arr[:0]
            out.append((arr, tail))
        return out

    def _predict_series(self, arr: np.ndarray, tail: np.ndarray) -> np.ndarray:
        levels = np.concatenate([tail, arr])
        pad = max(0, self._need() - len(tail))
        levels = np.concatenate([np.repeat(levels[:1], pad, axis=0), levels])
        targets = np.arange(len(arr)) + pad + len(tail)
        steps = np.array([self.horizon])
        return self._levels(self.estimator_, levels, targets - self.horizon, steps)

    def _forecast_series(self, tail, future, n_steps: int, covs) -> np.ndarray:
        pad = max(0, self._need() - len(tail))
        known = np.concatenate([np.repeat(tail[:1], pad, axis=0), tail])
        ahead = np.full((n_steps + self.horizon, self.n_features_in_), np.nan)
        if covs:
            # a block's window may read known covariates past the last step
            # asked for; without them the last given row stands in
            given = future[: len(ahead)]
            ahead[: len(given), covs] = given
            ahead[len(given) :, covs] = given[-1]
        levels = np.concatenate([known, ahead])
        targets = self.target_columns_
        out = np.empty((n_steps, self.n_targets_))
        steps = np.arange(1, self.horizon + 1)
        for start in range(0, n_steps, self.horizon):
            end = np.array([len(known) - 1 + start])
            block = self._levels(self.estimator_, levels, end, steps)[0]
            take = min(self.horizon, n_steps - start)
            out[start : start + take] = block[:take]
            for k, col in enumerate(targets):
                if col is not None:
                    levels[end[0] + 1 : end[0] + 1 + take, col] = block[:take, k]
        return out

    def _check_future(self, X_future, n_steps: int, covs: list[int]):
        if not covs:
            return [None] * len(self._tails)
        if X_future is None:
            raise ValueError(
                f"X has covariate columns {covs}: forecast needs their future "
                f"values, X_future of shape ({n_steps}, {len(covs)})."
            )
        many = is_sequence_list(X_future)
        arrays = series_arrays(X_future, "X_future", many)
        if len(arrays) != len(self._tails):
            raise ValueError(
                f"X_future holds {len(arrays)} series; the forecaster was fitted "
                f"on {len(self._tails)}."
            )
        out = []
        for arr in arrays:
            if arr.shape[1] == self.n_features_in_:
                arr = arr[:, covs]
            if arr.shape[1] != len(covs) or len(arr) < n_steps:
                raise ValueError(
                    f"X_future has shape {arr.shape}; expected ({n_steps}, "
                    f"{len(covs)}) (the covariate columns {covs}) or ({n_steps}, "
                    f"{self.n_features_in_}), one row per forecast step."
                )
            out.append(arr)
        return out

    def _radius(self, coverage) -> np.ndarray:
        check_is_fitted(self)
        if self.conformal_scores_ is None:
            raise ValueError(
                "Intervals need a calibration set: set calibration_size (e.g. "
                "0.2) and fit again."
            )
        if not isinstance(coverage, Real) or not 0 < coverage < 1:
            raise ValueError(f"coverage must be in (0, 1), got {coverage!r}.")
        n = len(self.conformal_scores_)
        rank = int(np.ceil((n + 1) * coverage))
        if rank > n:
            least = int(np.ceil(coverage / (1 - coverage)))
            raise ValueError(
                f"coverage={coverage} needs at least {least} calibration "
                f"windows; there are {n}. Lower coverage or raise calibration_size."
            )
        # the conformal quantile: the rank-th smallest error, per step and target
        return np.sort(self.conformal_scores_, axis=0)[rank - 1]

    def _bounds(self, point: np.ndarray, radius: np.ndarray) -> np.ndarray:
        """Bounds around a transformed-scale point, back on the target's scale."""
        out = self._inverse(np.stack([point - radius, point + radius], axis=-1))
        return out[:, 0] if self._y_1d else out

    def _shape(self, pred: np.ndarray) -> np.ndarray:
        return pred[:, 0] if self._y_1d else pred
