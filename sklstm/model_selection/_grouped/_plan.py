"""Preparing the fits of a search for grouped training (see ``_grouped_train``).

Each fit (one candidate on one fold) is prepared by the estimator's own code:
input checks, target scaling or label encoding, ``"auto"`` sizes, seeding and
the skorch net with its initial weights, exactly as ``fit`` does before its
first epoch. Fits whose shapes agree (:func:`group_key`) can train together;
:func:`chunks` splits them into groups that fit the memory budget.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.base import clone

from sklstm._engine import _build
from sklstm._engine._losses import ClassificationLoss, RegressionLoss
from sklstm._engine._module import LSTMNetwork
from sklstm._engine._patching import n_patches
from sklstm._engine._runtime import seeded
from sklstm._fitplan import new_net, plan_fit
from sklstm._sklearn_private import _safe_indexing
from sklstm.model_selection._grouped._module import unsupported

OPTIMIZERS = {
    torch.optim.Adam: "adam",
    torch.optim.AdamW: "adamw",
    torch.optim.SGD: "sgd",
}
_SCHEDULES = {None, "cosine", "step", "exponential"}
# memory of a group: the share of free CUDA memory, or a fixed CPU budget
CUDA_MEMORY_FRACTION = 0.5
CPU_MEMORY_BUDGET = 2 * 1024**3


class NotGroupable(ValueError):
    """A fit that must be done ordinarily; the message says why."""


@dataclass
class Member:
    """One fit (candidate, fold), prepared by the estimator's own code."""

    estimator: object
    net: object
    train: np.ndarray
    X: torch.Tensor
    y: torch.Tensor
    seed: int
    device: str
    lrs: list[float]
    key: tuple
    input_shape: tuple = ()
    result: object = None
    fit_time: float = 0.0
    meta: dict = field(default_factory=dict)
    plan: object = None  # the fit plan it was prepared by


def parameter_reason(est) -> str | None:
    """Why an estimator's parameters rule grouping out (None: they do not)."""
    checks = [
        (est.callbacks, "callbacks"),
        (est.early_stopping, "early_stopping=True"),
        (est.epoch_cache is not None, "epoch_cache"),
        (est.tensorboard_dir is not None, "tensorboard_dir"),
        (est.init_from is not None, "init_from"),
        (est.stateful, "stateful=True"),
        (est.embedding_dim is not None, "token inputs (embedding_dim)"),
        (est.return_sequences, "return_sequences=True"),
        (est.norm == "batch", "norm='batch'"),
    ]
    for flag, reason in checks:
        if flag:
            return reason
    optimizer = est.optimizer
    if isinstance(optimizer, str):
        optimizer = _build.OPTIMIZERS.get(optimizer)
    if optimizer not in OPTIMIZERS:
        return f"optimizer={est.optimizer!r} (grouping runs adam, adamw and sgd)"
    schedule = "cosine" if est.lr_scheduler == "auto" else est.lr_scheduler
    if schedule not in _SCHEDULES:
        return f"lr_scheduler={est.lr_scheduler!r} (it depends on the loss or batch)"
    return None


def prepare(estimator, params: dict, X, y, train: np.ndarray) -> Member:
    """A fresh clone of ``estimator`` with ``params``, ready to train on ``train``.

    Runs what ``fit`` runs before its first epoch and raises
    :class:`NotGroupable` for what a group cannot reproduce.
    """
    est = clone(estimator).set_params(**clone(params, safe=False))
    est._validate_params()
    reason = parameter_reason(est)
    if reason is not None:
        raise NotGroupable(reason)
    X_train, y_train = _safe_indexing(X, train), _safe_indexing(y, train)
    plan = plan_fit(est, X_train, y_train, cache=False)
    data, device, seed = plan.train, plan.device, plan.seed
    if data.lengths is not None:
        raise NotGroupable("variable-length sequences")
    if getattr(est, "multilabel_", False):
        raise NotGroupable("multi-label targets")
    with seeded(seed, device):  # as fit builds it: the same initial weights
        net = new_net(est, plan)
    reason = unsupported(net.module_) or _criterion_reason(net.criterion_)
    if reason is not None:
        raise NotGroupable(reason)
    module = _build.module_params(est, est.input_size_, est._n_outputs())
    module.pop("dropout")  # these may differ inside a group
    module.pop("lstm_dropout")
    if module["norm"] != "layer":  # smaller members are padded (see slots)
        module.pop("hidden_size")
        module["head_units"] = len(module["head_units"])
    key = (
        type(est).__name__,
        tuple(sorted(module.items())),
        OPTIMIZERS[net.optimizer],
        criterion_key(net.criterion_),
        int(est.batch_size_),
        int(est.max_epochs_),
        bool(est.shuffle),
        device,
        tuple(data.X.shape[1:]),
        tuple(data.y.shape[1:]),
        str(data.y.dtype),
        (est.patch_size_, est.patch_stride_, est.data_format),
    )
    return Member(
        estimator=est,
        net=net,
        train=np.asarray(train),
        X=data.X,
        y=data.y,
        seed=seed,
        device=device,
        lrs=_learning_rates(est, net),
        key=key,
        input_shape=tuple(data.X.shape[1:]),
        plan=plan,
    )


def _criterion_reason(criterion) -> str | None:
    if isinstance(criterion, RegressionLoss):
        if criterion.kind in ("mse", "mae", "huber"):
            return None
        return f"loss={criterion.kind!r}"
    if isinstance(criterion, ClassificationLoss):
        return None
    return f"criterion {type(criterion).__name__}"


