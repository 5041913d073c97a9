"""Sequence-aware scikit-learn transformers: scaling and text.

``WindowedForecaster`` and ``make_windows`` moved to :mod:`sklstm.forecasting`;
their old names here still work, resolved on first use so that this package
imports no estimator.
"""

import importlib

from sklstm.preprocessing._scaler import SequenceScaler
from sklstm.preprocessing._text import TextSequencer

_MOVED = {
    "WindowedForecaster": "sklstm.forecasting",
    "make_windows": "sklstm.forecasting",
}


def __getattr__(name: str):
    if name in _MOVED:
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["SequenceScaler", "TextSequencer"]
