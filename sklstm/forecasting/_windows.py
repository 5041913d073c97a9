"""Forecasting windows: cut a series into (input window, next values) pairs.

:func:`cut` is the one window builder; ``make_windows`` and
``WindowedForecaster`` both build their windows with it.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from sklstm._data import is_sequence_list
from sklstm._sklearn_private import Interval, validate_params
from sklstm.forecasting._timeline import check_missing, read_series


def series_arrays(data, name: str, many: bool) -> list[np.ndarray]:
    """One series, or each of a list, as a 2D float64 ``(T, n_columns)`` array
    (no missing value)."""
    out = []
    for i, rows in enumerate(read_series(data, name, many, indexed=False)):
        check_missing(rows, f"{name}[{i}]" if many else name, "raise", True)
        out.append(rows.values)
    return out


def cut(values: np.ndarray, ends: np.ndarray, lookback: int) -> np.ndarray:
    """The one window builder: the ``lookback`` rows ending at each of ``ends``
    (inclusive), shape ``(len(ends), lookback, n_columns)``."""
    return values[np.asarray(ends)[:, None] + np.arange(1 - lookback, 1)]


def _as_series_list(series) -> tuple[list[np.ndarray], bool]:
    """Validate one series, or a list of series, into 2D ``(T, n_features)`` arrays.

    Returns the arrays and whether the input was a list of several series.
    """
    # a numeric array (or DataFrame) is one series, even 2D
    many = is_sequence_list(series)
    out = series_arrays(series, "series", many)
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
        ends = np.arange(n) * step + lookback - 1
        Xs.append(cut(arr, ends, lookback))
        ys.append(arr[ends[:, None] + 1 + np.arange(horizon), target])
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
