"""Export a fitted estimator's network to ONNX, with the prediction mapping inside."""

from __future__ import annotations

import copy
import os
import pathlib
import warnings

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from sklstm._targets import probabilities_torch
from sklstm.io._registry import is_model


class _Predictor(nn.Module):
    """The network plus what ``predict`` / ``predict_proba`` do to its output."""

    def __init__(
        self,
        module: nn.Module,
        *,
        add_feature_axis: bool,
        proba: bool,
        multilabel: bool = False,
        mean: np.ndarray | None = None,
        scale: np.ndarray | None = None,
        drop_output_axis: bool = False,
        channels_first: bool = False,
    ) -> None:
        super().__init__()
        self.channels_first = channels_first
        self.module = module
        self.add_feature_axis = add_feature_axis
        self.proba = proba
        self.multilabel = multilabel
        self.drop_output_axis = drop_output_axis
        if not proba:
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
            self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.add_feature_axis:  # fitted on 2D: (batch, steps) univariate
            x = x.unsqueeze(-1)
        elif self.channels_first:  # (batch, features, steps), as predict reads it
            x = x.transpose(1, 2)
        out = self.module(x)  # raw steps: the network patches them itself
        if self.proba:
            return probabilities_torch(out, self.multilabel)
        out = out * self.scale + self.mean
        return out[..., 0] if self.drop_output_axis else out


def to_onnx(
    estimator,
    path: str | os.PathLike,
    *,
    opset: int = 17,
) -> pathlib.Path:
    """Export a fitted estimator to an ONNX file whose output is its prediction.

    The graph has one input ``"X"``, shaped like ``predict``'s equal-length
    input, with a dynamic batch axis and (but for 2D-fitted models) a dynamic
    time axis:

    - ``(batch, steps, features)`` float32 for a model fitted on 3D or ragged
      data;
    - ``(batch, n_features_in_)`` float32 for a model fitted on 2D
      (univariate) data: like ``predict``, a fixed number of steps;
    - ``(batch, steps)`` int64 token ids for a model with ``embedding_dim``.

    and one float32 output: ``"prediction"`` for a regressor (equal to
    ``predict``: the target scaling is inside the graph) or
    ``"probabilities"`` for a classifier (equal to ``predict_proba``; labels
    are ``estimator.classes_[probabilities.argmax(-1)]``). For
    ``return_sequences`` models the output keeps the time axis.

    Caveats: the graph has no ``lengths`` input, so every row of a batch is
    read to its last step. For a model trained on variable-length sequences,
    run sequences one at a time or in groups of equal length; padded rows
    would differ from ``predict`` on the ragged list. A ``stateful`` model is
    exported stateless: each run starts from a zero state, like the first
    ``predict`` after ``reset_states()`` (a warning says so).

    The export uses torch's TorchScript-based exporter (``dynamo=False``):
    exact and fast for these networks, and it needs only the ``onnx``
    package. torch marks it deprecated; its notice is silenced here.

    Parameters
    ----------
    estimator : LSTMClassifier or LSTMRegressor
        A fitted estimator.
    path : str or path-like
        Where to write the ``.onnx`` file.
    opset : int, default=17
        ONNX opset version.

    Returns
    -------
    path : pathlib.Path
        The path written.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    ValueError
        For a ``loss="quantile"`` regressor (not supported yet).
    ImportError
        If the ``onnx`` package is missing.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from sklstm import LSTMRegressor
    >>> from sklstm import to_onnx
    >>> X = np.random.RandomState(0).normal(size=(32, 5, 2)).astype(np.float32)
    >>> reg = LSTMRegressor(max_epochs=2, random_state=0).fit(X, X.sum(axis=(1, 2)))
    >>> import onnxruntime
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = to_onnx(reg, pathlib.Path(tmp) / "reg.onnx")
    ...     session = onnxruntime.InferenceSession(path)
    >>> (pred,) = session.run(None, {"X": X[:4, :3]})  # any batch size and length
    >>> bool(np.allclose(pred, reg.predict(X[:4, :3]), rtol=1e-4))
    True
    """
    if not is_model(estimator):
        raise TypeError(
            f"to_onnx expects an sklstm estimator, got {type(estimator).__name__}."
        )
    check_is_fitted(estimator)
    if getattr(estimator, "loss", None) == "quantile":
        raise ValueError(
            "to_onnx does not export loss='quantile' models yet: the graph "
            "would return the scaled quantile outputs, not predict's values. "
            "Export a model fitted with loss='mse', 'mae' or 'huber'."
        )
    try:
        import onnx  # noqa: F401 - torch's exporter writes the file with it
    except ImportError as exc:
        raise ImportError(
            "to_onnx needs the onnx package: "
            "pip install 'onnx>=1.16' 'onnxruntime>=1.17'."
        ) from exc
    if estimator.stateful:
        warnings.warn(
            "stateful=True: the ONNX graph carries no state between runs; each "
            "run starts from a zero state.",
            UserWarning,
            stacklevel=2,
        )
    predictor, example, output = _predictor(estimator)
    # a model fitted on 2D has fixed columns (n_features_in_), like predict
    fixed = estimator._fitted_on_2d
    steps_axis = 2 if predictor.channels_first else 1
    in_axes = {0: "batch"} if fixed else {0: "batch", steps_axis: "steps"}
    out_axes = {0: "batch", 1: "steps"} if estimator.return_sequences else {0: "batch"}
    if fixed and estimator.return_sequences:
        out_axes = {0: "batch"}
    path = pathlib.Path(path)
    with warnings.catch_warnings():
        # the tracer notes the fixed number of directions and layers (right
        # here), and torch notes that its TorchScript exporter is deprecated
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX")
        warnings.filterwarnings("ignore", message=".*batch_size other than 1")
        warnings.filterwarnings("ignore", message="The feature will be removed")
        torch.onnx.export(
            predictor,
            (example,),
            str(path),
            input_names=["X"],
            output_names=[output],
            dynamic_axes={"X": in_axes, output: out_axes},
            opset_version=opset,
            dynamo=False,
        )
    return path


def _predictor(estimator) -> tuple[_Predictor, torch.Tensor, str]:
    """The export module (a CPU copy), an example input and the output name."""
    module = copy.deepcopy(estimator.net_.module_).cpu().eval()
    tokens = estimator.embedding_dim is not None
    flat = tokens or estimator._fitted_on_2d
    steps = estimator.n_timesteps_in_ if estimator._fitted_on_2d else 3
    channels_first = estimator.data_format == "channels_first" and not flat
    shape = (2, steps) if flat else (2, steps, estimator.input_size_)
    if channels_first:
        shape = (2, estimator.input_size_, steps)
    if tokens:
        example = torch.ones(shape, dtype=torch.int64)
    else:
        example = torch.zeros(shape, dtype=torch.float32)
    if hasattr(estimator, "classes_"):
        predictor = _Predictor(
            module,
            add_feature_axis=flat and not tokens,
            proba=True,
            multilabel=bool(estimator.multilabel_),
            channels_first=channels_first,
        )
        return predictor.eval(), example, "probabilities"
    target_ndim = 2 if estimator.return_sequences else 1  # single-output rank
    predictor = _Predictor(
        module,
        add_feature_axis=flat and not tokens,
        proba=False,
        mean=estimator.y_mean_,
        scale=estimator.y_scale_,
        drop_output_axis=estimator._target_ndim == target_ndim,
        channels_first=channels_first,
    )
    return predictor.eval(), example, "prediction"


__all__ = ["to_onnx"]
