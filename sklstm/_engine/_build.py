"""Estimator parameters -> skorch net: the one mapping.

A fresh fit, a warm fit (``warm_start=True``, ``partial_fit``) and ``load``
all go through here, so a parameter means the same thing in each. This is the
only module that speaks skorch's ``module__*`` / ``optimizer__*`` dialect.
"""

from __future__ import annotations

import copy
import functools
import inspect
import warnings
from numbers import Integral

import numpy as np
import torch
from sklearn.base import is_classifier
from skorch.callbacks import Callback, EarlyStopping, Freezer, Unfreezer

from sklstm._engine._callbacks import (
    ScheduleCallback,
    TensorBoardLogger,
    silent,
    to_stderr,
)
from sklstm._engine._conv import block_shapes, multiply_adds
from sklstm._engine._module import LSTMNetwork
from sklstm._engine._net import SequenceNet, softmax_last
from sklstm._engine._runtime import device_memory
from sklstm._engine._series import MIN_STD, series_moments
from sklstm._engine._sklearn_callbacks import bridge_for

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}
SCHEDULERS = {"plateau", "cosine", "step", "onecycle", "exponential"}

# what the network is made of: fixed once the net exists
ARCHITECTURE = (
    "hidden_size",
    "num_layers",
    "bidirectional",
    "head_units",
    "head_activation",
    "norm",
    "return_sequences",
    "embedding_dim",
    "n_quantiles",  # from loss="quantile" and the number of quantiles
    # the LSTM reads patch_size * input_size values per step; the stride
    # shapes no weight, so it is not listed
    "patch_size",
    "conv_filters",  # () without the convolutional branch
    "conv_kernel_sizes",
    # weightless, but the blocks after the first read pooled steps: their
    # weights mean nothing at another pooling
    "conv_pool_size",
    "conv_stride",  # weightless too: the first block's weights read other windows
    "series_norm",  # the LSTM's input width (without the branch), the head's
    "asinh_view",  # every part's input width
)

