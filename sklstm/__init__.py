"""sklstm: PyTorch LSTMs as scikit-learn estimators, trained through skorch."""

# forecasting and preprocessing are imported so that the types pipeline
# files may hold are registered (sklstm.io._registry) before any load;
# model_selection registers the joblib backend "sklstm"
from sklstm import forecasting, model_selection, preprocessing  # noqa: F401
from sklstm._classifier import LSTMClassifier
from sklstm._engine._net import TrainingDivergedError
from sklstm._regressor import LSTMRegressor
from sklstm._version import __version__
from sklstm.io._onnx import to_onnx
from sklstm.io._persist import load, save

__all__ = [
    "LSTMClassifier",
    "LSTMRegressor",
    "TrainingDivergedError",
    "__version__",
    "load",
    "save",
    "to_onnx",
]
