"""Forecasting windows: make_windows and the WindowedForecaster meta-estimator."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.metrics import r2_score
from sklearn.utils.validation import check_array, check_is_fitted

from sklstm._data import is_sequence_list
from sklstm._sklearn_private import HasMethods, Interval, _fit_context, validate_params

_FLOATS = [np.float64, np.float32]


def _as_series_list(series) -> tuple[list[np.ndarray], bool]:
    """Validate one series, or a list of series, into 2D ``(T, n_features)`` arrays.

    Returns the arrays and whether the input was a list of several series.
    """
    # a numeric array (or DataFrame) is one series, even 2D
    many = is_sequence_list(series)
    out = []
    for i, item in enumerate(series if many else [series]):
        name = f"series[{i}]" if many else "series"
        arr = check_array(
            item, ensure_2d=False, allow_nd=True, dtype=_FLOATS, input_name=name
        )
        if arr.ndim not in (1, 2):
            raise ValueError(
                f"{name} has {arr.ndim} dimensions; a series is (n_timesteps,) or "
                "(n_timesteps, n_features). For several series pass a list."
            )
        out.append(arr[:, None] if arr.ndim == 1 else arr)
    widths = sorted({a.shape[1] for a in out})
    if len(widths) > 1:
        raise ValueError(
            f"The series have different feature counts {widths}; every series "
            "must have the same number of features."
        )
    return out, many


def _windows(
    arrays: list[np.ndarray], lookback: int, horizon: int, step: int, target: int
) -> tuple[np.ndarray, np.ndarray]:
    n_features = arrays[0].shape[1]
    if not -n_features <= target < n_features:
        raise ValueError(
            f"target={target} is not a column of a series with {n_features} "
            f"features; use an index in [{-n_features}, {n_features - 1}]."
        )
    Xs, ys = [], []
    for arr in arrays:  # one series at a time: no window crosses a boundary
        n = max(0, (len(arr) - lookback - horizon) // step + 1)
        starts = np.arange(n) * step
        Xs.append(arr[starts[:, None] + np.arange(lookback)])
        ys.append(arr[starts[:, None] + lookback + np.arange(horizon), target])
    X, y = np.concatenate(Xs), np.concatenate(ys)
    if len(X) == 0:
        longest = max(len(a) for a in arrays)
        raise ValueError(
            f"No window fits: the longest series has n_samples={longest} time "
            "steps, but "
            f"lookback={lookback} and horizon={horizon} need at least "
            f"{lookback + horizon}. Use a smaller lookback or a longer series."
        )
    return X.astype(np.float64, copy=False), y[:, 0] if horizon == 1 else y


@validate_params(
    {
        "series": ["array-like"],
        "lookback": [Interval(Integral, 1, None, closed="left")],
        "horizon": [Interval(Integral, 1, None, closed="left")],
        "step": [Interval(Integral, 1, None, closed="left")],
        "target": [Integral],
    },
    prefer_skip_nested_validation=True,
)
def make_windows(
    series, lookback: int, horizon: int = 1, step: int = 1, target: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a series into (input window, next values) pairs for forecasting.

    Window ``i`` holds the steps ``[s, s + lookback)`` with ``s = i * step``;
    its target is the ``target`` column at steps
    ``[s + lookback, s + lookback + horizon)``. With a list of series each one
    is cut on its own, so no window crosses from one series into the next;
    a series shorter than ``lookback + horizon`` gives no window.

    Parameters
    ----------
    series : array-like of shape (n_timesteps,) or (n_timesteps, n_features), \
or list of such arrays
        One series, or several (a list of arrays, possibly of different
        lengths, with the same number of features).
    lookback : int
        Time steps in each input window.
    horizon : int, default=1
        Future steps to predict after each window.
    step : int, default=1
        Steps between the starts of consecutive windows.
    target : int, default=0
        Column (feature index) of the series to forecast.

    Returns
    -------
    X : ndarray of shape (n_windows, lookback, n_features)
        Input windows, float64 (``n_features=1`` for a 1D series).
    y : ndarray of shape (n_windows,) or (n_windows, horizon)
        The following values of the target column (1D for ``horizon=1``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.preprocessing import make_windows
    >>> X, y = make_windows(np.arange(6), lookback=3)
    >>> X[:, :, 0]
    array([[0., 1., 2.],
           [1., 2., 3.],
           [2., 3., 4.]])
    >>> y
    array([3., 4., 5.])
    >>> X, y = make_windows([np.arange(5), np.arange(10, 14)], lookback=2, horizon=2)
    >>> X.shape, y.shape
    ((3, 2, 1), (3, 2))
    """
    arrays, _ = _as_series_list(series)
    return _windows(arrays, lookback, horizon, step, target)