# conv_branch="auto": the convolutional branch for numeric sequences of at
# least this many steps (benchmarks/accuracy.py; docs/user_guide/accuracy.md)
CONV_AUTO_MIN_STEPS = 64
# conv_pool_size="auto": pool by longest // CONV_POOL_PER, within 1..CONV_POOL_MAX
# (4 from 64 steps: on all eight collections of benchmarks/accuracy.py as or
# more accurate than 8, 10-45% slower; 16 and 1 were worse on OSULeaf), and
# after the first block at least enough for the second to read at most
# CONV_POOL_TO steps (OSULeaf 427 -> 7, ACSF1 1460 -> 23: as accurate or
# more, and the branch's cost no longer grows with the series' length)
CONV_POOL_PER = 16
CONV_POOL_MAX = 4
CONV_POOL_TO = 64
# conv_stride="auto" (with "auto" pooling): the first block computes every
# CONV_AUTO_STRIDE-th window from CONV_STRIDE_MIN_STEPS steps on, and pools
# the strided sequence down to CONV_POOL_TO steps as before. Its full-length
# outputs (and their batch norm and pooling) were most of a step's time on
# the long collections of benchmarks/accuracy.py (3 seeds, one run): PigCVP
# 0.829 -> 0.835 in 7.0 -> 3.1 s, PLAID 0.867 -> 0.852 in 25.8 -> 16.2 s,
# ACSF1 0.853 -> 0.837 in 2.9 -> 2.3 s; unstrided, PigCVP and PLAID took
# 2.1x and 2.7x the LSTM alone's time. (A stride of 4, scratch: 0.811,
# 0.846, 0.837, hardly faster.) The stride doubles while the first block
# still reads at least CONV_STRIDE_MIN_WINDOWS windows (4 from 2000 steps,
# 8 from 4000), up to the first kernel's width, so that every step is read:
# on PigCVP, with the crop and the per-block layouts, a stride of 4 gave
# 0.942 in 1.8x the LSTM alone's time against 0.938 in 2.2x with 2 (one
# run, 3 seeds); ACSF1 0.877 against 0.887 (scratch), which keeps 2.
CONV_AUTO_STRIDE = 2
CONV_STRIDE_MIN_WINDOWS = 500
CONV_STRIDE_MIN_STEPS = CONV_AUTO_STRIDE * CONV_STRIDE_MIN_WINDOWS
MAX_POOL = 2**20  # weightless, so no memory check bounds it; load accepts up to it
# series_norm="auto": for classifiers, on unless every training series
# already has the same mean and spread per feature (within these shares of
# the typical spread), as the UCR collections shipped z-normalized do: there
# the standardized copy would repeat the input. On the five collections of
# benchmarks/accuracy.py that are not z-normalized (3 seeds): PLAID 0.511 ->
# 0.868, PigCVP 0.357 -> 0.784, JapaneseVowels 0.961 -> 0.980, BasicMotions
# 1.000 -> 1.000, PickupGestureWiimoteZ 0.873 -> 0.827. Off for regressors:
# neutral on Covid3Month (benchmarks/conv_regression.py, RMSE 0.0433 against
# 0.0431) and slightly worse in the forecasting recipe (benchmarks/
# forecast.py --seeds 1: airline 17.2 against 16.8, sunspots 14.7 against
# 14.4).
# asinh_view="auto": for classifiers whose training series' standard
# deviations span this ratio (90th percentile over 10th) in some feature.
# On the eleven collections of benchmarks/accuracy.py: PLAID 1.3e5 (0.867 ->
# 0.901, 5 seeds, in the same fit time), BasicMotions 19, the other nine at
# most 1.9. Regressors leave it off: on Covid3Month (ratio 280) it raised the
# test RMSE from 0.0435 to 0.0472 (benchmarks/conv_regression.py).
ASINH_VIEW_SPAN = 100.0
SERIES_SAME_MEAN = 0.05
SERIES_SAME_STD = 0.05
# lstm_dropout="auto": dropout on the LSTM's summary alone when the
# convolutional branch is on (where LSTM-FCN puts it; Karim et al. use 0.8),
# none without it. On the eleven collections of benchmarks/accuracy.py (3
# seeds, AVX-512 machine; 0 -> 0.5 from `--params '{"lstm_dropout": 0.0}'`
# beside the defaults, 0.8 from a scratch patch of the same pipeline):
# ACSF1 0.853 -> 0.867 / 0.873, PigCVP 0.877 -> 0.889 / 0.894,
# PickupGestureWiimoteZ 0.813 -> 0.827 / 0.793, ArrowHead 0.834 -> 0.819 /
# 0.823, PLAID 0.868 -> 0.872, the others within 0.004 at 0.5; dropout=0.5
# (which also drops the branch's summary) lowered all four it ran on. On
# regression (benchmarks/conv_regression.py, Covid3Month, 3 seeds) test RMSE
# was 0.0429 with 0.5 and with 0
AUTO_LSTM_DROPOUT = 0.5
# random_crop="auto": for classifiers with the convolutional branch on
# series of one length (from CONV_AUTO_MIN_STEPS steps, where a step is a
# small share), train on random windows of AUTO_CROP of each series
# (AUTO_CROP_LONG from CONV_STRIDE_MIN_STEPS steps); none on ragged data,
# whose rows are whole events (a gesture, an appliance switching on) where
# a window cuts off what the label is about. Scratch runs with the pipeline
# and seeds of benchmarks/accuracy.py (3 seeds, AVX-512 machine), 1 -> 0.9
# -> 0.75: PigCVP 0.889 -> 0.909 -> 0.934, ACSF1 0.867 -> 0.880 -> 0.887,
# ArrowHead 0.819 -> 0.859 -> 0.834, OSULeaf 0.956 -> 0.960 -> 0.942,
# GunPoint 1.000 -> 0.996 -> 0.958; on the ragged collections 0.75 lowered
# PLAID 0.872 -> 0.831 and PickupGestureWiimoteZ (windows of 0.6-1)
# 0.827 -> 0.760. Regressors: none (a window may cut the steps a target
# follows from, such as the last ones of a forecasting window).
AUTO_CROP = 0.9
AUTO_CROP_LONG = 0.75


# "auto" training length: at least this many optimizer steps, within these
# epochs; with the convolutional branch (batch norm, pooled blocks) 400 steps
# were as accurate as 1000 (benchmarks/accuracy.py)
AUTO_MIN_STEPS = 1000
AUTO_EPOCHS = (50, 300)
AUTO_MIN_STEPS_CONV = 400
AUTO_EPOCHS_CONV = (30, 300)
AUTO_BATCH = (8, 64)
# with the convolutional branch, the batch for the training rows stops at 32:
# one epoch in batches of 32 took no longer than in 64 (4096 series of 150
# and 500 steps: 1.41 against 1.28 s and 1.89 against 3.21 s), and ragged
# batches pad to a shorter longest row. PLAID (537 rows; 3 seeds, scratch
# runs with the pipeline of benchmarks/accuracy.py): 0.866 in 17.5 s with
# 64 over 45 epochs, 0.872 in 11.0 s with 32 over 30 (16: 0.881 in 14.3 s,
# but 1.4-1.9x slower per epoch than 32 on the 4096 series)
AUTO_BATCH_CONV = 32
# with the convolutional branch, a classifier's "auto" batch holds at least
# one sample per class on average (the power of two at or above n_classes):
# its batch-norm statistics and each step then see most classes. ACSF1 and
# PickupGestureWiimoteZ (10 classes, batches of 8 -> 16, the same epochs):
# 0.810 -> 0.843 and 0.840 -> 0.873 test accuracy, in as much time
# (benchmarks/accuracy.py); fewer classes than the batch change nothing.
# The batch stays below n_train / 2 (at least three steps an epoch): PigCVP
# (52 classes, 104 series) with batches of 64 took two steps an epoch, 0.784;
# with 32, 0.824 (16: 0.830), over the same 31 epochs. Those epochs took
# half the optimizer steps of the rule, and the nets underfit: the class
# batch keeps the steps, within twice the epochs (strided branch, 3 seeds:
# PigCVP 31 -> 62 epochs 0.835 -> 0.878, ACSF1 31 -> 58 0.837 -> 0.857,
# PickupGestureWiimoteZ 58 -> 100 0.813 -> 0.813).
CLASS_BATCH_MIN_STEPS = 3
CLASS_BATCH_MAX_PASSES = 2


