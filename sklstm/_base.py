"""Shared estimator plumbing: parameters, validation, and building the skorch net."""

from __future__ import annotations

import copy
import hashlib
import os
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch.helper import predefined_split

from sklstm import _build, _cache
from sklstm._data import SequenceDataset
from sklstm._inputs import MAX_VOCAB, SequenceInputMixin
from sklstm._interrupt import watch_sigint
from sklstm._module import _ACTIVATIONS, LSTMNetwork
from sklstm._net import SequenceNet, TrainingDivergedError, cuda_indices, seed_torch
from sklstm._sklearn_private import (
    HasMethods,
    Interval,
    StrOptions,
    _check_sample_weight,
    _num_samples,
)
from sklstm._threads import auto_threads, torch_threads
from sklstm._validation import LAYOUTS

# fitted attributes resolved from "auto" parameters for each fit
_RESOLVED = ("batch_size_", "max_epochs_", "lr_scheduler_")
_MAX_THREADS = 1024


class _BaseLSTM(SequenceInputMixin, BaseEstimator):
    """Base class of the LSTM estimators. Not for direct use."""

    _parameter_constraints: dict = {
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "bidirectional": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
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
    def _split_indices(self, y: np.ndarray, n: int, seed: int):
        """Train and validation row indices for early stopping."""
        how = self.validation_split
        if how == "auto":
            how = "stratified" if self._is_classifier_target() else "random"
        n_valid = int(np.ceil(self.validation_fraction * n))
        if n_valid < 1 or n - n_valid < 1:
            raise ValueError(
                f"early_stopping needs at least 2 samples to split off a validation "
                f"set (validation_fraction={self.validation_fraction}, n_samples={n})."
            )
        if how == "last":  # the most recent rows: no look-ahead across time
            return np.arange(n - n_valid), np.arange(n - n_valid, n)
        if how == "stratified":
            labels = y.reshape(n, -1)[:, 0]
            splitter = StratifiedShuffleSplit(1, test_size=n_valid, random_state=seed)
            try:
                return next(splitter.split(np.zeros(n), labels))
            except ValueError as exc:
                raise ValueError(
                    f"Cannot stratify the validation split: {exc} Use "
                    "validation_split='random' or a larger validation_fraction."
                ) from exc
        return next(
            ShuffleSplit(1, test_size=n_valid, random_state=seed).split(np.zeros(n))
        )

    def _is_classifier_target(self) -> bool:
        return False

    def _check_sample_weight(self, sample_weight, n: int) -> np.ndarray | None:
        """Weights scaled to mean 1 (they set each sample's share, not the step)."""
        if sample_weight is None:
            return None
        if hasattr(sample_weight, "__len__") and len(sample_weight) != n:
            raise ValueError(
                f"sample_weight has {len(sample_weight)} entries but X has {n} "
                "samples; give one weight per sample."
            )
        sw = _check_sample_weight(sample_weight, np.empty(n), ensure_non_negative=True)
        if not np.isfinite(sw).all():
            raise ValueError("sample_weight contains NaN or infinity.")
        if sw.sum() <= 0:
            raise ValueError("sample_weight sums to zero; no sample would count.")
        # divided by the largest first, so huge weights cannot overflow the sum
        sw = sw / sw.max()
        return sw / sw.mean()

    def _fit(self, X, y, sample_weight=None, *, epochs=None, classes=None):
        """Shared body of ``fit`` and ``partial_fit`` (``epochs=1``)."""
        self._check_y_present(y)
        incremental = epochs is not None
        warm = (self.warm_start or incremental) and hasattr(self, "net_")
        self._check_combinations(incremental=incremental)
        if warm:  # refuse an impossible continuation before reading the data
            _build.check_architecture(self, self.net_)
        data = self._check_X(X, reset=not warm)
        if _num_samples(y) != len(data):
            raise ValueError(
                f"Found input variables with inconsistent numbers of samples: "
                f"[{len(data)}, {_num_samples(y)}]"
            )
        y_arr = self._check_target(y, data, fit=not warm, classes=classes)
        self._check_length(data, y_arr)
        n = len(data)
        sw = self._check_sample_weight(sample_weight, n)
        if sw is not None:
            data.weight = torch.from_numpy(sw.astype(np.float32))
        data.y = self._target_tensor(y_arr, sw, reset=not warm)
        key = None
        resumed = False  # continuing a cached shorter fit of this same fit
        # early stopping is off under partial_fit (one epoch per call), as in
        # scikit-learn's MLP
        early = bool(self.early_stopping) and not incremental
        # "auto" sizes follow the rows that will train
        n_train = n - int(np.ceil(self.validation_fraction * n)) if early else n
        self._resolve_training(n_train, incremental=incremental)
        if self.epoch_cache is not None and not incremental and not warm:
            # before any training: a search must not train, then fail to store
            _cache.check_writable(self.epoch_cache)
            if not early:  # a stopped run cannot be continued
                key = _cache.cache_key(self, data, y_arr)
                warm, epochs = self._resume_from_cache(key)
                resumed = warm
                if warm and epochs == 0:
                    return self

        device = _build.resolve_device(self.device)
        seed = int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )
        train, valid = data, None
        if early:
            tr, va = self._split_indices(y_arr, n, seed)
            train, valid = data.subset(tr), data.subset(va)
        if self.norm == "batch" and len(train) < 2:
            raise ValueError(
                f"norm='batch' needs at least 2 training samples, got {len(train)}; "
                "use norm='layer' or more data."
            )
        train, valid = train.to(device), valid.to(device) if valid is not None else None

        cuda = cuda_indices(device)
        with torch_threads(self._n_threads()), torch.random.fork_rng(devices=cuda):
            seed_torch(seed, cuda)
            if warm:
                net = self.net_
                _build.update_net(
                    self,
                    net,
                    device,
                    n_train=len(train),
                    early_stopping=early,
                    incremental=incremental or resumed,
                )
                if not incremental:  # class weights follow this fit's labels
                    self._update_criterion(net, train)
            else:
                net = self._new_net(train, device, seed, early_stopping=early)
                if self.init_from is not None:
                    self._load_pretrained(net.module_)
            net.train_split = predefined_split(valid) if valid is not None else None
            n_before = len(net.history)
            try:
                with watch_sigint() as sigint:
                    net.partial_fit(train, None, epochs=epochs)
            except TrainingDivergedError:
                # the net restored the last finite weights: keep a usable model
                net.notify("on_train_end", X=None, y=None)
                self._record_fit(net, n_before, device, early)
                raise
            except torch.cuda.OutOfMemoryError as exc:
                raise MemoryError(
                    f"CUDA ran out of memory training with batch_size="
                    f"{self.batch_size_}; try batch_size={self.batch_size_ // 2 or 1}"
                    ", a smaller hidden_size, or shorter sequences."
                ) from exc
            except RuntimeError as exc:
                if not _is_cpu_oom(exc):
                    raise
                raise MemoryError(
                    f"Out of memory training on the CPU with batch_size="
                    f"{self.batch_size_}; try batch_size={self.batch_size_ // 2 or 1}"
                    ", a smaller hidden_size, shorter sequences (patches) or fewer "
                    "parallel jobs."
                ) from exc
            finally:
                net.train_split = None  # do not keep the validation data alive
                del train, valid
                if device.startswith("cuda"):
                    torch.cuda.empty_cache()  # hand the batches' memory back
        self._record_fit(net, n_before, device, early)
        if sigint.received:
            # skorch stopped at Ctrl-C and kept a usable model; the caller (a
            # script, a search) must stop too
            raise KeyboardInterrupt
        if key is not None:
            _cache.store(self.epoch_cache, key, self)
        return self

    def _resolve_training(self, n_train: int, *, incremental: bool) -> None:
        """The ``"auto"`` schedule, batch size and epochs for ``n_train`` rows."""
        # "auto": cosine annealing over a fit; a constant rate for partial_fit,
        # whose calls have no end to anneal towards
        auto_schedule = None if incremental else "cosine"
        self.lr_scheduler_ = (
            auto_schedule if self.lr_scheduler == "auto" else self.lr_scheduler
        )
        self.batch_size_ = _build.resolve_batch_size(self.batch_size, n_train)
        self.max_epochs_ = _build.resolve_max_epochs(
            self.max_epochs, n_train, self.batch_size_
        )

    def _new_net(
        self, train: SequenceDataset, device: str, seed: int, *, early_stopping: bool
    ) -> SequenceNet:
        """A fresh, initialized net (call under ``seed_torch(seed)``)."""
        net = _build.build_net(
            self,
            input_size=self._network_input_size(),
            output_size=self._n_outputs(),
            criterion=self._criterion(train),
            device=device,
            seed=seed,
            n_train=len(train),
            early_stopping=early_stopping,
        )
        return net.initialize()

    def _update_criterion(self, net: SequenceNet, train: SequenceDataset) -> None:
        """Copy a freshly computed criterion's buffers (class weights) over."""
        fresh = self._criterion(train)
        for name, buffer in fresh.named_buffers():
            setattr(net.criterion_, name, buffer.to(net.device))
        for name, _ in list(net.criterion_.named_buffers()):
            if dict(fresh.named_buffers()).get(name) is None:
                setattr(net.criterion_, name, None)

    def _n_threads(self) -> int:
        """Torch threads for this model's fit and predict."""
        if self.n_threads is not None:
            return int(self.n_threads)
        width = int(self.embedding_dim or self.input_size_)
        batch = getattr(self, "batch_size_", None)
        if batch is None:
            batch = 64 if self.batch_size == "auto" else int(self.batch_size)
        return auto_threads(int(batch), width, int(self.hidden_size))

    def _resume_from_cache(self, key: str) -> tuple[bool, int | None]:
        """Take the fitted state of the longest cached shorter fit, if any.

        Returns whether a state was taken and how many epochs remain.
        """
        cached = _cache.lookup(self.epoch_cache, key, self.max_epochs_)
        if cached is None:
            return False, None
        params = self.get_params(deep=False)
        for name, value in vars(cached).items():
            if name not in params and name not in _RESOLVED:
                setattr(self, name, value)
        done = len(self.history_)
        self.n_iter_ = 0
        return True, self.max_epochs_ - done

    def _load_pretrained(self, module: LSTMNetwork) -> None:
        """Copy the recurrent (and embedding) weights of ``init_from``."""
        source = self.init_from
        if isinstance(source, (str, os.PathLike)):
            from sklstm._persist import load

            source = load(source)
        check_is_fitted(source, msg="init_from must be a fitted sklstm estimator.")
        src = getattr(getattr(source, "net_", None), "module_", None)
        if not isinstance(src, LSTMNetwork):
            raise ValueError("init_from must be a fitted sklstm estimator.")
        for part in ("lstm", "embedding"):
            mine, theirs = getattr(module, part), getattr(src, part)
            if mine is None and theirs is None:
                continue
            try:
                mine.load_state_dict(theirs.state_dict())
            except (AttributeError, RuntimeError) as exc:
                raise ValueError(
                    f"init_from: the pretrained {part} layers do not fit this model "
                    "(use the same hidden_size, num_layers, bidirectional, "
                    "embedding_dim and input features as the pretrained one): "
                    f"{str(exc).splitlines()[0]}"
                ) from None

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
        from sklstm._persist import save

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
        from sklstm._persist import load

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
        return clone_

    def _record_fit(
        self, net: SequenceNet, n_before: int, device: str, early: bool
    ) -> None:
        self.reset_states()
        self.net_ = net
        self.device_ = device
        self.history_ = net.history
        self.n_iter_ = len(net.history) - n_before

        # an interrupted epoch may lack its losses: read what was recorded
        def column(key: str, start: int = 0) -> list[float]:
            return [float(row[key]) for row in net.history[start:] if key in row]

        self.loss_curve_ = column("train_loss")
        self.validation_loss_curve_ = None
        self.validation_scores_ = None
        self.best_validation_score_ = None
        self.best_epoch_ = len(net.history)
        if early:
            self.validation_loss_curve_ = column("valid_loss", n_before)
            self.validation_scores_ = column("valid_score", n_before)
            stopper = dict(net.callbacks_)["early_stopping"]
            if stopper.best_epoch_:
                self.best_epoch_ = int(stopper.best_epoch_)
            best = net.history[self.best_epoch_ - 1]
            self.best_validation_score_ = best.get("valid_score")
            net.drop_best_weights_copy()
        self.n_parameters_ = sum(p.numel() for p in net.module_.parameters())

    # ------------------------------------------------------------- predicting
    def _predict_raw(self, X) -> np.ndarray:
        """Float64 network outputs for ``X``, computed in float32."""
        check_is_fitted(self)
        data = self._check_X(X, reset=False)
        threads = self._n_threads()
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
        chunk = hashlib.sha1(data.X.cpu().numpy().tobytes()).hexdigest()
        chunk += str(tuple(data.X.shape))
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


def _is_cpu_oom(exc: RuntimeError) -> bool:
    text = str(exc)
    return "DefaultCPUAllocator" in text or "not enough memory" in text


__all__ = ["_BaseLSTM"]
