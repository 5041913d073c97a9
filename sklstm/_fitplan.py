"""The one preparation of a fit, and the one run of it.

``fit``, ``partial_fit``, a warm start, the epoch cache and grouped training
all prepare a fit with :func:`plan_fit`: parameters checked (on every call,
``partial_fit`` included), inputs and targets validated, ``"auto"`` sizes
resolved, device and seed chosen, the validation split made and the epoch
cache consulted. The result is a plain :class:`FitPlan`; :func:`new_net`
builds the seeded net a fresh fit starts from and :func:`run_fit` trains it.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch.helper import predefined_split

from sklstm._data import SequenceDataset
from sklstm._engine import _build
from sklstm._engine._module import LSTMNetwork
from sklstm._engine._net import SequenceNet, TrainingDivergedError
from sklstm._engine._runtime import (
    out_of_memory_as,
    resolve_device,
    reuse_heap,
    seeded,
    torch_threads,
    watch_sigint,
)
from sklstm._params import check_parameters
from sklstm._sklearn_private import _check_sample_weight, _num_samples
from sklstm.io import _cache

# fitted attributes resolved from "auto" parameters for each fit
RESOLVED = ("batch_size_", "max_epochs_", "lr_scheduler_")


@dataclass
class FitPlan:
    """Everything a fit needs, decided before any training.

    ``train``/``valid`` are on the CPU until :func:`run_fit` moves them to
    ``device``; ``epochs`` is None for a whole
    fit of ``max_epochs_`` epochs; ``warm`` continues the fitted net;
    ``resumed`` marks a state taken from the epoch cache; ``finished`` a
    cached fit that needs no more epochs.
    """

    train: SequenceDataset
    valid: SequenceDataset | None
    targets: np.ndarray
    device: str
    seed: int
    epochs: int | None
    warm: bool
    incremental: bool
    early_stopping: bool
    cache_key: str | None = None
    resumed: bool = False
    finished: bool = False


# ------------------------------------------------- fits trained ahead of time
# (estimator, result) that the estimator's next fit adopts: a fit trained in
# a group (sklstm.model_selection, joblib backend "sklstm"); a list, so that
# the first fit takes it and a second fit of the same object trains
_PRETRAINED: ContextVar[list | None] = ContextVar("sklstm_pretrained", default=None)


@contextmanager
def pretrained(estimator, result):
    """Within the block, the next ``fit`` of ``estimator`` adopts ``result``.

    ``result`` is an estimator fitted with the same parameters on the same
    data (its fitted attributes are taken over), or the exception that fit
    raised (raised again, so a search's ``error_score`` applies). Only a
    full ``fit`` of that very object adopts it, once.
    """
    token = _PRETRAINED.set([estimator, result])
    try:
        yield
    finally:
        _PRETRAINED.reset(token)


def adopt_pretrained(est) -> bool:
    """Take over the result bound to ``est`` by :func:`pretrained`, if any."""
    slot = _PRETRAINED.get()
    if slot is None or slot[0] is not est:
        return False
    result = slot[1]
    slot[0] = slot[1] = None
    if isinstance(result, BaseException):
        raise result
    params = result.get_params(deep=False)
    for name, value in vars(result).items():
        if name not in params:
            setattr(est, name, value)
    return True


# ------------------------------------------------------------------ planning
def plan_fit(
    est, X, y, sample_weight=None, *, epochs=None, classes=None, cache=True
) -> FitPlan:
    """Check, validate and decide everything a fit of ``est`` needs.

    ``epochs=1`` is ``partial_fit``. Records what the data fixes on the
    estimator (``input_size_``, ``classes_``, target scaling, resolved sizes)
    as scikit-learn's ``validate_data`` records ``n_features_in_``.
    """
    est._check_y_present(y)
    incremental = epochs is not None
    warm = (est.warm_start or incremental) and hasattr(est, "net_")
    check_parameters(est, incremental=incremental)
    if warm:  # refuse an impossible continuation before reading the data
        _build.check_architecture(est, est.net_)
    data, targets = _read_data(
        est, X, y, sample_weight, reset=not warm, classes=classes
    )
    # early stopping is off under partial_fit (one epoch per call), as in
    # scikit-learn's MLP
    early = bool(est.early_stopping) and not incremental
    n = len(data)
    n_train = n - int(np.ceil(est.validation_fraction * n)) if early else n
    resolve_training(est, n_train, incremental=incremental)
    plan = FitPlan(
        train=data,
        valid=None,
        targets=targets,
        device=resolve_device(est.device),
        seed=int(check_random_state(est.random_state).randint(np.iinfo(np.int32).max)),
        epochs=epochs,
        warm=warm,
        incremental=incremental,
        early_stopping=early,
    )
    if cache and est.epoch_cache is not None and not incremental and not warm:
        _consult_cache(est, plan, data)
    if early:
        tr, va = split_indices(est, targets, n, plan.seed)
        plan.train, plan.valid = data.subset(tr), data.subset(va)
    if est.norm == "batch" and len(plan.train) < 2:
        raise ValueError(
            f"norm='batch' needs at least 2 training samples, got "
            f"{len(plan.train)}; use norm='layer' or more data."
        )
    return plan


def _read_data(est, X, y, sample_weight, *, reset: bool, classes):
    """Validated inputs with their target (and weight) tensors attached."""
    data = est._check_X(X, reset=reset)
    if _num_samples(y) != len(data):
        raise ValueError(
            f"Found input variables with inconsistent numbers of samples: "
            f"[{len(data)}, {_num_samples(y)}]"
        )
    targets = est._check_target(y, data, fit=reset, classes=classes)
    est._check_length(data, targets)
    sw = check_sample_weight(sample_weight, len(data))
    if reset:  # on the rows that count: a weight of 0 leaves a row out
        est.series_norm_ = _build.resolve_series_norm(est, data, sw)
        est.asinh_view_ = _build.resolve_asinh_view(est, data, sw)
    if sw is not None:
        data.weight = torch.from_numpy(sw.astype(np.float32))
    data.y = est._target_tensor(targets, sw, reset=reset)
    data.per_step = bool(est.return_sequences)
    return data, targets


def resolve_training(est, n_train: int, *, incremental: bool) -> None:
    """The ``"auto"`` schedule, batch size and epochs for ``n_train`` rows."""
    # "auto": cosine annealing over a fit; a constant rate for partial_fit,
    # whose calls have no end to anneal towards
    auto_schedule = None if incremental else "cosine"
    est.lr_scheduler_ = (
        auto_schedule if est.lr_scheduler == "auto" else est.lr_scheduler
    )
    conv = getattr(est, "conv_branch_", False)
    batch = _build.resolve_batch_size(est.batch_size, n_train, conv=conv)
    n_classes = len(getattr(est, "classes_", ())) if conv else 0
    est.batch_size_ = _build.class_batch(est.batch_size, batch, n_classes, n_train)
    est.max_epochs_ = _build.resolve_max_epochs(
        est.max_epochs, n_train, batch, conv=conv
    )
    if est.max_epochs == "auto" and est.batch_size_ > batch:
        # the larger batch for many classes keeps the optimizer steps of the
        # rule, within CLASS_BATCH_MAX_PASSES times the epochs (and the time)
        # the batch for n_train would have had
        steps = _build.resolve_max_epochs("auto", n_train, est.batch_size_, conv=conv)
        est.max_epochs_ = min(steps, _build.CLASS_BATCH_MAX_PASSES * est.max_epochs_)


def check_sample_weight(sample_weight, n: int) -> np.ndarray | None:
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


def split_indices(est, y: np.ndarray, n: int, seed: int):
    """Train and validation row indices for early stopping."""
    how = est.validation_split
    if how == "auto":
        how = "stratified" if hasattr(est, "classes_") else "random"
    n_valid = int(np.ceil(est.validation_fraction * n))
    if n_valid < 1 or n - n_valid < 1:
        raise ValueError(
            f"early_stopping needs at least 2 samples to split off a validation "
            f"set (validation_fraction={est.validation_fraction}, n_samples={n})."
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


def _consult_cache(est, plan: FitPlan, data: SequenceDataset) -> None:
    """Continue from the longest cached shorter fit of this same fit, if any."""
    # before any training: a search must not train, then fail to store
    _cache.check_writable(est.epoch_cache)
    if plan.early_stopping:  # a stopped run cannot be continued
        return
    plan.cache_key = _cache.cache_key(est, data, plan.targets)
    cached = _cache.lookup(est.epoch_cache, plan.cache_key, est.max_epochs_)
    if cached is None:
        return
    params = est.get_params(deep=False)
    for name, value in vars(cached).items():
        if name not in params and name not in RESOLVED:
            setattr(est, name, value)
    est.n_iter_ = 0
    plan.warm = plan.resumed = True
    plan.epochs = est.max_epochs_ - len(est.history_)
    plan.finished = plan.epochs == 0


# ------------------------------------------------------------------ the net
def new_net(est, plan: FitPlan) -> SequenceNet:
    """The initialized net a fresh fit starts from; call it under
    ``seeded(plan.seed, plan.device)`` for the fit's initial weights.

    A network that clearly cannot train in the device's memory is refused
    with a ``MemoryError`` naming its size and what to lower, before
    anything is allocated.
    """
    X = plan.train.X
    source = None
    if est.init_from is not None:
        source = pretrained_source(est.init_from)
        if isinstance(est.series_norm, str):
            est.series_norm_ = _series_norm_like(est, source)
        if isinstance(est.asinh_view, str):  # the pretrained layers' input
            numeric = est.embedding_dim is None  # never ask for what cannot be
            est.asinh_view_ = numeric and bool(
                getattr(source.net_.module_, "asinh", False)
            )
    _build.check_memory(
        est,
        est.input_size_,
        est._n_outputs(),
        batch=min(int(est.batch_size_), len(X)),
        steps=int(X.shape[1]) if X.ndim > 1 else 1,
        device=plan.device,
    )
    net = _build.build_net(
        est,
        input_size=est.input_size_,
        output_size=est._n_outputs(),
        criterion=est._criterion(plan.train),
        device=plan.device,
        seed=plan.seed,
        n_train=len(plan.train),
        early_stopping=plan.early_stopping,
    )
    with out_of_memory_as("building the network; lower hidden_size or num_layers."):
        net.initialize()
    train = plan.train
    if net.module_.asinh:  # first: the statistics are of the viewed rows
        net.module_.fit_asinh(train.X, train.lengths, train.weight)
    if net.module_.series_norm:
        net.module_.fit_statistics(train.X, train.lengths, train.weight)
    if source is not None:
        load_pretrained(source, net.module_, freeze=bool(est.freeze))
    return net


def pretrained_source(source):
    """``init_from`` as a fitted estimator (a path is loaded)."""
    if isinstance(source, (str, os.PathLike)):
        from sklstm.io._persist import load

        source = load(source)
    check_is_fitted(source, msg="init_from must be a fitted sklstm estimator.")
    if not isinstance(
        getattr(getattr(source, "net_", None), "module_", None), LSTMNetwork
    ):
        raise ValueError("init_from must be a fitted sklstm estimator.")
    return source


def _series_norm_like(est, source) -> bool:
    """``series_norm="auto"`` under ``init_from``: what lets the pretrained
    layers read what they learned on (see :func:`_check_same_inputs`)."""
    src = source.net_.module_
    if not est.series_norm_ and (
        est.return_sequences or est.stateful or est.embedding_dim is not None
    ):
        return False  # it cannot have one: a pretrained copy-reader is refused
    if not est.conv_branch_:  # the LSTM would read the copy
        return src.lstm_reads_copy
    if getattr(src, "conv", None) is not None:  # the branch reads it
        return src.series_norm
    return bool(est.series_norm_)  # the LSTM reads the input either way


def load_pretrained(source, module: LSTMNetwork, *, freeze: bool = False) -> None:
    """Copy the pretrained parts of ``source`` into ``module``: the LSTM, the
    embedding, and the convolutional branch when both networks have one
    (weights and batch normalization's running statistics)."""
    src = pretrained_source(source).net_.module_
    _check_same_inputs(module, src)
    for part, same in _PRETRAINED_PARTS.items():
        mine, theirs = getattr(module, part, None), getattr(src, part, None)
        if mine is None and theirs is None:
            continue
        if part == "conv" and (mine is None or theirs is None):
            if mine is not None and freeze:
                raise ValueError(
                    "init_from: the pretrained model has no convolutional branch, "
                    "so freeze would hold this model's branch at its random "
                    "start. Use freeze=False (the branch then trains from "
                    "scratch), conv_branch=False, or a source fitted with it."
                )
            continue  # trained from scratch, or the source's is left out
        if part == "conv":
            _check_same_windows(mine, theirs)
        try:
            mine.load_state_dict(theirs.state_dict())
        except (AttributeError, RuntimeError) as exc:
            raise ValueError(
                f"init_from: the pretrained {part} layers do not fit this model "
                f"(use the same {same} as the pretrained one). "
                f"torch says: {' '.join(str(exc).split())}"
            ) from None


def _check_same_windows(mine, theirs) -> None:
    """A transferred branch's filters mean what they learned only over the
    windows they learned on: the same stride and pooling."""
    for attr, param, what in (
        ("stride", "conv_stride", "strides its first block by"),
        ("pool_sizes", "conv_pool_size", "pools between blocks by"),
    ):
        if getattr(mine, attr) != getattr(theirs, attr):
            raise ValueError(
                f"init_from: the pretrained convolutional branch {what} "
                f"{getattr(theirs, attr)}, this model by {getattr(mine, attr)}: "
                "its blocks would read other steps than they learned. Set "
                f"{param}={getattr(theirs, attr)}."
            )


def _check_same_inputs(module: LSTMNetwork, src: LSTMNetwork) -> None:
    """The pretrained LSTM and branch read what this model's would read:
    with ``series_norm``, the standardized copy goes to the branch when there
    is one, else beside the LSTM's input."""
    if module.asinh != getattr(src, "asinh", False):
        raise ValueError(
            "init_from: the pretrained layers read "
            + ("each feature beside its asinh view" if src.asinh else "the input")
            + ", this model's would read "
            + ("each feature beside its asinh view" if module.asinh else "the input")
            + (
                f". Set asinh_view={bool(src.asinh)}."
                if module.embedding is None
                else ": a model of token ids cannot read the view; pretrain "
                "without it (asinh_view=False)."
            )
        )
    mine, theirs = module.lstm_reads_copy, src.lstm_reads_copy
    if mine != theirs:
        reads = {True: "each step beside its standardized copy", False: "the input"}
        raise ValueError(
            f"init_from: the pretrained LSTM reads {reads[theirs]}, this model's "
            f"would read {reads[mine]} (series_norm's copy goes to the "
            "convolutional branch when there is one, else beside the LSTM's "
            "input). "
            + (
                "Set series_norm=True and conv_branch=False."
                if theirs
                else "Set series_norm=False (or conv_branch=True)."
            )
        )
    both = module.conv is not None and getattr(src, "conv", None) is not None
    if both and module.series_norm != src.series_norm:
        reads = {True: "each series standardized", False: "the input"}
        raise ValueError(
            f"init_from: the pretrained convolutional branch reads "
            f"{reads[src.series_norm]}, this model's would read "
            f"{reads[module.series_norm]}. Set series_norm={src.series_norm}."
        )


# what each pretrained part needs to match
_PRETRAINED_PARTS = {
    "lstm": "hidden_size, num_layers, bidirectional, embedding_dim and input features",
    "embedding": "embedding_dim and vocabulary",
    "conv": "conv_filters, conv_kernel_sizes and input features",
}


def _continued_net(est, plan: FitPlan) -> SequenceNet:
    """The fitted net with the current parameters applied for more epochs."""
    net = est.net_
    _build.update_net(
        est,
        net,
        plan.device,
        n_train=len(plan.train),
        early_stopping=plan.early_stopping,
        incremental=plan.incremental or plan.resumed,
    )
    if not plan.incremental:  # class weights follow this fit's labels
        net.set_criterion_buffers(est._criterion(plan.train))
    return net


# ------------------------------------------------------------------ running
def run_fit(est, plan: FitPlan):
    """Train as planned and record the fitted state on ``est``."""
    if plan.finished:
        return est
    plan.train = plan.train.to(plan.device)
    if plan.valid is not None:
        plan.valid = plan.valid.to(plan.device)
    reuse_heap()
    with torch_threads(est._n_threads()), seeded(plan.seed, plan.device):
        net = _continued_net(est, plan) if plan.warm else new_net(est, plan)
        split = predefined_split(plan.valid) if plan.valid is not None else None
        net.set_params(train_split=split)
        n_before = len(net.history)
        batch = est.batch_size_
        advice = (
            f"training with batch_size={batch}; try batch_size={batch // 2 or 1}, "
            "a smaller hidden_size, shorter sequences (patches) or fewer parallel "
            "jobs."
        )
        try:
            with watch_sigint() as sigint, out_of_memory_as(advice):
                net.partial_fit(plan.train, None, epochs=plan.epochs)
        except TrainingDivergedError:
            # the net restored the last finite weights: keep a usable model
            net.notify("on_train_end", X=None, y=None)
            record_fit(est, net, n_before, plan)
            raise
        finally:
            net.set_params(train_split=None)  # do not keep the validation data
            plan.train = plan.valid = None
            if plan.device.startswith("cuda"):
                torch.cuda.empty_cache()  # hand the batches' memory back
    record_fit(est, net, n_before, plan)
    if sigint.received:
        # skorch stopped at Ctrl-C and kept a usable model; the caller (a
        # script, a search) must stop too
        raise KeyboardInterrupt
    if plan.cache_key is not None:
        _cache.store(est.epoch_cache, plan.cache_key, est)
    return est


def record_fit(est, net: SequenceNet, n_before: int, plan: FitPlan) -> None:
    """The fitted attributes of ``est`` after ``net`` trained."""
    est.reset_states()
    est.net_ = net
    est.device_ = plan.device
    est.history_ = net.history
    est.n_iter_ = len(net.history) - n_before

    # an interrupted epoch may lack its losses: read what was recorded
    def column(key: str, start: int = 0) -> list[float]:
        return [float(row[key]) for row in net.history[start:] if key in row]

    est.loss_curve_ = column("train_loss")
    est.validation_loss_curve_ = None
    est.validation_scores_ = None
    est.best_validation_score_ = None
    est.best_epoch_ = len(net.history)
    if plan.early_stopping:
        est.validation_loss_curve_ = column("valid_loss", n_before)
        est.validation_scores_ = column("valid_score", n_before)
        est.best_epoch_ = net.early_stopping_epoch() or est.best_epoch_
        est.best_validation_score_ = net.history[est.best_epoch_ - 1].get("valid_score")
        net.drop_best_weights_copy()
    est.n_parameters_ = sum(p.numel() for p in net.module_.parameters())