def resolve_batch_size(batch_size, n_train: int, *, conv: bool = False) -> int:
    """``batch_size``, or for ``"auto"`` the power of two nearest below
    ``n_train / 8``, within 8-64 (8-``AUTO_BATCH_CONV`` for a network with
    the convolutional branch): small data sets get several steps per epoch."""
    if batch_size != "auto":
        return int(batch_size)
    low, high = AUTO_BATCH
    if conv:
        high = AUTO_BATCH_CONV
    power = 2 ** int(np.floor(np.log2(max(n_train / 8, 1))))
    return int(min(high, max(low, power)))


def class_batch(batch_size, batch: int, n_classes: int, n_train: int) -> int:
    """``batch``, raised for ``"auto"`` to the power of two at or above
    ``n_classes`` (within ``AUTO_BATCH``), but below ``n_train / 2``, so that
    an epoch still takes ``CLASS_BATCH_MIN_STEPS`` steps; ``n_classes=0``:
    unchanged."""
    if batch_size != "auto" or n_classes <= batch:
        return batch
    wanted = 2 ** int(np.ceil(np.log2(n_classes)))
    room = 2 ** int(np.ceil(np.log2(max(n_train, 2) / (CLASS_BATCH_MIN_STEPS - 1))) - 1)
    return int(max(batch, min(AUTO_BATCH[1], wanted, room)))


