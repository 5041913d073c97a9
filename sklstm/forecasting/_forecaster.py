"""WindowedForecaster: a series regressor built on a sequence regressor.

``fit(X, y)`` takes one row per time step, like any scikit-learn regressor,
and ``predict(X)`` returns one forecast per row; windows, differencing and
the conformal calibration all live inside, so scorer strings,
``cross_val_score``, ``cross_val_predict`` and searches over ``lookback``
work with scikit-learn's splitters. Where each row sits in time is decided
by the rules of :mod:`sklstm.forecasting._timeline`.
"""

from __future__ import annotations

import hashlib
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted, validate_data

import sklstm.forecasting._differencing as diff
import sklstm.forecasting._timeline as tl
from sklstm._data import is_sequence_list
from sklstm._sklearn_private import HasMethods, Interval, StrOptions, _fit_context
from sklstm.forecasting._loaded import check_loaded_state, migrate
from sklstm.forecasting._windows import cut
from sklstm.io._registry import register_plain


def _default_estimator():
    from sklearn.pipeline import make_pipeline

    from sklstm._regressor import LSTMRegressor
    from sklstm.preprocessing._scaler import SequenceScaler

    return make_pipeline(SequenceScaler(), LSTMRegressor())


def _legacy_fingerprint(arr: np.ndarray) -> str:
    """How sklstm 0.2 recognised the fitted data (read only from its files)."""
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
    observed rows up to ``t - horizon``. So any regression scorer string,
    ``cross_val_score``, ``cross_val_predict`` and searches over ``lookback``
    work unchanged, and windows, scaling and differencing are fitted on each
    fold's training rows only.

    **Where a row sits in time.** A pandas ``X`` with a ``DatetimeIndex``,
    ``PeriodIndex`` or integer index is placed by its index (scikit-learn's
    splitters keep it on each fold): ``KFold``, ``TimeSeriesSplit`` with a
    ``gap``, in-sample rows and new rows are each read at their own step,
    steps in between are filled with the model's own forecasts, and no
    forecast reads a row after its origin. A plain array is in-sample when it
    equals the fitted array exactly, the fitted array plus new rows when it
    starts with it, and otherwise the rows right after the fitted ones; a
    near copy or a run of the fitted rows is refused as ambiguous. The rules
    in full: the user guide, "Where a row sits in time".

    **The default estimator.** ``estimator=None`` stands for
    ``make_pipeline(SequenceScaler(), LSTMRegressor())``. Its parameters show
    in ``get_params(deep=True)`` as ``estimator__sequencescaler__*`` and
    ``estimator__lstmregressor__*``, and setting one (``set_params``, a
    search grid) first replaces ``None`` by that pipeline, so the documented
    keys reach it. ``None`` stays the constructor's default because
    ``__init__`` only stores plain values (an estimator instance as default
    would be shared by every forecaster); ``clone`` keeps ``None`` as is.

    Parameters
    ----------
    estimator : regressor, default=None
        Fitted on 3D windows ``(n_windows, lookback, n_features)`` with
        targets ``(n_windows, horizon * n_targets)`` (1D when that is 1).
        ``None`` uses ``make_pipeline(SequenceScaler(), LSTMRegressor())``
        (see above). It is cloned, never changed.
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
    missing : {"raise", "interpolate"}, default="raise"
        Missing values (NaN) in ``X`` or ``y``: ``"raise"`` refuses them with
        a message that says how to fill them; ``"interpolate"`` fills them in
        ``fit`` linearly in time (by the index, or the row order), and when
        forecasting carries each column's last observed value forward, so no
        forecast reads a value after its origin.

    Attributes
    ----------
    estimator_ : regressor
        The clone of ``estimator`` fitted on every training window.

    n_features_in_ : int
        Columns of ``X``.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the columns of ``X``, when they are all strings.

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
    >>> from sklstm.forecasting import WindowedForecaster
    >>> t = np.arange(150)
    >>> series = 0.05 * t + np.sin(t / 3)                # trend and cycle
    >>> model = WindowedForecaster(differences=1).set_params(
    ...     estimator__lstmregressor__hidden_size=8,
    ...     estimator__lstmregressor__max_epochs=10,
    ...     estimator__lstmregressor__random_state=0,
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
        "missing": [StrOptions({"raise", "interpolate"})],
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
        missing: str = "raise",
    ) -> None:
        self.estimator = estimator
        self.lookback = lookback
        self.horizon = horizon
        self.differences = differences
        self.target_transform = target_transform
        self.future_covariates = future_covariates
        self.calibration_size = calibration_size
        self.step = step
        self.missing = missing

    # ------------------------------------------------------------- parameters
    def get_params(self, deep: bool = True) -> dict:
        """Parameters, with the default pipeline's under ``estimator__``.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of the estimator; with
            ``estimator=None``, those of an unfitted default pipeline.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=deep)
        if deep and self.estimator is None:
            for key, value in _default_estimator().get_params(deep=True).items():
                params[f"estimator__{key}"] = value
        return params

    def set_params(self, **params) -> WindowedForecaster:
        """Set parameters; an ``estimator__*`` key with ``estimator=None``
        first puts the default pipeline in its place.

        Parameters
        ----------
        **params : dict
            Parameter names (``estimator__lstmregressor__hidden_size``, ...)
            mapped to their new values.

        Returns
        -------
        self : WindowedForecaster
            This forecaster.
        """
        nested = any(key.startswith("estimator__") for key in params)
        if nested and params.get("estimator", self.estimator) is None:
            params = {**params, "estimator": _default_estimator()}
        return super().set_params(**params)

    # ---------------------------------------------------------------- fitting
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the regressor on the windows of ``X`` and the targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features), or list of such
            Observed values, one row per time step (a list: several series).
            A pandas index places the rows in time.
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
            fits, if ``differences`` is set and a target is not a column of
            ``X``, or if a value is missing and ``missing="raise"``.
        """
        pairs, many = self._read_fit_data(X, y)
        self._lags = self._check_lags()
        placed = [self._place_fitted(x, t, i, many) for i, (x, t) in enumerate(pairs)]
        self.target_columns_ = self._find_target_columns(
            [p[1] for p in placed], [p[2] for p in placed]
        )
        self._fit_rows = [p[0] for p in placed]
        self._fit_steps = [p[3] for p in placed]
        self._seen = None  # how sklstm 0.2 files recognise their fitted data
        # each run of consecutive steps is a series of its own: no window
        # crosses a gap of the index
        Xs, Ys = [], []
        for _, x, t, steps in placed:
            for part in tl.split_runs(steps):
                Xs.append(self._forward_X(x[part], "X"))
                Ys.append(self._forward(t[part], "y"))
        ends = [self._train_ends(len(a)) for a in Xs]
        self.n_windows_ = int(sum(len(e) for e in ends))
        if self.n_windows_ == 0:
            longest = max(len(a) for a in Xs)
            raise ValueError(
                f"No window fits: the longest run of consecutive rows has "
                f"n_samples={longest} rows, but lookback={self.lookback}, "
                f"horizon={self.horizon} and differences={self.differences} need "
                f"at least {self._need() + 1}. Use a smaller lookback or a longer "
                "series."
            )
        self.conformal_scores_ = None
        if self.calibration_size is not None:
            self.conformal_scores_ = self._calibrate(Xs, Ys, ends)
        W, T = self._training_set(Xs, Ys, ends)
        self.estimator_ = self._fresh().fit(W, T)
        return self

    def _read_fit_data(self, X, y):
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
        self._check_names(X, many, reset=True)
        xs = tl.read_series(X, "X", many)
        ys = tl.read_series(y, "y", many, indexed=False)
        for i, (a, b) in enumerate(zip(xs, ys, strict=True)):
            if len(a.values) != len(b.values):
                raise ValueError(
                    f"X has {len(a.values)} rows but y has {len(b.values)} (series "
                    f"{i}); they must be row-aligned: one row per time step."
                )
        if (
            len({a.values.shape[1] for a in xs}) > 1
            or len({b.values.shape[1] for b in ys}) > 1
        ):
            raise ValueError("Every series must have the same columns in X and y.")
        if len({a.kind for a in xs}) > 1:
            raise ValueError(
                "Every series of X must be indexed alike: all plain arrays, or all "
                "pandas objects with the same kind of index."
            )
        self.n_features_in_ = xs[0].values.shape[1]
        self.n_targets_ = ys[0].values.shape[1]
        self._y_1d = ys[0].ndim == 1
        self._time_index = xs[0].kind
        self._freq, self._anchors = None, []
        return list(zip(xs, ys, strict=True)), many

    def _place_fitted(self, x: tl.Rows, y: tl.Rows, i: int, many: bool):
        """Rows in time order: ``(X as given, X filled, y filled, steps)``."""
        label = f"[{i}]" if many else ""
        tl.check_missing(x, f"X{label}", self.missing, fitting=True)
        tl.check_missing(y, f"y{label}", self.missing, fitting=True)
        freq, anchor, steps = tl.fitted_axis(x)
        if self._freq is not None and freq != self._freq:
            raise ValueError(
                f"Series {i} of X has frequency {freq!r}, series 0 {self._freq!r}."
            )
        self._freq = freq
        self._anchors.append(anchor)
        order = np.argsort(steps, kind="stable")
        steps = np.asarray(steps[order], dtype=np.int64)
        if (np.diff(steps) == 0).any():
            raise ValueError(
                f"The index of X{label} repeats a value: each row must be its own "
                "time step."
            )
        values, target = x.values[order], y.values[order]
        if self.missing == "interpolate":
            return (
                values,
                tl.interpolate(values, steps),
                tl.interpolate(target, steps),
                steps,
            )
        return values, values, target, steps

    def _check_names(self, X, many: bool, reset: bool) -> None:
        """``feature_names_in_`` recorded in fit and checked after, as by any
        scikit-learn estimator (scikit-learn's own check)."""
        for i, item in enumerate(X if many else [X]):
            validate_data(
                self,
                item,
                reset=reset and i == 0,
                skip_check_array=True,
                ensure_2d=False,
            )

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
        # windows whose targets reach into the calibration targets are dropped
        trains = [
            f[f <= c[0] - self.horizon] for f, c in zip(fit_ends, cal_ends, strict=True)
        ]
        keep = [i for i, f in enumerate(trains) if len(f)]
        if not keep:
            raise ValueError(
                f"calibration_size={self.calibration_size} leaves no window to "
                f"calibrate on or none to train the calibration model on "
                f"({self.n_windows_} windows, horizon={self.horizon}). Use a "
                "longer series, a shorter lookback or a calibration_size nearer 0.2."
            )
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
            Observed values, one row per time step. A pandas index places each
            row; a plain array is the fitted data (exactly), the fitted data
            followed by new rows, or the rows after the fitted ones (see the
            class docstring). With a list of as many series as in fit, series
            ``i`` is placed against fitted series ``i``; with another number
            of series, each reads only its own rows.

        Returns
        -------
        y_pred : ndarray of shape (n_timesteps,) or (n_timesteps, n_targets), \