def criterion_key(criterion) -> tuple:
    if isinstance(criterion, RegressionLoss):
        return ("regression", criterion.kind, float(criterion.delta))
    return ("classification",)


def _learning_rates(est, net) -> list[float]:
    """The rate of each epoch: the net's own schedule, stepped on a dummy."""
    epochs, lr = int(est.max_epochs_), float(est.lr)
    schedule = dict(net.callbacks_).get("lr_scheduler")
    if schedule is None:
        return [lr] * epochs
    probe = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    for group in probe.param_groups:
        group["initial_lr"] = group["lr"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stepping without optimizer steps
        scheduler = schedule.policy_(probe, **schedule.kwargs)
        rates = []
        for epoch in range(epochs):
            rates.append(probe.param_groups[0]["lr"])
            if schedule.horizon is None or epoch < schedule.horizon:
                scheduler.step()
    return rates


def group_key(member: Member) -> tuple:
    """Fits with equal keys can train in one group."""
    return member.key


def group_sizes(members: list[Member]) -> tuple[int, tuple[int, ...]]:
    """The hidden size and head units a group pads its members to."""
    hidden = max(int(m.estimator.hidden_size) for m in members)
    units = [_build.head_units(m.estimator.head_units) for m in members]
    return hidden, tuple(max(column) for column in zip(*units, strict=True))


def group_template(members: list[Member]) -> LSTMNetwork:
    """A network of the group's architecture: the largest member's sizes.

    Only its shapes are used (see ``GroupedLSTM``); it is the first
    member's own network when every member has the same sizes.
    """
    first = members[0]
    hidden, units = group_sizes(members)
    module = first.net.module_
    if hidden == module.lstm.hidden_size and units == _build.head_units(
        first.estimator.head_units
    ):
        return module
    est = first.estimator
    params = _build.module_params(est, est.input_size_, est._n_outputs())
    return LSTMNetwork(**{**params, "hidden_size": hidden, "head_units": units})


def bytes_per_model(member: Member, hidden: int | None = None) -> int:
    """Memory one model of a group needs: activations kept for the backward
    pass (gates and states of every step, layer and direction), its batch,
    and weights with gradients and optimizer state (about 6 copies).

    ``hidden``: the group's hidden size, when the member is padded to it.
    """
    est = member.estimator
    batch, (steps, width) = int(est.batch_size_), member.input_shape
    # the inputs are raw steps; the recurrence runs over patches
    size, stride = int(est.patch_size_), int(est.patch_stride_)
    steps, width = int(n_patches(steps, size, stride)), width * size
    directions = 2 if est.bidirectional else 1
    own = int(est.hidden_size)
    hidden = own if hidden is None else max(int(hidden), own)
    per_step = 16 * hidden * directions * int(est.num_layers) + 2 * width
    n_weights = sum(p.numel() for p in member.net.module_.parameters())
    n_weights = n_weights * (hidden / own) ** 2  # recurrent weights dominate
    return int(4 * (batch * steps * per_step + 6 * n_weights))


def step_work(member: Member, hidden: int | None = None) -> int:
    """Multiply-adds of one model's batch per time step (all layers and
    directions), with ``hidden`` units when padded to a group's size."""
    est = member.estimator
    hidden = int(est.hidden_size) if hidden is None else int(hidden)
    width = member.input_shape[1] * int(est.patch_size_)
    directions = 2 if est.bidirectional else 1
    first = 4 * hidden * (hidden + width)
    later = 4 * hidden * (hidden + directions * hidden)
    per_step = directions * (first + (int(est.num_layers) - 1) * later)
    return int(est.batch_size_) * per_step


def over_budget(member: Member, budget: int | None = None) -> str | None:
    """Why one model alone cannot be grouped within the memory budget."""
    budget = memory_budget(member.device) if budget is None else budget
    need = bytes_per_model(member)
    if need <= budget:
        return None
    return (
        f"one model needs about {_size(need)}, over the group memory "
        f"budget of {_size(budget)} on {member.device}"
    )


def _size(n_bytes: int) -> str:
    if n_bytes >= 2**30:
        return f"{n_bytes / 2**30:.2f} GiB"
    return f"{n_bytes / 2**20:.2f} MiB"


def memory_budget(device: str) -> int:
    """Bytes a group may use on ``device``."""
    if device.startswith("cuda"):
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return int(CUDA_MEMORY_FRACTION * free)
    return CPU_MEMORY_BUDGET


def chunks(
    members: list[Member], *, max_group_size: int | None, budget: int | None = None
) -> list[list[Member]]:
    """``members`` (of one key) in groups that fit the memory budget."""
    if not members:
        return []
    # similar sizes together: each chunk pads to its own largest member
    members = sorted(
        members,
        key=lambda m: (
            int(m.estimator.hidden_size),
            _build.head_units(m.estimator.head_units),
        ),
    )
    if budget is None:
        budget = memory_budget(members[0].device)
    hidden, _ = group_sizes(members)
    need = max(bytes_per_model(m, hidden) for m in members)
    size = max(1, budget // max(need, 1))
    if max_group_size is not None:
        size = min(size, int(max_group_size))
    n_chunks = -(-len(members) // size)
    per = -(-len(members) // n_chunks)  # near-equal chunks
    return [members[i : i + per] for i in range(0, len(members), per)]


__all__ = [
    "Member",
    "NotGroupable",
    "bytes_per_model",
    "chunks",
    "criterion_key",
    "group_key",
    "group_template",
    "over_budget",
    "step_work",
    "parameter_reason",
    "prepare",
]
