"""The shared estimator: parameters, constraints, and the fit/partial_fit/predict
flow (the fit itself is planned and run by :mod:`sklstm._fitplan`)."""

from __future__ import annotations

import copy
import os
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from sklstm._data import SequenceDataset, fingerprint
from sklstm._engine import _build
from sklstm._engine._module import _ACTIVATIONS
from sklstm._engine._runtime import (
    auto_threads,
    reuse_heap,
    torch_threads,
)
from sklstm._engine._sklearn_callbacks import fit_task
from sklstm._fitplan import adopt_pretrained, plan_fit, run_fit
from sklstm._inputs import SequenceInputMixin
from sklstm._sklearn_private import (
    CallbackSupportMixin,
    HasMethods,
    Interval,
    StrOptions,
    callback_management_context,
)
from sklstm._validation import LAYOUTS, MAX_VOCAB

_MAX_THREADS = 1024


class _BaseLSTM(CallbackSupportMixin, SequenceInputMixin, BaseEstimator):
    """Base class of the LSTM estimators. Not for direct use.

    With scikit-learn >= 1.9 the estimators take scikit-learn callbacks
    (``set_callbacks``): a fit is one task, each epoch a sub-task of it
    (see :mod:`sklstm._engine._sklearn_callbacks`).
    """

    _parameter_constraints: dict = {
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "bidirectional": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "lstm_dropout": [Interval(Real, 0, 1, closed="left"), StrOptions({"auto"})],
        "random_crop": [Interval(Real, 0, 1, closed="right"), StrOptions({"auto"})],
        "head_units": [tuple, list, Interval(Integral, 1, None, closed="left")],
        "head_activation": [StrOptions(set(_ACTIVATIONS))],
        "norm": [StrOptions({"layer", "batch"}), None],
        "return_sequences": ["boolean"],
        "stateful": ["boolean"],
        "embedding_dim": [Interval(Integral, 1, None, closed="left"), None],
        "vocab_size": [Interval(Integral, 2, MAX_VOCAB, closed="both"), None],
        "data_format": [StrOptions(set(LAYOUTS))],
        "patch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
            None,
        ],
        "patch_stride": [Interval(Integral, 1, None, closed="left"), None],
        "conv_branch": ["boolean", StrOptions({"auto"})],
        "conv_filters": [tuple, list, Interval(Integral, 1, None, closed="left")],
        "conv_kernel_sizes": [tuple, list, Interval(Integral, 1, None, closed="left")],
        # weightless, so no memory check bounds it: a window of 2**20 steps
        # already spans any series (and load accepts up to that); per-gap
        # values are checked against the blocks in fit (_build.explicit_pools)
        "conv_pool_size": [
            Interval(Integral, 1, _build.MAX_POOL, closed="both"),
            StrOptions({"auto"}),
            tuple,
            list,
        ],
        "conv_stride": [
            Interval(Integral, 1, _build.MAX_POOL, closed="both"),
            StrOptions({"auto"}),
        ],
        "series_norm": ["boolean", StrOptions({"auto"})],
        "asinh_view": ["boolean", StrOptions({"auto"})],
        "gate_init": [StrOptions({"default", "forget_bias", "chrono"})],
        "optimizer": [StrOptions(set(_build.OPTIMIZERS)), callable],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "l1": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "max_epochs": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "shuffle": ["boolean"],
        "bucket_by_length": ["boolean"],
        "lr_scheduler": [StrOptions(_build.SCHEDULERS | {"auto"}), None],
        "lr_scheduler_params": [dict, None],
        "gradient_clip": [Interval(Real, 0, None, closed="neither"), None],
        "gradient_clip_value": [Interval(Real, 0, None, closed="neither"), None],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "validation_split": [StrOptions({"auto", "last", "random", "stratified"})],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "callbacks": [list, None],
        "tensorboard_dir": [str, os.PathLike, None],
        "epoch_cache": [str, os.PathLike, None],
        "device": [StrOptions({"cpu", "cuda", "auto"}), torch.device, str],
        "n_threads": [Interval(Integral, 1, _MAX_THREADS, closed="both"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "init_from": [None, str, os.PathLike, HasMethods(["fit", "predict"])],
        "freeze": ["boolean", Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        hidden_size: int = 32,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        lstm_dropout: float | str = "auto",
        random_crop: float | str = "auto",
        head_units: tuple[int, ...] = (),
        head_activation: str = "relu",
        norm: str | None = None,
        return_sequences: bool = False,
        stateful: bool = False,
        embedding_dim: int | None = None,
        vocab_size: int | None = None,
        data_format: str = "channels_last",
        patch_size: int | str | None = "auto",
        patch_stride: int | None = None,
        conv_branch: bool | str = "auto",
        conv_filters: tuple[int, ...] = (64, 128, 64),
        conv_kernel_sizes: tuple[int, ...] = (8, 3, 3),
        conv_pool_size: int | tuple[int, ...] | str = "auto",
        conv_stride: int | str = "auto",
        series_norm: bool | str = "auto",
        asinh_view: bool | str = "auto",
        gate_init: str = "forget_bias",
        optimizer: str | type = "adam",
        lr: float = 5e-3,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        l1: float = 0.0,
        batch_size: int | str = "auto",
        max_epochs: int | str = "auto",
        shuffle: bool = True,
        bucket_by_length: bool = False,
        lr_scheduler: str | None = "auto",
        lr_scheduler_params: dict | None = None,
        gradient_clip: float | None = 1.0,
        gradient_clip_value: float | None = None,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        validation_split: str = "auto",
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        callbacks: list | None = None,
        tensorboard_dir: str | None = None,
        epoch_cache: str | None = None,
        device: str = "cpu",
        n_threads: int | None = None,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
        warm_start: bool = False,
        init_from: object | None = None,
        freeze: bool | int = False,
    ) -> None:
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.lstm_dropout = lstm_dropout
        self.random_crop = random_crop
        self.head_units = head_units
        self.head_activation = head_activation
        self.norm = norm
        self.return_sequences = return_sequences
        self.stateful = stateful
        self.embedding_dim = embedding_dim
        self.vocab_size = vocab_size
        self.data_format = data_format
        self.patch_size = patch_size
        self.patch_stride = patch_stride
        self.conv_branch = conv_branch
        self.conv_filters = conv_filters
        self.conv_kernel_sizes = conv_kernel_sizes
        self.conv_pool_size = conv_pool_size
        self.conv_stride = conv_stride
        self.series_norm = series_norm
        self.asinh_view = asinh_view
        self.gate_init = gate_init
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.l1 = l1
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.shuffle = shuffle
        self.bucket_by_length = bucket_by_length
        self.lr_scheduler = lr_scheduler
        self.lr_scheduler_params = lr_scheduler_params
        self.gradient_clip = gradient_clip
        self.gradient_clip_value = gradient_clip_value
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.validation_split = validation_split
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.callbacks = callbacks
        self.tensorboard_dir = tensorboard_dir
        self.epoch_cache = epoch_cache
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.init_from = init_from
        self.freeze = freeze

    # --------------------------------------------------------------- training
    def _fit(self, X, y, sample_weight=None, *, epochs=None, classes=None):
        """Shared body of ``fit`` and ``partial_fit`` (``epochs=1``)."""
        if epochs is None and not self.warm_start and adopt_pretrained(self):
            return self
        plan = plan_fit(self, X, y, sample_weight, epochs=epochs, classes=classes)
        n_epochs = 0 if plan.finished else (plan.epochs or self.max_epochs_)
        # partial_fit has no _fit_context: the callbacks' teardown is managed
        # here for both (fit's own bracket then finds nothing left to do); a
        # `with`, not a decorator, keeps the warnings' stack levels
        with (
            callback_management_context(self),
            fit_task(
                self,
                name="partial_fit" if plan.incremental else "fit",
                n_epochs=n_epochs,
                X=X,
                y=y,
                sample_weight=sample_weight,
            ),
        ):
            return run_fit(self, plan)

    def _n_threads(self) -> int:
        """Torch threads for this model's fit and predict."""
        if self.n_threads is not None:
            return int(self.n_threads)
        width = int(self.embedding_dim or self.input_size_)
        batch = getattr(self, "batch_size_", None)
        if batch is None:
            batch = 64 if self.batch_size == "auto" else int(self.batch_size)
        # raw steps of the longest training sequence (its patches' span)
        steps = (getattr(self, "lstm_steps_", None) or 1) * getattr(
            self, "patch_stride_", 1
        )
        return auto_threads(
            int(batch), width, int(self.hidden_size), _build.conv_work(self, steps)
        )

    def save(self, path):
        """Save the fitted model in sklstm's safe format.

        Parameters as JSON and weights as a torch ``state_dict`` in one zip
        file; loading it never unpickles arbitrary objects.

        Parameters
        ----------
        path : str or os.PathLike
            File to write (e.g. ``"model.sklstm"``).

        Returns
        -------
        path : pathlib.Path
            The file written.
        """
        from sklstm.io._persist import save

        return save(self, path)

    @classmethod
    def load(cls, path, *, device: str = "cpu"):
        """Load a model written by :meth:`save`.

        Parameters
        ----------
        path : str or os.PathLike
            File written by :meth:`save`.
        device : str, default="cpu"
            Device to load the weights onto (a model fitted on CUDA loads on
            a CPU-only machine).

        Returns
        -------
        estimator : LSTMClassifier or LSTMRegressor
            The fitted estimator; its class must be ``cls``.
        """
        from sklstm.io._persist import load

        return load(path, device=device, estimator_class=cls)

    def get_params(self, deep: bool = True) -> dict:
        # init_from is a fitted model read by fit, not a sub-estimator: its
        # parameters are not ours to set (that would change it for every clone)
        return super().get_params(deep=False)

    def __sklearn_clone__(self):
        # every parameter is deep-copied, as sklearn's clone does, so clones
        # never share a RandomState, a dict or a callback; init_from is a fitted
        # model to start from, shared read-only (sklearn would unfit a copy)
        params = self.get_params(deep=False)
        source = params.pop("init_from")
        clone_ = type(self)(**copy.deepcopy(params))
        clone_.init_from = source
        if hasattr(self, "_metadata_request"):
            clone_._metadata_request = copy.deepcopy(self._metadata_request)
        if hasattr(self, "_skl_callbacks"):
            # as scikit-learn's clone: the same callback instances, which are
            # made to serve many clones (the fits of a search)
            clone_._skl_callbacks = self._skl_callbacks
        return clone_

    # ------------------------------------------------------------- predicting
    def _predict_raw(self, X, data: SequenceDataset | None = None) -> np.ndarray:
        """Float64 network outputs for ``X``, computed in float32; ``data``:
        ``X`` already validated (``_check_X(X, reset=False)``)."""
        check_is_fitted(self)
        if data is None:
            data = self._check_X(X, reset=False)
        threads = self._n_threads()
        reuse_heap()
        with torch_threads(threads):
            if self.stateful:
                out = self._predict_stream(data.to(self.device_))
            else:
                out = self.net_.predict_raw(data.to(self.device_))
        if not np.isfinite(out).all():
            warnings.warn(
                "The network produced non-finite outputs; check the input scale.",
                RuntimeWarning,
                stacklevel=3,
            )
        return out.astype(np.float64)

    def _predict_stream(self, data: SequenceDataset) -> np.ndarray:
        if data.lengths is not None:
            raise ValueError(
                "stateful=True streams equal-length chunks; pad the chunk's "
                "sequences to one length."
            )
        # one rule: the state advances once per new chunk; asking again about
        # the same chunk (predict, then predict_proba or score) answers from
        # the state before it
        chunk = fingerprint(data.X)
        last = getattr(self, "_stream_last", None)
        if last is not None and last[0] == chunk:
            state = last[1]
        else:
            state = getattr(self, "_stream_state", None)
        if state is not None and state[0].shape[1] != len(data):
            raise ValueError(
                f"stateful=True carries one state per stream: this chunk has "
                f"{len(data)} sequences, the previous one had {state[0].shape[1]}. "
                "Call reset_states() to start new streams."
            )
        out, self._stream_state = self.net_.predict_stream(data, state)
        self._stream_last = (chunk, state)
        return out

    def reset_states(self):
        """Forget the hidden state carried between ``predict`` calls.

        Only meaningful with ``stateful=True``; ``fit`` also resets it.

        Returns
        -------
        self : estimator
            The estimator, with no carried state.
        """
        self.__dict__.pop("_stream_state", None)
        self.__dict__.pop("_stream_last", None)
        return self

    # Hooks filled in by the regressor and the classifier.
    def _check_target(self, y, data, *, fit: bool, classes=None) -> np.ndarray:
        raise NotImplementedError

    def _target_tensor(
        self, y: np.ndarray, sample_weight, *, reset: bool
    ) -> torch.Tensor:
        raise NotImplementedError

    def _n_outputs(self) -> int:
        raise NotImplementedError

    def _criterion(self, data: SequenceDataset) -> torch.nn.Module:
        raise NotImplementedError


__all__ = ["_BaseLSTM"]
