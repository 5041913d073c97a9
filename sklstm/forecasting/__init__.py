"""Forecasting with any regressor: the windowed forecaster, its one window
builder and the differencing it inverts."""

from sklstm.forecasting._forecaster import WindowedForecaster
from sklstm.forecasting._windows import make_windows

__all__ = ["WindowedForecaster", "make_windows"]
