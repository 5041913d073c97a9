"""Sequence-aware scikit-learn transformers: scaling, forecasting windows, text."""

from sklstm.preprocessing._forecaster import WindowedForecaster
from sklstm.preprocessing._scaler import SequenceScaler
from sklstm.preprocessing._text import TextSequencer
from sklstm.preprocessing._window import make_windows

__all__ = ["SequenceScaler", "TextSequencer", "WindowedForecaster", "make_windows"]