class WindowedForecaster(RegressorMixin, BaseEstimator):
    """Forecast a series with a sequence regressor fitted on its sliding windows.

    ``fit(series)`` cuts the series into windows of ``lookback`` steps with
    :func:`make_windows`, each labelled with the next ``horizon`` values of
    the ``target`` column, and fits a clone of ``estimator`` on them.

    **Cross-validation without leakage.** ``X`` *is* the series, one row per
    time step, shape ``(n_timesteps, n_features)`` or ``(n_timesteps,)``;
    ``y`` is ignored (the targets are the series' own future values), so pass
    ``y=None``. A splitter such as
    :class:`~sklearn.model_selection.TimeSeriesSplit` then splits time steps,
    and because windows are built inside ``fit`` and ``score`` from the rows
    each receives, a fold's model is trained on windows of its training rows
    only and scored on windows of its test rows only: no window mixes the
    two. The cost: the first ``lookback`` steps of each test fold serve only
    as inputs and are never scored, so make each test fold longer than
    ``lookback + horizon`` (and note that a larger ``lookback`` scores
    slightly fewer steps). ``lookback`` is an ordinary parameter, so it can
    be searched together with the estimator's own parameters
    (``estimator__hidden_size``) in any scikit-learn search.

    Parameters
    ----------
    estimator : regressor
        Takes 3D ``X`` of shape ``(n_windows, lookback, n_features)``, e.g.
        :class:`sklstm.LSTMRegressor`; with ``horizon > 1`` it must accept
        2D targets ``(n_windows, horizon)``. It is cloned, never changed.
    lookback : int, default=10
        Time steps in each input window.
    horizon : int, default=1
        Future steps predicted from each window (the estimator's outputs).
    step : int, default=1
        Steps between the starts of consecutive training windows.
    target : int, default=0
        Column of the series to forecast.

    Attributes
    ----------
    estimator_ : regressor
        The clone of ``estimator`` fitted on the training windows.

    n_features_in_ : int
        Features per time step of the series (columns of ``X``).

    n_windows_ : int
        Number of training windows.

    See Also
    --------
    make_windows : The windowing used in fit, predict and score.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
    >>> from sklstm import LSTMRegressor
    >>> from sklstm.preprocessing import WindowedForecaster
    >>> series = np.sin(np.arange(120) / 4)              # one series, 120 steps
    >>> model = WindowedForecaster(
    ...     LSTMRegressor(hidden_size=8, max_epochs=5, random_state=0), lookback=5
    ... )
    >>> search = GridSearchCV(
    ...     model, {"lookback": [3, 5]}, cv=TimeSeriesSplit(n_splits=2)
    ... ).fit(series)
    >>> search.best_params_["lookback"] in (3, 5)
    True
    >>> search.best_estimator_.forecast(series).shape    # the next value
    (1,)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "lookback": [Interval(Integral, 1, None, closed="left")],
        "horizon": [Interval(Integral, 1, None, closed="left")],
        "step": [Interval(Integral, 1, None, closed="left")],
        "target": [Integral],
    }

    def __init__(
        self,
        estimator: BaseEstimator,
        lookback: int = 10,
        horizon: int = 1,
        step: int = 1,
        target: int = 0,
    ) -> None:
        self.estimator = estimator
        self.lookback = lookback
        self.horizon = horizon
        self.step = step
        self.target = target

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit a clone of ``estimator`` on the windows of the series ``X``.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features) or (n_timesteps,), \
or list of such arrays
            The training series (rows are time steps), or several series.
        y : None
            Ignored: the targets are the series' own future values.

        Returns
        -------
        self : WindowedForecaster
            The fitted forecaster.
        """
        arrays, _ = _as_series_list(X)
        self.n_features_in_ = arrays[0].shape[1]
        X_w, y_w = self._make(arrays, self.step)
        self.estimator_ = clone(self.estimator).fit(X_w, y_w)
        self.n_windows_ = len(X_w)
        return self

    def predict(self, X):
        """Forecast from every window of the series ``X`` (stride 1).

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features) or (n_timesteps,), \
or list of such arrays
            Series with the features seen in fit.

        Returns
        -------
        y_pred : ndarray of shape (n_windows,) or (n_windows, horizon)
            One forecast per window, aligned with the ``y`` of
            ``make_windows(X, lookback, horizon)``: row ``i`` forecasts the
            steps ``[i + lookback, i + lookback + horizon)``.
        """
        check_is_fitted(self)
        X_w, _ = self._make(self._check_series(X)[0], 1)
        return self.estimator_.predict(X_w)

    def score(self, X, y=None):
        """R² of the forecasts over every window of the series ``X``.

        Windows come from ``X`` alone, so in cross-validation a test fold is
        scored on its own rows; its first ``lookback`` steps are inputs only.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features) or (n_timesteps,), \
or list of such arrays
            Series with at least ``lookback + horizon`` steps.
        y : None
            Ignored: the true values are read from ``X``.

        Returns
        -------
        score : float
            Coefficient of determination of the forecasts (averaged over the
            ``horizon`` steps).
        """
        check_is_fitted(self)
        X_w, y_w = self._make(self._check_series(X)[0], 1)
        return float(r2_score(y_w, self.estimator_.predict(X_w)))

    def forecast(self, X) -> np.ndarray:
        """Forecast the ``horizon`` steps after the end of each series.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features) or (n_timesteps,), \
or list of such arrays
            Series of at least ``lookback`` steps; only the last ``lookback``
            are read.

        Returns
        -------
        y_next : ndarray of shape (horizon,) or (n_series, horizon)
            The next values of the target column; 2D for a list of series.
        """
        check_is_fitted(self)
        arrays, many = self._check_series(X)
        short = [i for i, a in enumerate(arrays) if len(a) < self.lookback]
        if short:
            raise ValueError(
                f"Series {short} have fewer than lookback={self.lookback} time "
                "steps; forecast needs at least lookback steps of history."
            )
        last = np.stack([a[len(a) - self.lookback :] for a in arrays])
        out = np.asarray(self.estimator_.predict(last)).reshape(len(arrays), -1)
        return out if many else out[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False  # the targets come from X
        return tags

    def _check_series(self, X) -> tuple[list[np.ndarray], bool]:
        arrays, many = _as_series_list(X)
        width = arrays[0].shape[1]
        if width != self.n_features_in_:
            raise ValueError(
                f"X has {width} features, but WindowedForecaster is expecting "
                f"{self.n_features_in_} features as input. Reshape your data to "
                f"(n_timesteps, {self.n_features_in_}): one column per feature."
            )
        return arrays, many

    def _make(self, arrays: list[np.ndarray], step: int):
        return _windows(arrays, self.lookback, self.horizon, step, self.target)
