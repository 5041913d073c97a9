"""Shared estimator plumbing: parameters, validation, and building the skorch net."""

from __future__ import annotations

import copy
import os
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    _num_samples,
    check_is_fitted,
)
from skorch.callbacks import (
    Callback,
    EarlyStopping,
    Freezer,
    LRScheduler,
    Unfreezer,
)
from skorch.helper import predefined_split

from sklstm._cache import cache_key
from sklstm._cache import lookup as cache_lookup
from sklstm._cache import store as cache_store
from sklstm._callbacks import TensorBoardLogger, silent, to_stderr
from sklstm._data import SequenceDataset
from sklstm._module import _ACTIVATIONS, LSTMNetwork
from sklstm._net import SequenceNet, TrainingDivergedError
from sklstm._threads import auto_threads, torch_threads
from sklstm._validation import check_sequences

_OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}
_SCHEDULERS = {"plateau", "cosine", "step", "onecycle", "exponential"}
_MAX_VOCAB = 10_000_000


def _check_scheduler(policy: type, kwargs: dict, lr: float) -> None:
    """Build and step the schedule once on a dummy optimizer: bad params fail here."""
    probe = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scheduler = policy(probe, **kwargs)
            probe.step()
            if policy is torch.optim.lr_scheduler.ReduceLROnPlateau:
                scheduler.step(0.0)
            else:
                scheduler.step()
    except (TypeError, ValueError, ZeroDivisionError, KeyError) as exc:
        raise ValueError(
            f"lr_scheduler_params do not fit {policy.__name__}: {exc}"
        ) from None


