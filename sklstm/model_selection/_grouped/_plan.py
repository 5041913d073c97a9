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
    module.pop("dropout")  # may differ inside a group
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


def bytes_per_model(member: Member) -> int:
    """Memory one model of a group needs: activations kept for the backward
    pass (gates and states of every step, layer and direction), its batch,
    and weights with gradients and optimizer state (about 6 copies)."""
    est = member.estimator
    batch, (steps, width) = int(est.batch_size_), member.input_shape
    # the inputs are raw steps; the recurrence runs over patches
    size, stride = int(est.patch_size_), int(est.patch_stride_)
    steps, width = int(n_patches(steps, size, stride)), width * size
    directions = 2 if est.bidirectional else 1
    hidden = int(est.hidden_size)
    per_step = 16 * hidden * directions * int(est.num_layers) + 2 * width
    n_weights = sum(p.numel() for p in member.net.module_.parameters())
    return 4 * (batch * steps * per_step + 6 * n_weights)


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
    if budget is None:
        budget = memory_budget(members[0].device)
    size = max(1, budget // max(bytes_per_model(members[0]), 1))
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
    "parameter_reason",
    "prepare",
]