def resolve_max_epochs(
    max_epochs, n_train: int, batch_size: int, *, conv: bool = False
) -> int:
    """``max_epochs``, or for ``"auto"`` enough epochs for ``AUTO_MIN_STEPS``
    optimizer steps, within ``AUTO_EPOCHS`` (``AUTO_MIN_STEPS_CONV`` within
    ``AUTO_EPOCHS_CONV`` for a network with the convolutional branch)."""
    if max_epochs != "auto":
        return int(max_epochs)
    steps = -(-max(n_train, 1) // batch_size)
    need, (low, high) = (
        (AUTO_MIN_STEPS_CONV, AUTO_EPOCHS_CONV)
        if conv
        else (AUTO_MIN_STEPS, AUTO_EPOCHS)
    )
    return int(min(high, max(low, -(-need // steps))))


@functools.cache
def fused_supported(cls: type, device_type: str) -> bool:
    """Whether ``cls(..., fused=True)`` builds and steps on ``device_type``.

    A capability check, not a version test: fused CPU kernels arrived in
    different torch releases for different optimizers.
    """
    if device_type == "cuda" and not torch.cuda.is_available():
        return False
    try:
        p = torch.zeros(2, device=device_type, requires_grad=True)
        opt = cls([p], lr=1e-3, fused=True)
        p.grad = torch.ones_like(p)
        opt.step()
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


@functools.cache
def _init_parameters(cls: type) -> frozenset:
    return frozenset(inspect.signature(cls.__init__).parameters)


def _positive_ints(
    value, repeat: int = 1, high: int | None = None
) -> tuple[int, ...] | None:
    """``value``, an int (``repeat`` times) or a sequence of them, as a tuple
    of ints; None if an entry is not an int in [1, ``high``] (bools are not)."""
    values = (value,) * repeat if isinstance(value, Integral) else tuple(value)
    if all(
        isinstance(v, Integral)
        and not isinstance(v, (bool, np.bool_))
        and v >= 1
        and (high is None or v <= high)
        for v in values
    ):
        return tuple(int(v) for v in values)
    return None


def head_units(value) -> tuple[int, ...]:
    """``head_units`` as a tuple of ints (an int is one layer)."""
    units = _positive_ints(value)
    if units is None:
        raise ValueError(
            "head_units must be a positive integer or a tuple of positive "
            f"integers, got {value!r}."
        )
    return units


def conv_layers(est) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``conv_filters`` and ``conv_kernel_sizes`` as tuples of positive ints."""
    out = []
    for name in ("conv_filters", "conv_kernel_sizes"):
        value = getattr(est, name)
        values = _positive_ints(value)
        if not values:  # None, or no block
            raise ValueError(
                f"{name} must be a positive integer or a non-empty tuple of "
                f"positive integers, got {value!r}."
            )
        out.append(values)
    if len(out[0]) != len(out[1]):
        raise ValueError(
            f"conv_filters={out[0]} and conv_kernel_sizes={out[1]} must have "
            "one entry per convolution block (as many of each)."
        )
    return out[0], out[1]


def resolve_conv_branch(est, longest: int, *, tokens: bool) -> bool:
    """``conv_branch`` on data whose longest sequence has ``longest`` steps."""
    if not isinstance(est.conv_branch, str):  # np.bool_ from a grid too
        return bool(est.conv_branch)
    if tokens or est.return_sequences or est.stateful:
        return False
    return longest >= CONV_AUTO_MIN_STEPS


def resolve_series_norm(est, data, weight: np.ndarray | None) -> bool:
    """``series_norm`` on the training ``data`` (a ``SequenceDataset``):
    ``"auto"`` looks at the rows of positive ``weight`` only."""
    return _data_switch(est.series_norm, est, data, weight, _series_differ)


def resolve_asinh_view(est, data, weight: np.ndarray | None) -> bool:
    """``asinh_view`` on the training ``data``, as :func:`resolve_series_norm`."""
    return _data_switch(est.asinh_view, est, data, weight, _sizes_span_decades)


def _data_switch(value, est, data, weight, decide) -> bool:
    """A switch whose ``"auto"`` reads the rows' means and standard
    deviations: ``decide(mean, std)`` on two rows or more of positive
    weight, in a classifier of whole numeric series."""
    if not isinstance(value, str):  # np.bool_ from a grid too
        return bool(value)
    if not _classifies_whole_series(est):
        return False
    mean, std = (m.numpy() for m in series_moments(data.X, data.lengths))
    if weight is not None:
        mean, std = mean[weight > 0], std[weight > 0]
    return len(mean) >= 2 and bool(decide(mean, std))


def _series_differ(mean: np.ndarray, std: np.ndarray) -> bool:
    typical = max(float(np.median(std)), np.finfo(np.float32).tiny)
    same = (np.ptp(mean, axis=0) <= SERIES_SAME_MEAN * typical).all() and (
        np.ptp(std, axis=0) <= SERIES_SAME_STD * typical
    ).all()
    return not same


def _sizes_span_decades(mean: np.ndarray, std: np.ndarray) -> bool:
    for column in std.T:
        varying = column[column > MIN_STD]
        if len(varying) >= 2:
            low, high = np.percentile(varying, [10, 90])
            if high >= ASINH_VIEW_SPAN * low:
                return True
    return False


def _classifies_whole_series(est) -> bool:
    """Where the data-reading ``"auto"`` switches may turn on: a classifier
    of whole numeric series (no token ids, per-step outputs or streams)."""
    tokens = est.embedding_dim is not None
    return is_classifier(est) and not (tokens or est.return_sequences or est.stateful)


def resolve_conv_stride(est, longest: int) -> int:
    """``conv_stride`` on data whose longest sequence has ``longest`` steps;
    ``"auto"`` strides only where the pooling is ``"auto"`` too, doubling
    while the first block reads ``CONV_STRIDE_MIN_WINDOWS`` windows or more,
    never past the first kernel's width."""
    if not isinstance(est.conv_stride, str):
        return int(est.conv_stride)
    if not isinstance(est.conv_pool_size, str):
        return 1
    kernel = conv_layers(est)[1][0]
    stride = 1
    while (
        longest // (stride * CONV_AUTO_STRIDE) >= CONV_STRIDE_MIN_WINDOWS
        and stride * CONV_AUTO_STRIDE <= kernel
    ):
        stride *= CONV_AUTO_STRIDE
    return stride


def resolve_conv_pool_size(est, longest: int, stride: int = 1) -> tuple[int, ...]:
    """``conv_pool_size`` on data whose longest sequence has ``longest`` steps,
    read by the first block at ``stride``: one pooling per gap between the
    convolution blocks."""
    gaps = len(conv_layers(est)[0]) - 1
    if not isinstance(est.conv_pool_size, str):
        return explicit_pools(est.conv_pool_size, gaps)
    later = min(CONV_POOL_MAX, max(1, longest // CONV_POOL_PER))
    windows = -(-longest // stride)
    first = min(MAX_POOL, max(later, -(-windows // CONV_POOL_TO)))
    return ((first,) + (later,) * (gaps - 1))[:gaps]


def explicit_pools(value, gaps: int) -> tuple[int, ...]:
    """An int or per-gap ``conv_pool_size`` as one positive int per gap."""
    values = _positive_ints(value, gaps, MAX_POOL)
    if values is None or len(values) != gaps:
        raise ValueError(
            f"conv_pool_size must be an int in [1, 2**20] or one such int per gap "
            f"between the convolution blocks ({gaps} for {gaps + 1} blocks), got "
            f"{value!r}."
        )
    return values


def fitted_pools(est) -> tuple[int, ...]:
    """The fitted branch's pooling per gap (``()`` without the branch)."""
    if not getattr(est, "conv_branch_", False):
        return ()
    pools = getattr(est, "conv_pool_size_", 1)  # one int before per-gap pooling
    gaps = len(conv_layers(est)[0]) - 1
    return _positive_ints(pools, gaps)  # checked by fit or load


def resolve_lstm_dropout(est) -> float:
    """``lstm_dropout``; ``"auto"`` is ``AUTO_LSTM_DROPOUT`` with the fitted
    convolutional branch, 0 without it."""
    if not isinstance(est.lstm_dropout, str):
        return float(est.lstm_dropout)
    return AUTO_LSTM_DROPOUT if getattr(est, "conv_branch_", False) else 0.0


def resolve_random_crop(est) -> float:
    """``random_crop``; ``"auto"`` is ``AUTO_CROP`` (``AUTO_CROP_LONG`` from
    ``CONV_STRIDE_MIN_STEPS`` steps) for a classifier with the fitted
    convolutional branch on sequences of one length, at least
    ``CONV_AUTO_MIN_STEPS`` steps long, else 1 (no crop)."""
    if not isinstance(est.random_crop, str):
        return float(est.random_crop)
    steps = getattr(est, "n_timesteps_in_", None)  # None: variable lengths
    if not is_classifier(est) or not getattr(est, "conv_branch_", False):
        return 1.0
    if steps is None or steps < CONV_AUTO_MIN_STEPS:  # a step is a large share
        return 1.0
    return AUTO_CROP_LONG if steps >= CONV_STRIDE_MIN_STEPS else AUTO_CROP


def fitted_stride(est) -> int:
    """The fitted branch's first-block stride (1 without the branch, and in
    files saved before strides)."""
    if not getattr(est, "conv_branch_", False):
        return 1
    return int(getattr(est, "conv_stride_", 1))  # checked by fit or load


def conv_work(est, steps: int) -> int:
    """Multiply-adds of the fitted convolutional branch for one sequence of
    ``steps`` raw steps (0 without the branch)."""
    if not getattr(est, "conv_branch_", False):
        return 0
    layers = list(zip(*conv_layers(est), strict=True))
    return multiply_adds(
        est.input_size_, layers, fitted_pools(est), steps, fitted_stride(est)
    )


def module_params(est, input_size: int, output_size: int) -> dict:
    """Keyword arguments of ``LSTMNetwork`` for this estimator.

    ``input_size`` is the raw features per time step (``est.input_size_``):
    the network patches its input itself, with the estimator's resolved
    ``patch_size_`` and ``patch_stride_``.
    """
    # files of sklstm 0.1 predate patching: no patches
    size = int(getattr(est, "patch_size_", 1))
    return {
        "input_size": int(input_size),
        "output_size": int(output_size),
        "hidden_size": int(est.hidden_size),
        "num_layers": int(est.num_layers),
        "bidirectional": bool(est.bidirectional),
        "dropout": float(est.dropout),
        "lstm_dropout": resolve_lstm_dropout(est),
        "random_crop": resolve_random_crop(est),
        "head_units": head_units(est.head_units),
        "head_activation": str(est.head_activation),
        "norm": None if est.norm is None else str(est.norm),
        "return_sequences": bool(est.return_sequences),
        "vocab_size": getattr(est, "vocab_size_", None),
        "embedding_dim": None if est.embedding_dim is None else int(est.embedding_dim),
        "gate_init": str(est.gate_init),
        "timescale": getattr(est, "lstm_steps_", None),
        "n_quantiles": n_quantiles(est),
        "patch_size": size,
        "patch_stride": int(getattr(est, "patch_stride_", size)),
        # files saved before the branch existed lack conv_branch_: no branch
        **dict(
            zip(
                ("conv_filters", "conv_kernel_sizes"),
                conv_layers(est) if getattr(est, "conv_branch_", False) else ((), ()),
                strict=True,
            )
        ),
        "conv_pool_size": fitted_pools(est),
        "conv_stride": fitted_stride(est),
        # files saved before series normalization lack series_norm_: none
        "series_norm": bool(getattr(est, "series_norm_", False)),
        "asinh_view": bool(getattr(est, "asinh_view_", False)),
    }


def n_quantiles(est) -> int:
    """Network outputs per target: one, or one per quantile of the pinball loss."""
    if getattr(est, "loss", None) != "quantile":
        return 1
    return len(est.quantiles)


def optimizer_spec(est, device: str) -> tuple[type, dict]:
    """Optimizer class and its keyword arguments (without ``lr``)."""
    cls = OPTIMIZERS[est.optimizer] if isinstance(est.optimizer, str) else est.optimizer
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
        raise ValueError(
            f"optimizer must be a name ({sorted(OPTIMIZERS)}) or a torch.optim "
            f"optimizer class, got {est.optimizer!r}."
        )
    if cls in (torch.optim.LBFGS, torch.optim.SparseAdam):
        raise ValueError(
            f"optimizer={cls.__name__} is not supported: "
            + (
                "LBFGS re-evaluates full-batch closures and keeps no per-batch "
                "state that mini-batch training can use"
                if cls is torch.optim.LBFGS
                else "SparseAdam needs sparse gradients, and an LSTM's are dense"
            )
            + "; use 'adam', 'adamw', 'sgd' or 'rmsprop'."
        )
    if "weight_decay" not in _init_parameters(cls):
        if est.weight_decay:
            raise ValueError(
                f"optimizer={cls.__name__} takes no weight_decay; set "
                "weight_decay=0.0 (l1 still works) or choose another optimizer."
            )
        return cls, {}
    kwargs: dict = {"weight_decay": float(est.weight_decay)}
    if cls in (torch.optim.SGD, torch.optim.RMSprop):
        kwargs["momentum"] = float(est.momentum)
    if cls in (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD):
        # one kernel per step instead of one per tensor, where torch has it
        if fused_supported(cls, torch.device(device).type):
            kwargs["fused"] = True
    return cls, kwargs


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


def scheduler_callback(est, n_batches: int, monitor: str) -> ScheduleCallback | None:
    """The learning-rate schedule over ``max_epochs`` epochs, or None."""
    schedule = getattr(est, "lr_scheduler_", est.lr_scheduler)
    if schedule == "auto":  # a model loaded from a file: as in a fit
        schedule = "cosine"
    if schedule is None:
        return None
    epochs, lr = int(est.max_epochs_), float(est.lr)
    sched = torch.optim.lr_scheduler
    defaults = {
        "plateau": (sched.ReduceLROnPlateau, {"factor": 0.5, "patience": 5}),
        "cosine": (sched.CosineAnnealingLR, {"T_max": epochs}),
        "step": (sched.StepLR, {"step_size": max(1, epochs // 3), "gamma": 0.1}),
        "exponential": (sched.ExponentialLR, {"gamma": 0.95}),
        "onecycle": (
            sched.OneCycleLR,
            {"max_lr": lr, "total_steps": epochs * n_batches},
        ),
    }
    policy, kwargs = defaults[schedule]
    kwargs.update(plain(dict(est.lr_scheduler_params or {})))
    _check_scheduler(policy, kwargs, lr)
    horizon = None  # steps after which the rate holds still (partial_fit past it)
    if schedule == "cosine":
        horizon = kwargs["T_max"]
    elif schedule == "onecycle":
        horizon = kwargs["total_steps"] - 1
    if schedule == "plateau":
        kwargs["monitor"] = monitor
    step_every = "batch" if schedule == "onecycle" else "epoch"
    return ScheduleCallback(
        policy=policy, step_every=step_every, horizon=horizon, **kwargs
    )


def make_callbacks(est, n_train: int, *, early_stopping: bool) -> list:
    """The skorch callbacks of one fit, made fresh from the parameters."""
    monitor = "valid_loss" if early_stopping else "train_loss"
    callbacks = []
    if early_stopping:
        stopper = EarlyStopping(
            monitor="valid_loss",
            patience=int(est.n_iter_no_change),
            threshold=float(est.tol),
            threshold_mode="abs",
            load_best=True,
            sink=to_stderr if est.verbose else silent,
        )
        callbacks.append(("early_stopping", stopper))
    if est.freeze:
        pretrained = ["lstm.*", "embedding.*"]
        if getattr(est, "conv_branch_", False):  # init_from refuses a fresh one
            pretrained.append("conv.*")
        callbacks.append(("freeze", Freezer(pretrained, at=1)))
        if not isinstance(est.freeze, (bool, np.bool_)):
            # an int: unfreeze after that many epochs
            callbacks.append(
                ("unfreeze", Unfreezer(pretrained, at=int(est.freeze) + 1))
            )
    if est.tensorboard_dir is not None:
        callbacks.append(("tensorboard", TensorBoardLogger(str(est.tensorboard_dir))))
    n_batches = -(-n_train // int(est.batch_size_))  # ceil: the last batch counts
    scheduler = scheduler_callback(est, n_batches, monitor)
    if scheduler is not None:
        callbacks.append(("lr_scheduler", scheduler))
    for cb in est.callbacks or []:
        item = cb[1] if isinstance(cb, tuple) and len(cb) == 2 else cb
        if not isinstance(item, Callback):
            raise TypeError(
                f"callbacks must hold skorch callbacks (or (name, callback) "
                f"pairs), got {cb!r}."
            )
    callbacks += [_own_copy(cb) for cb in est.callbacks or []]
    # last: an epoch's scikit-learn task ends once every score of it is recorded
    bridge = bridge_for(est, n_batches)
    if bridge is not None:
        callbacks.append(("sklearn_callbacks", bridge))
    return callbacks


def _own_copy(callback):
    """A deep copy, so that fits of a search never share callback state; a
    callback holding an uncopyable resource (a TensorBoard writer, a file)
    is used as it is."""
    try:
        return copy.deepcopy(callback)
    except (TypeError, copy.Error, RuntimeError):
        return callback


def _task(est) -> str:
    if not hasattr(est, "classes_"):
        return "regression"
    return "multilabel" if est.multilabel_ else "classification"


_NONLINEARITY = {
    "regression": None,
    "classification": softmax_last,
    "multilabel": torch.sigmoid,
}


def training_params(est, device: str) -> dict:
    """Net parameters that may change between fits of one network."""
    cls, opt_kwargs = optimizer_spec(est, device)
    return {
        "optimizer": cls,
        "lr": float(est.lr),
        **{f"optimizer__{k}": v for k, v in opt_kwargs.items()},
        "max_epochs": int(est.max_epochs_),
        "batch_size": int(est.batch_size_),
        "verbose": int(est.verbose),
        "l1": float(est.l1),
        "gradient_clip": plain(est.gradient_clip),
        "gradient_clip_value": plain(est.gradient_clip_value),
        "shuffle": bool(est.shuffle),
        "bucket_by_length": bool(est.bucket_by_length),
    }


def build_net(
    est, *, input_size, output_size, criterion, device, seed, n_train, early_stopping
) -> SequenceNet:
    """A new, uninitialized net for ``est``."""
    module = module_params(est, input_size, output_size)
    task = _task(est)
    return SequenceNet(
        module=LSTMNetwork,
        **{f"module__{k}": v for k, v in module.items()},
        criterion=criterion,
        predict_nonlinearity=_NONLINEARITY[task],
        task=task,
        train_split=None,
        callbacks=make_callbacks(est, n_train, early_stopping=early_stopping),
        device=device,
        seed=int(seed),
        min_batch=2 if est.norm == "batch" else 1,
        # CPU: cache-sized chunks are fastest; GPU: big ones fill the device
        predict_batch_size=512 if device == "cpu" else 8192,
        **training_params(est, device),
    )


# bytes per parameter in training: float32 weight, gradient and one
# optimizer moment (Adam keeps two: the estimate stays on the low side)
_BYTES_PER_PARAMETER = 12
# float32 values kept per step, sample, layer, direction and hidden unit for
# the backward pass: four gates, the cell state and the hidden state
_SAVED_PER_UNIT = 6
# refuse only what clearly cannot fit: estimates are rough, and a network
# near the limit is left to the allocator (and out_of_memory_as)
_MEMORY_SHARE = 0.8


def memory_estimate(est, input_size: int, output_size: int, batch: int, steps: int):
    """Rough bytes a training step needs: ``(parameters, activations, parts)``.

    ``parts`` counts the parameters of the LSTM, the embedding and the head.
    Parameters are counted on a network built on the ``meta`` device
    (nothing is allocated); activations are what the LSTM and the
    convolutional branch keep for the backward pass of one batch of
    ``batch`` sequences of ``steps`` steps.
    """
    params = module_params(est, input_size, output_size)
    with torch.device("meta"):
        module = LSTMNetwork(**params)
    parts = {"lstm": 0, "embedding": 0, "head": 0}
    for name, tensor in module.named_parameters():
        part = name.split(".", 1)[0]
        parts[part if part in parts else "head"] += tensor.numel()
    lstm_steps = -(-steps // params["patch_stride"]) if steps else 1
    directions = 2 if params["bidirectional"] else 1
    activations = (
        4
        * batch
        * lstm_steps
        * params["num_layers"]
        * directions
        * params["hidden_size"]
        * _SAVED_PER_UNIT
    ) + 4 * batch * conv_saved(params, steps)
    return _BYTES_PER_PARAMETER * sum(parts.values()), activations, parts


def conv_saved(params: dict, steps: int) -> int:
    """float32 values the convolutional branch keeps per sequence of ``steps``
    raw steps for the backward pass: each block's unfolded windows (its
    input times its kernel width), its convolution and normalized outputs,
    and its pooled output."""
    if not params["conv_filters"]:
        return 0
    layers = tuple(
        zip(params["conv_filters"], params["conv_kernel_sizes"], strict=True)
    )
    shapes = block_shapes(
        params["input_size"] * (2 if params.get("asinh_view") else 1),  # + view
        layers,
        params["conv_pool_size"],
        steps,
        params["conv_stride"],
    )
    return sum(
        windows * (width * kernel + 2 * out) + pooled * out
        for width, out, kernel, windows, pooled in shapes
    )


def check_memory(est, input_size, output_size, batch: int, steps: int, device):
    """``MemoryError`` naming the size and the parameter to lower if training
    this network clearly cannot fit in ``device``'s memory; checked before
    anything is built."""
    capacity = device_memory(device)
    if capacity is None:
        return
    weights, activations, parts = memory_estimate(
        est, input_size, output_size, batch, steps
    )
    need = weights + activations
    if need <= _MEMORY_SHARE * capacity:
        return
    if activations > weights:
        lower = (
            f"batch_size (a batch of {batch} sequences of {steps} steps), or "
            "shorten the sequences (patch_size)"
        )
        params = module_params(est, input_size, output_size)
        if 8 * batch * conv_saved(params, steps) > activations:  # most of it
            lower = (
                f"batch_size (a batch of {batch} sequences of {steps} steps), "
                "or the convolutional branch's conv_filters (conv_branch=False "
                "leaves it out)"
            )
    else:
        lower = {
            "lstm": f"hidden_size (now {est.hidden_size}) or num_layers",
            "embedding": "embedding_dim or the vocabulary (TextSequencer's "
            "max_features)",
            "head": f"head_units (now {est.head_units!r})",
        }[max(parts, key=parts.get)]
    gib = 2**30
    raise MemoryError(
        f"Training this network needs about {need / gib:,.1f} GiB "
        f"({weights / gib:,.1f} GiB for {sum(parts.values()):,} parameters with "
        f"their gradients and optimizer state, {activations / gib:,.1f} GiB of "
        f"activations per batch), more than the {capacity / gib:,.1f} GiB of "
        f"{device}. Lower {lower}."
    )


def check_architecture(est, net: SequenceNet) -> None:
    """Refuse a warm fit whose architecture parameters changed since the net
    was built: the weights would not fit."""
    new = module_params(est, 1, 1)
    if not isinstance(est.conv_branch, str):  # explicit: replaces the fitted one
        layers = conv_layers(est) if est.conv_branch else ((), ())
        new.update(zip(("conv_filters", "conv_kernel_sizes"), layers, strict=True))
    if not isinstance(est.conv_pool_size, str) and new["conv_filters"]:
        gaps = len(new["conv_filters"]) - 1
        new["conv_pool_size"] = explicit_pools(est.conv_pool_size, gaps)
    if not isinstance(est.conv_stride, str) and new["conv_filters"]:
        new["conv_stride"] = int(est.conv_stride)
    for name in ("series_norm", "asinh_view"):
        if not isinstance(getattr(est, name), str):
            new[name] = bool(getattr(est, name))
    changed = [
        name for name in ARCHITECTURE if getattr(net, f"module__{name}") != new[name]
    ]
    if changed:
        raise ValueError(
            f"Cannot continue training after changing {', '.join(changed)}: they "
            "define the network's shape. Set warm_start=False (or refit a clone) "
            "to train a new network with them."
        )


def update_net(
    est, net: SequenceNet, device: str, *, n_train: int, early_stopping, incremental
):
    """Apply the current parameters to a fitted net before more training.

    Architecture changes raise (see :func:`check_architecture`); optimizer
    settings, batch size, regularization and callbacks take effect from the
    next epoch. The optimizer state is kept unless the optimizer class
    changes. Under ``partial_fit`` the learning-rate schedule carries on
    unless its settings (or ``lr``) change; a schedule that does not carry
    on (such as the ``"auto"`` cosine of a fit, followed by partial_fit's
    constant rate) restarts the rate at ``lr``. A warm-started fit runs a
    new schedule of ``max_epochs`` epochs from ``lr``.
    """
    check_architecture(est, net)
    params = training_params(est, device)
    # partial_fit carries the rate (and schedule) on unless lr itself changed;
    # a warm-started fit runs a new schedule from lr
    new_lr = params["lr"] != net.lr or not incremental
    old = dict(net.callbacks_)
    callbacks = make_callbacks(est, n_train, early_stopping=early_stopping)
    carried = set()
    for i, item in enumerate(callbacks):
        if isinstance(item, tuple) and isinstance(item[1], ScheduleCallback):
            name, cb = item
            if not new_lr and cb.same_schedule(old.get(name)):
                callbacks[i] = (name, old[name])  # carry the schedule on
                carried.add(name)
    # a schedule left behind (a fit's "auto" cosine, whose rate ended near 0,
    # then partial_fit's constant rate) does not leave its last rate behind
    new_lr = new_lr or any(
        isinstance(cb, ScheduleCallback) and name not in carried
        for name, cb in old.items()
    )
    net.apply_training(params, new_lr=new_lr)
    net.set_dropout(float(est.dropout), resolve_lstm_dropout(est))
    net.set_random_crop(resolve_random_crop(est))
    net.replace_callbacks(callbacks)


def plain(value):
    """numpy scalars (as searches hand them over) as Python ones, recursively."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value