or list of such
            Row ``t`` forecasts ``y`` at row ``t`` (made ``horizon`` steps
            earlier), in the shape of ``y`` in fit.
        """
        preds = [self._shape(self._inverse(p)) for p in self._points(X)]
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
        out = [self._bounds(p, radius) for p in self._points(X)]
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
        if (
            not isinstance(n_steps, Integral)
            or isinstance(n_steps, bool)
            or n_steps < 1
        ):
            raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}.")
        n_steps = int(n_steps)
        covs = self._covariate_columns()
        fitted = self._fitted_rows()
        futures = self._check_future(X_future, n_steps, covs, len(fitted))
        radius = None
        if coverage is not None:
            if n_steps > self.horizon:
                raise ValueError(
                    f"Intervals are calibrated for steps up to horizon="
                    f"{self.horizon}, not n_steps={n_steps}: set horizon="
                    f"{n_steps} to forecast them directly, or drop coverage."
                )
            radius = self._radius(coverage)
        outs = [
            self._forecast_series(rows, steps, future, n_steps, covs)
            for (rows, steps), future in zip(fitted, futures, strict=True)
        ]
        shaped = [self._shape(self._inverse(o)) for o in outs]
        many = len(fitted) > 1
        if radius is not None:
            bounds = [self._bounds(o, radius[:n_steps]) for o in outs]
            return (shaped, bounds) if many else (shaped[0], bounds[0])
        return shaped if many else shaped[0]

    def _check_loaded_state(self) -> None:
        """Refuse a restored fitted state that is not consistent (files of
        sklstm 0.2 are first read as today's).

        Called by :func:`sklstm.load` on every restored object that has it.

        Raises
        ------
        ValueError
            Naming the first inconsistency found: a type, a range, a shape,
            or a mismatch with the fitted inner estimator.
        """
        self._fitted_rows()
        check_loaded_state(self)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.missing == "interpolate"
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
                f"values, but {name} has {np.nanmin(values)!r}. Use "
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
        W = cut(feats, ends, self.lookback)
        covs = self._covariate_columns()
        if self.future_covariates and covs:
            W[:, :, covs] = cut(levels, ends + self.horizon, self.lookback)[:, :, covs]
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

    def _fill(self, model, levels: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Forecast the steps marked in ``mask``, in time order, block by block
        from the rows before each (as ``forecast`` does past the end); the
        targets' columns of ``levels`` take the forecasts. Returns them."""
        filled = np.full((len(levels), self.n_targets_), np.nan)
        steps = np.arange(1, self.horizon + 1)
        reach = self._need() + 1  # rows a window and its inversion read
        for a, b in tl.runs(mask):
            for s in range(a, b, self.horizon):
                lo = max(0, s - 1 - reach)
                end = np.array([s - 1 - lo])
                block = self._levels(model, levels[lo : s + self.horizon], end, steps)
                take = min(self.horizon, b - s)
                filled[s : s + take] = block[0, :take]
                for k, col in enumerate(self.target_columns_):
                    if col is not None:
                        levels[s : s + take, col] = block[0, :take, k]
        return filled

    # --------------------------------------------------- rows placed in time
    def _fitted_rows(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each fitted series' rows in time order and their steps."""
        if not hasattr(self, "_fit_rows"):  # restored without __setstate__
            state = migrate(vars(self))
            vars(self).clear()
            vars(self).update(state)
        return list(zip(self._fit_rows, self._fit_steps, strict=True))

    def __setstate__(self, state: dict) -> None:
        # files of sklstm 0.2 hold other fitted attributes: read them as today's
        super().__setstate__(migrate(state))

    def _points(self, X) -> list[np.ndarray]:
        """Forecasts on the transformed scale, ``(n_rows, n_targets)`` per series."""
        check_is_fitted(self)
        many = is_sequence_list(X)
        self._check_names(X, many, reset=False)
        given = tl.read_series(X, "X", many)
        fitted = self._fitted_rows()
        continues = len(given) == len(fitted)
        out = []
        for i, rows in enumerate(given):
            label = f"X[{i}]" if many else "X"
            if rows.values.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"{label} has {rows.values.shape[1]} features, but "
                    f"WindowedForecaster is expecting {self.n_features_in_} "
                    f"features as input. Reshape your data to (n_timesteps, "
                    f"{self.n_features_in_}): the columns seen in fit, one row per "
                    "time step."
                )
            if self.missing == "raise":
                tl.check_missing(rows, label, "raise", fitting=False)
            past, past_steps, steps = self._place(rows, i if continues else None)
            line = tl.lay_out(
                past, past_steps, rows.values, steps, self._need(), self.horizon
            )
            levels = self._forward_X(line.levels, label)
            self._fill(self.estimator_, levels, line.fill)
            ends = line.rows - self.horizon
            steps_h = np.array([self.horizon])
            out.append(self._levels(self.estimator_, levels, ends, steps_h)[:, 0])
        return out

    def _place(self, rows: tl.Rows, i: int | None):
        """``(fitted rows, their steps, steps of rows)`` for one given series
        (``i``: the fitted series it is placed against, or None)."""
        kind = getattr(self, "_time_index", None)
        none = np.empty((0, self.n_features_in_)), np.empty(0, dtype=np.int64)
        if i is None:  # a series of its own
            if kind is None or rows.kind is None:
                return *none, np.arange(len(rows.values), dtype=np.int64)
            anchor = tl.fitted_axis(rows)[1] if kind == "datetime" else None
            return *none, tl.steps_of(rows, kind, self._freq, anchor)
        past, past_steps = self._fitted_rows()[i]
        if kind is not None and rows.kind is not None:
            anchor = self._anchors[i]
            return past, past_steps, tl.steps_of(rows, kind, self._freq, anchor)
        seen = getattr(self, "_seen", None)  # set only by files of sklstm 0.2
        if seen is not None and _legacy_fingerprint(rows.values) == seen[i]:
            return *none, np.arange(len(rows.values), dtype=np.int64)
        return past, past_steps, tl.place_plain(rows.values, past, past_steps)

    def _forecast_series(self, rows, steps, future, n_steps: int, covs):
        line = tl.lay_out(rows, steps, None, None, self._need(), 0)
        known = self._forward_X(line.levels, "X")
        ahead = np.full((n_steps + self.horizon, self.n_features_in_), np.nan)
        if covs:
            # a block's window may read known covariates past the last step
            # asked for; without them the last given row stands in
            given = future[: len(ahead)]
            ahead[: len(given), covs] = given
            ahead[len(given) :, covs] = given[-1]
        levels = np.concatenate([known, ahead])
        mask = np.r_[line.fill, np.ones(n_steps, bool), np.zeros(self.horizon, bool)]
        filled = self._fill(self.estimator_, levels, mask)
        return filled[len(known) : len(known) + n_steps]

    def _check_future(self, X_future, n_steps: int, covs: list[int], n_series: int):
        if not covs:
            return [None] * n_series
        if X_future is None:
            raise ValueError(
                f"X has covariate columns {covs}: forecast needs their future "
                f"values, X_future of shape ({n_steps}, {len(covs)})."
            )
        many = is_sequence_list(X_future)
        arrays = [
            r.values for r in tl.read_series(X_future, "X_future", many, indexed=False)
        ]
        if len(arrays) != n_series:
            raise ValueError(
                f"X_future holds {len(arrays)} series; the forecaster was fitted "
                f"on {n_series}."
            )
        out = []
        for arr in arrays:
            if arr.shape[1] == self.n_features_in_:
                arr = arr[:, covs]
            if arr.shape[1] != len(covs) or len(arr) < n_steps or np.isnan(arr).any():
                raise ValueError(
                    f"X_future has shape {arr.shape}; expected ({n_steps}, "
                    f"{len(covs)}) (the covariate columns {covs}) or ({n_steps}, "
                    f"{self.n_features_in_}), one row per forecast step, with no "
                    "missing value."
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
        if (
            not isinstance(coverage, Real)
            or isinstance(coverage, bool)
            or not 0 < coverage < 1
        ):
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