class _BaseLSTM(BaseEstimator):
    """Base class of the LSTM estimators. Not for direct use."""

    _parameter_constraints: dict = {
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "bidirectional": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "head_units": [tuple, list],
        "head_activation": [StrOptions(set(_ACTIVATIONS))],
        "norm": [StrOptions({"layer", "batch"}), None],
        "return_sequences": ["boolean"],
        "stateful": ["boolean"],
        "embedding_dim": [Interval(Integral, 1, None, closed="left"), None],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), callable],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "l1": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "bucket_by_length": ["boolean"],
        "lr_scheduler": [StrOptions(_SCHEDULERS), None],
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
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
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
        optimizer: str | type = "adam",
        lr: float = 1e-3,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        l1: float = 0.0,
        batch_size: int = 64,
        max_epochs: int = 50,
        shuffle: bool = True,
        bucket_by_length: bool = False,
        lr_scheduler: str | None = None,
        lr_scheduler_params: dict | None = None,
        gradient_clip: float | None = None,
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

    # ------------------------------------------------------------------ input
    def _check_X(self, X, *, reset: bool) -> SequenceDataset:
        """Validate ``X`` into tensors; on ``reset`` record the input's shape."""
        tokens = self.embedding_dim is not None
        dtype = np.int64 if tokens else np.float32
        # token ids are free-length text, never fixed columns
        values, lengths, _ = check_sequences(self, X, reset=reset, free_length=tokens)
        if tokens:
            values = self._check_tokens(values, reset=reset)
            if values.ndim == 3:
                raise ValueError(
                    "With embedding_dim set, X holds token ids: give 2D "
                    "(n_samples, n_timesteps) or a list of 1D id sequences."
                )
        else:
            if values.dtype == np.float64 and values.size:
                top = max(values.max(), -values.min())  # no temporary copy
                if top > np.finfo(np.float32).max:
                    raise ValueError(
                        f"X holds values up to {top:.3g}, beyond float32 (the "
                        "precision sklstm computes in); rescale X, e.g. with "
                        "sklstm.preprocessing.SequenceScaler."
                    )
            if values.ndim == 2:
                values = values[:, :, None]
        X_t = torch.from_numpy(np.require(values, dtype=dtype, requirements=["C", "W"]))
        return SequenceDataset(
            X_t, None if lengths is None else torch.from_numpy(lengths)
        )

    def _check_tokens(self, values: np.ndarray, *, reset: bool) -> np.ndarray:
        if not np.array_equal(values, np.round(values)) or values.min() < 0:
            raise ValueError(
                "With embedding_dim set, X must hold non-negative integer token ids "
                "(0 is padding); use sklstm.preprocessing.TextSequencer for text."
            )
        top = int(values.max())
        if top >= _MAX_VOCAB:
            raise ValueError(
                f"X holds token id {top}; ids must be below {_MAX_VOCAB:,} (each id "
                "gets an embedding row). Map tokens to dense ids, e.g. with "
                "sklstm.preprocessing.TextSequencer."
            )
        if reset:
            self.vocab_size_ = top + 1
        elif top >= self.vocab_size_:
            raise ValueError(
                f"X holds token id {top}, but the vocabulary seen in fit has "
                f"{self.vocab_size_} ids; map unknown tokens to an "
                "out-of-vocabulary id."
            )
        return values

    def _check_y_present(self, y) -> None:
        if y is None:
            raise ValueError(
                f"This {type(self).__name__} estimator requires y to be passed, "
                "but the target y is None."
            )

    def _check_length(self, data: SequenceDataset, y: np.ndarray) -> None:
        """Per-step targets must match the sequences (sample counts are checked
        in ``_fit``, before the labels are read)."""
        if self.return_sequences:
            if y.ndim < 2 or y.shape[1] != data.X.shape[1]:
                raise ValueError(
                    "With return_sequences=True, y needs one target per time step: "
                    f"shape (n_samples, {data.X.shape[1]}[, n_outputs]), got {y.shape}."
                )
            if data.lengths is not None:
                raise ValueError(
                    "return_sequences=True needs equal-length sequences; pad them "
                    "to one length first."
                )

    # --------------------------------------------------------------- training
    def _resolve_device(self) -> str:
        device = str(self.device)
        if device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        try:
            kind = torch.device(device).type
        except RuntimeError as exc:
            raise ValueError(f"Unknown device {self.device!r}: {exc}") from exc
        if kind not in ("cpu", "cuda"):
            raise ValueError(
                f"device={self.device!r} is not supported; use 'cpu', 'cuda', "
                "'cuda:<index>' or 'auto'."
            )
        if kind == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                f"device={self.device!r} but CUDA is not available; use device='cpu' "
                "or device='auto'."
            )
        return device

    def _check_head_units(self) -> tuple[int, ...]:
        units = tuple(self.head_units)
        if not all(
            isinstance(u, Integral) and not isinstance(u, bool) and u >= 1
            for u in units
        ):
            raise ValueError(
                "head_units must be a tuple of positive integers, got "
                f"{self.head_units!r}."
            )
        return tuple(int(u) for u in units)

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

    def _optimizer_spec(self, device: str) -> tuple[type, dict]:
        if isinstance(self.optimizer, str):
            cls = _OPTIMIZERS[self.optimizer]
        else:
            cls = self.optimizer
        kwargs: dict = {"weight_decay": self.weight_decay}
        if cls in (torch.optim.SGD, torch.optim.RMSprop):
            kwargs["momentum"] = self.momentum
        if cls in (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD):
            kwargs["fused"] = True  # one kernel per step instead of one per tensor
        return cls, kwargs

    def _scheduler_callback(self, n_batches: int, monitor: str) -> LRScheduler | None:
        if self.lr_scheduler is None:
            return None
        params = dict(self.lr_scheduler_params or {})
        epochs = self.max_epochs
        sched = torch.optim.lr_scheduler
        defaults = {
            "plateau": (sched.ReduceLROnPlateau, {"factor": 0.5, "patience": 5}),
            "cosine": (sched.CosineAnnealingLR, {"T_max": epochs}),
            "step": (sched.StepLR, {"step_size": max(1, epochs // 3), "gamma": 0.1}),
            "exponential": (sched.ExponentialLR, {"gamma": 0.95}),
            "onecycle": (
                sched.OneCycleLR,
                {"max_lr": self.lr, "total_steps": epochs * n_batches},
            ),
        }
        policy, kwargs = defaults[self.lr_scheduler]
        kwargs.update(params)
        _check_scheduler(policy, kwargs, self.lr)
        if self.lr_scheduler == "plateau":
            kwargs["monitor"] = monitor
        step_every = "batch" if self.lr_scheduler == "onecycle" else "epoch"
        return LRScheduler(policy=policy, step_every=step_every, **kwargs)

    def _make_callbacks(self, n_train: int) -> list:
        """The skorch callbacks of one fit, made fresh from the parameters."""
        monitor = "valid_loss" if self.early_stopping else "train_loss"
        callbacks = []
        if self.early_stopping:
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor="valid_loss",
                        patience=int(self.n_iter_no_change),
                        threshold=self.tol,
                        threshold_mode="abs",
                        load_best=True,
                        sink=to_stderr if self.verbose else silent,
                    ),
                )
            )
        if self.freeze:
            pretrained = ["lstm.*", "embedding.*"]
            callbacks.append(("freeze", Freezer(pretrained, at=1)))
            if not isinstance(self.freeze, (bool, np.bool_)):
                # an int: unfreeze after that many epochs
                at = int(self.freeze) + 1
                callbacks.append(("unfreeze", Unfreezer(pretrained, at=at)))
        if self.tensorboard_dir is not None:
            callbacks.append(
                ("tensorboard", TensorBoardLogger(str(self.tensorboard_dir)))
            )
        n_batches = -(-n_train // self.batch_size)  # ceil: the last batch counts
        scheduler = self._scheduler_callback(n_batches, monitor)
        if scheduler is not None:
            callbacks.append(("lr_scheduler", scheduler))
        for cb in self.callbacks or []:
            item = cb[1] if isinstance(cb, tuple) and len(cb) == 2 else cb
            if not isinstance(item, Callback):
                raise TypeError(
                    f"callbacks must hold skorch callbacks (or (name, callback) "
                    f"pairs), got {cb!r}."
                )
        # deep copies: a search or clone must never share callback state between fits
        return callbacks + [copy.deepcopy(cb) for cb in self.callbacks or []]

    def _build_net(self, *, input_size, output_size, criterion, device, seed, n_train):
        opt_cls, opt_kwargs = self._optimizer_spec(device)
        return SequenceNet(
            module=LSTMNetwork,
            module__input_size=input_size,
            module__output_size=output_size,
            module__hidden_size=int(self.hidden_size),
            module__num_layers=int(self.num_layers),
            module__bidirectional=self.bidirectional,
            module__dropout=self.dropout,
            module__head_units=self._check_head_units(),
            module__head_activation=self.head_activation,
            module__norm=self.norm,
            module__return_sequences=self.return_sequences,
            module__vocab_size=getattr(self, "vocab_size_", None),
            module__embedding_dim=(
                None if self.embedding_dim is None else int(self.embedding_dim)
            ),
            criterion=criterion,
            optimizer=opt_cls,
            lr=self.lr,
            **{f"optimizer__{k}": v for k, v in opt_kwargs.items()},
            max_epochs=int(self.max_epochs),
            batch_size=int(self.batch_size),
            train_split=None,
            callbacks=self._make_callbacks(n_train),
            device=device,
            verbose=self.verbose,
            l1=self.l1,
            gradient_clip=self.gradient_clip,
            gradient_clip_value=self.gradient_clip_value,
            shuffle=self.shuffle,
            bucket_by_length=self.bucket_by_length,
            seed=seed,
            min_batch=2 if self.norm == "batch" else 1,
            # CPU: cache-sized chunks are fastest; GPU: big ones fill the device
            predict_batch_size=512 if device == "cpu" else 8192,
        )

    def _fit(self, X, y, sample_weight=None, *, epochs=None, classes=None):
        self._check_y_present(y)
        warm = (self.warm_start or epochs is not None) and hasattr(self, "net_")
        data = self._check_X(X, reset=not warm)
        if _num_samples(y) != len(data):
            raise ValueError(
                f"Found input variables with inconsistent numbers of samples: "
                f"[{len(data)}, {_num_samples(y)}]"
            )
        y_arr = self._check_target(y, data, fit=not warm, classes=classes)
        self._check_length(data, y_arr)
        n = len(data)
        sw = None
        if sample_weight is not None:
            if hasattr(sample_weight, "__len__") and len(sample_weight) != n:
                raise ValueError(
                    f"sample_weight has {len(sample_weight)} entries but X has {n} "
                    "samples; give one weight per sample."
                )
            sw = _check_sample_weight(
                sample_weight, np.empty(n), ensure_non_negative=True
            )
            if not np.isfinite(sw).all():
                raise ValueError("sample_weight contains NaN or infinity.")
            if sw.sum() <= 0:
                raise ValueError("sample_weight sums to zero; no sample would count.")
            # mean 1: weights set each sample's share without changing the step size
            # (scaled by the largest first, so huge weights cannot overflow the sum)
            sw = sw / sw.max()
            data.weight = torch.from_numpy((sw / sw.mean()).astype(np.float32))
        data.y = self._target_tensor(y_arr, sw, reset=not warm)
        key = None
        if self.epoch_cache is not None and epochs is None and not warm:
            if not self.early_stopping:  # a stopped run cannot be continued
                key = cache_key(self, data)
                warm, epochs = self._resume_from_cache(key)
                if warm and epochs == 0:
                    return self

        device = self._resolve_device()
        seed = int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )
        train, valid = data, None
        if self.early_stopping:
            tr, va = self._split_indices(y_arr, n, seed)
            train, valid = data.subset(tr), data.subset(va)
        if self.norm == "batch" and self.batch_size < 2:
            raise ValueError(
                "norm='batch' needs batches of at least 2 samples; use batch_size >= 2 "
                "or norm='layer'."
            )
        if self.norm == "batch" and len(train) < 2:
            raise ValueError(
                f"norm='batch' needs at least 2 training samples, got {len(train)}; "
                "use norm='layer' or more data."
            )
        train, valid = train.to(device), valid.to(device) if valid is not None else None

        threads = self._n_threads()
        cuda = [torch.device(device).index or 0] if device.startswith("cuda") else []
        with torch_threads(threads), torch.random.fork_rng(devices=cuda):
            torch.manual_seed(seed)
            if warm:
                net = self.net_
                net.max_epochs, net.verbose = self.max_epochs, self.verbose
                # callbacks follow the current parameters (e.g. early_stopping)
                net.callbacks = self._make_callbacks(len(train))
                net.initialize_callbacks()
            else:
                net = self._build_net(
                    input_size=self.input_size_,
                    output_size=self._n_outputs(),
                    criterion=self._criterion(data),
                    device=device,
                    seed=seed,
                    n_train=len(train),
                )
                net.initialize()
                if self.init_from is not None:
                    self._load_pretrained(net.module_)
            net.train_split = predefined_split(valid) if valid is not None else None
            n_before = len(net.history)
            try:
                net.partial_fit(train, None, epochs=epochs)
            except TrainingDivergedError:
                # the net restored the last finite weights: keep a usable model
                net.notify("on_train_end", X=None, y=None)
                self._record_fit(net, n_before, device)
                raise
            except torch.cuda.OutOfMemoryError as exc:
                raise MemoryError(
                    f"CUDA ran out of memory training with batch_size="
                    f"{self.batch_size}; try batch_size={max(1, self.batch_size // 2)}"
                    ", a smaller hidden_size, or shorter sequences."
                ) from exc
            finally:
                net.train_split = None  # do not keep the validation data alive
                del train, valid
                if device.startswith("cuda"):
                    torch.cuda.empty_cache()  # hand the batches' memory back
        self._record_fit(net, n_before, device)
        if key is not None:
            cache_store(self.epoch_cache, key, self)
        return self

    def _n_threads(self) -> int:
        """Torch threads for this model's fit and predict."""
        if self.n_threads is not None:
            return self.n_threads
        width = self.embedding_dim or self.input_size_
        return auto_threads(self.batch_size, width, self.hidden_size)

    def _resume_from_cache(self, key: str) -> tuple[bool, int | None]:
        """Take the fitted state of the longest cached shorter fit, if any.

        Returns whether a state was taken and how many epochs remain.
        """
        cached = cache_lookup(self.epoch_cache, key, self.max_epochs)
        if cached is None:
            return False, None
        params = self.get_params(deep=False)
        for name, value in vars(cached).items():
            if name not in params:
                setattr(self, name, value)
        done = len(self.history_)
        self.n_iter_ = 0
        return True, self.max_epochs - done

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

    def __sklearn_clone__(self):
        # init_from is a fitted model to start from: clones share it as it is
        # (sklearn's clone would turn it into an unfitted copy)
        params = self.get_params(deep=False)
        source = params.pop("init_from")
        clone_ = type(self)(
            **{
                k: copy.deepcopy(v) if k == "callbacks" else v
                for k, v in params.items()
            }
        )
        clone_.init_from = source
        if hasattr(self, "_metadata_request"):
            clone_._metadata_request = copy.deepcopy(self._metadata_request)
        return clone_

    def _record_fit(self, net: SequenceNet, n_before: int, device: str) -> None:
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
        if self.early_stopping:
            self.validation_loss_curve_ = column("valid_loss", n_before)
            self.validation_scores_ = column("valid_score", n_before)
            stopper = dict(net.callbacks_)["early_stopping"]
            if stopper.best_epoch_:
                self.best_epoch_ = int(stopper.best_epoch_)
            best = net.history[self.best_epoch_ - 1]
            self.best_validation_score_ = best.get("valid_score")
            stopper.best_model_weights_ = None  # a copy of the weights: drop it
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
        state = getattr(self, "_stream_state", None)
        if state is not None and state[0].shape[1] != len(data):
            raise ValueError(
                f"stateful=True carries one state per stream: this chunk has "
                f"{len(data)} sequences, the previous one had {state[0].shape[1]}. "
                "Call reset_states() to start new streams."
            )
        out, self._stream_state = self.net_.predict_stream(data, state)
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


__all__ = ["_BaseLSTM", "_fit_context"]
