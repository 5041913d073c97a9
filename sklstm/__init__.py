"""sklstm: PyTorch LSTMs as scikit-learn estimators, trained through skorch."""

from sklstm._classifier import LSTMClassifier
from sklstm._engine._net import TrainingDivergedError
from sklstm._regressor import LSTMRegressor
from sklstm.io._onnx import to_onnx
from sklstm.io._persist import load, save

__version__ = "0.1.0"

__all__ = [
    "LSTMClassifier",
    "LSTMRegressor",
    "TrainingDivergedError",
    "__version__",
    "load",
    "save",
    "to_onnx",
]
