"""Training many small sklstm fits at once as one grouped network.

Fits prepared by ``_grouped_prepare`` (each an ordinary estimator with its
skorch net and initial weights, before the first epoch) are trained together
by :func:`train_group`; their weights, losses and history are written back,
so that each is an ordinary fitted estimator again.

What a group reproduces of an ordinary fit, model by model: the initial
weights, the batches and their order (the same seeded permutation per
epoch), the loss (mean over the batch, class weights), ``l1``, gradient
clipping (by global norm and by value), Adam, AdamW or SGD with their
weight-decay groups (``_optim``), and the learning-rate schedule. The
loss of each row is the fit's own criterion's (``rows`` of
``sklstm._engine._losses``), so grouped and ordinary fits share one
definition of each loss. Folds with fewer batches per epoch are padded with
rows of weight 0 and their model is not updated (nor its Adam step
counted) on the extra steps, so every step has the same shapes and one
CUDA graph replays all of them. Dropout draws from the group's own
generator, so with ``dropout > 0`` (or ``lstm_dropout``) a grouped fit is
a valid fit, not the bitwise twin of the ordinary one.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import torch

from sklstm._engine._build import resolve_lstm_dropout
from sklstm._engine._losses import ClassificationLoss
from sklstm._engine._net import TrainingDivergedError, record_batches
from sklstm._engine._runtime import reuse_heap, seeded, torch_threads
from sklstm._fitplan import record_fit
from sklstm.model_selection._grouped._module import GroupedLSTM
from sklstm.model_selection._grouped._optim import per_model, stacked_optimizer
from sklstm.model_selection._grouped._plan import OPTIMIZERS, Member, group_template


class _Group:
    """The stacked state of a group: network, data, optimizer, step buffers."""

    def __init__(self, members: list[Member], X_all: torch.Tensor) -> None:
        first = members[0]
        est0 = first.estimator
        self.members = members
        self.device = torch.device(first.device)
        k = len(members)
        self.k = k
        self.batch = int(est0.batch_size_)
        self.model = GroupedLSTM(group_template(members), k).to(self.device)
        for i, m in enumerate(members):
            self.model.load_model(i, m.net.module_)
        self.model.train()
        self.params = list(self.model.weights)
        # the members' criterion kind is one (it is in their group key); its
        # class weights are the first member's, so rows are weighted per model
        self.criterion = first.net.criterion_
        self.classification = isinstance(self.criterion, ClassificationLoss)
        dev = self.device

        def values(of) -> torch.Tensor:
            return torch.tensor(of, dtype=torch.float32, device=dev)

        ests = [m.estimator for m in members]
        self.weight_decay = values([float(e.weight_decay) for e in ests])
        self.l1 = values([float(e.l1) for e in ests])
        self.dropout = values([float(e.dropout) for e in ests])
        self.lstm_dropout = values([resolve_lstm_dropout(e) for e in ests])
        self.clip = values([_or_inf(e.gradient_clip) for e in ests])
        self.clip_value = values([_or_inf(e.gradient_clip_value) for e in ests])
        self.use_l1 = bool(self.l1.any())
        self.use_dropout = bool(self.dropout.any())
        self.use_lstm_dropout = bool(self.lstm_dropout.any())
        self.use_clip = any(e.gradient_clip is not None for e in ests)
        self.use_clip_value = any(e.gradient_clip_value is not None for e in ests)
        self.class_weight = None
        if self.classification:
            weights = [m.net.criterion_.class_weight for m in members]
            if any(w is not None for w in weights):
                n_classes = est0._n_outputs()
                self.class_weight = torch.stack(
                    [
                        torch.ones(n_classes) if w is None else w.float().cpu()
                        for w in weights
                    ]
                ).to(dev)
        # data: the inputs once, each model's targets on its own training rows
        self.X_all = X_all.to(dev)
        n_all = len(X_all)
        y_tail = tuple(first.y.shape[1:])
        Y = torch.zeros((k, n_all, *y_tail), dtype=first.y.dtype)
        for i, m in enumerate(members):
            Y[i, torch.as_tensor(m.train)] = m.y
        self.Y = Y.reshape(k * n_all, *y_tail).to(dev)
        self.offsets = (torch.arange(k) * n_all).to(dev)[:, None]
        self.optimizer = stacked_optimizer(
            OPTIMIZERS[first.net.optimizer],
            self.params,
            weight_decay=self.weight_decay,
            momentum=values([float(e.momentum) for e in ests]),
            matrix=self.model.matrix,
        )
        self.lr = torch.zeros(k, device=dev)
        # static inputs of a step (fixed addresses: a CUDA graph reads them)
        self.idx = torch.zeros((k, self.batch), dtype=torch.int64, device=dev)
        self.row_mask = torch.zeros((k, self.batch), device=dev)
        self.count = torch.ones(k, device=dev)
        self.active = torch.zeros(k, device=dev)

    def loss(self) -> torch.Tensor:
        """Each model's mean loss over its real rows, shape ``(k,)``.

        The rows' losses are the ordinary fit's criterion's (``rows``), on
        every model's batch at once: the model axis is flattened into the
        batch, then each model's class weights scale its rows.
        """
        k, b = self.k, self.batch
        flat = self.idx.reshape(-1)
        x = self.X_all.index_select(0, flat).view(k, b, *self.X_all.shape[1:])
        target = self.Y.index_select(0, (self.idx + self.offsets).reshape(-1))
        out = self.model(
            x,
            self.dropout if self.use_dropout else None,
            self.lstm_dropout if self.use_lstm_dropout else None,
        )
        out = out.reshape(k * b, *out.shape[2:])
        if self.classification:
            rows = self.criterion.rows(out, target, weighted=False).view(k, b)
            if self.class_weight is not None:
                labels = target.view(k, b)
                rows = rows * torch.gather(self.class_weight, 1, labels)
        else:
            rows = self.criterion.rows(out, target).view(k, b)
        return (rows * self.row_mask).sum(dim=1) / self.count

    def step(self) -> torch.Tensor:
        """One optimizer step of every active model; returns the losses."""
        losses = self.loss()
        total = losses.sum()  # each model's gradient is its own loss's
        if self.use_l1:
            for p, is_matrix in zip(self.params, self.model.matrix, strict=True):
                if is_matrix:
                    total = total + (per_model(self.l1, p) * p.abs()).sum()
        grads = list(torch.autograd.grad(total, self.params))
        if self.use_clip_value:
            grads = [
                torch.clamp(
                    g, -per_model(self.clip_value, g), per_model(self.clip_value, g)
                )
                for g in grads
            ]
        if self.use_clip:  # clip_grad_norm_ per model: its global norm
            norms = torch.stack(
                [torch.linalg.vector_norm(g.reshape(self.k, -1), dim=1) for g in grads]
            )
            total_norm = torch.linalg.vector_norm(norms, dim=0)
            coef = torch.clamp(self.clip / (total_norm + 1e-6), max=1.0)
            grads = [g * per_model(coef, g) for g in grads]
        self.optimizer.step(grads, self.lr, self.active)
        return losses.detach()


def _or_inf(value) -> float:
    return math.inf if value is None else float(value)


def _epoch_batches(members: list[Member], epoch: int, batch: int, alive: np.ndarray):
    """Index, row-mask, row-count and active arrays of every step of an epoch.

    Rows follow each fit's own seeded permutation (the seed of skorch's
    epoch ``epoch + 1``, as ``SequenceNet.get_iterator`` reads it).
    """
    orders, n_steps = [], 0
    for m in members:
        n = len(m.train)
        if m.estimator.shuffle:
            generator = torch.Generator()
            generator.manual_seed(m.seed + epoch + 1)
            order = torch.randperm(n, generator=generator).numpy()
        else:
            order = np.arange(n)
        orders.append(m.train[order])
        n_steps = max(n_steps, -(-n // batch))
    k = len(members)
    idx = np.zeros((n_steps, k, batch), dtype=np.int64)
    mask = np.zeros((n_steps, k, batch), dtype=np.float32)
    count = np.ones((n_steps, k), dtype=np.float32)
    active = np.zeros((n_steps, k), dtype=np.float32)
    for j, rows in enumerate(orders):
        for s in range(-(-len(rows) // batch)):
            part = rows[s * batch : (s + 1) * batch]
            idx[s, j, : len(part)] = part
            mask[s, j, : len(part)] = 1.0
            count[s, j] = len(part)
            active[s, j] = float(alive[j])
    return idx, mask, count, active


def _capture(group: _Group):
    """The step as a CUDA graph, or None where capture fails."""
    try:
        stream = torch.cuda.Stream(group.device)
        stream.wait_stream(torch.cuda.current_stream(group.device))
        with torch.cuda.stream(stream):
            group.active.zero_()  # warm-up steps change nothing
            for _ in range(3):
                group.step()
        torch.cuda.current_stream(group.device).wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = group.step()
        return graph, out
    except Exception as exc:  # noqa: BLE001 - any capture failure: train eagerly
        warnings.warn(
            f"CUDA graph capture failed, training eagerly: {exc}",
            RuntimeWarning,
            stacklevel=3,
        )
        torch.cuda.synchronize(group.device)
        return None


def train_group(
    members: list[Member], X_all: torch.Tensor, *, cuda_graphs: bool = True
) -> dict:
    """Train ``members`` (one key) together; each ends as a fitted estimator.

    ``X_all`` is the prepared input of every row the members index. Sets
    each member's ``result`` to its fitted estimator, or to the
    :class:`~sklstm.TrainingDivergedError` an ordinary fit would raise, and
    its ``fit_time`` to its share of the group's time. Returns facts about
    the run (``"cuda_graph"``: whether the step was a CUDA graph).
    """
    start = time.perf_counter()
    first = members[0]
    device = first.device
    # the group's own dropout generator: seeded by its first fit
    reuse_heap()
    with torch_threads(first.estimator._n_threads()), seeded(first.seed, device):
        group = _Group(members, X_all)
        for m in members:  # each net's own callbacks: schedules, timers, logs
            m.net.notify("on_train_begin", X=None, y=None)
        info = _run(
            group, members, cuda_graphs=cuda_graphs and device.startswith("cuda")
        )
    for i, m in enumerate(members):
        group.model.store_model(i, m.net.module_)
        m.net.notify("on_train_end", X=None, y=None)
        if m.result is None:
            record_fit(m.estimator, m.net, 0, m.plan)
            m.result = m.estimator
    share = (time.perf_counter() - start) / len(members)
    for m in members:
        m.fit_time = share
    return info


def _run(group: _Group, members: list[Member], *, cuda_graphs: bool) -> dict:
    k, dev = group.k, group.device
    epochs = int(members[0].estimator.max_epochs_)
    lrs = torch.tensor([m.lrs for m in members], dtype=torch.float32)
    alive = np.ones(k, dtype=bool)
    captured = _capture(group) if cuda_graphs else None
    for epoch in range(epochs):
        tick = time.perf_counter()
        group.lr.copy_(lrs[:, epoch].to(dev))
        idx, mask, count, active = _epoch_batches(members, epoch, group.batch, alive)
        idx_d = torch.from_numpy(idx).to(dev)
        mask_d = torch.from_numpy(mask).to(dev)
        count_d = torch.from_numpy(count).to(dev)
        active_d = torch.from_numpy(active).to(dev)
        losses = torch.zeros((len(idx), k), device=dev)
        for s in range(len(idx)):
            group.idx.copy_(idx_d[s])
            group.row_mask.copy_(mask_d[s])
            group.count.copy_(count_d[s])
            group.active.copy_(active_d[s])
            if captured is None:
                losses[s] = group.step()
            else:
                captured[0].replay()
                losses[s] = captured[1]
        with torch.no_grad():  # one host sync per epoch
            finite = torch.stack(
                [torch.isfinite(p.reshape(k, -1).sum(dim=1)) for p in group.params]
            ).all(dim=0)
        losses_h, finite_h = losses.cpu().numpy(), finite.cpu().numpy()
        duration = time.perf_counter() - tick
        for j, m in enumerate(members):
            if not alive[j]:
                continue
            n_steps = int(active[:, j].sum())
            sizes = count[:n_steps, j].astype(int).tolist()
            batch_losses = losses_h[:n_steps, j].astype(float).tolist()
            mean = _record_epoch(m.net, m.lrs[epoch], batch_losses, sizes, duration)
            if not (math.isfinite(mean) and finite_h[j]):
                alive[j] = False
                m.result = TrainingDivergedError(
                    f"Training diverged: the loss (or the weights) became non-finite "
                    f"in epoch {epoch + 1}. Lower lr, set gradient_clip, or scale "
                    "the inputs (sklstm.preprocessing.SequenceScaler)."
                )
    return {"cuda_graph": captured is not None}


def _record_epoch(net, lr: float, losses: list, sizes: list, duration: float):
    """The history row an ordinary epoch writes; returns the epoch's loss."""
    # the net's own epoch hooks write the row (epoch, train_loss and its
    # best flag, the schedule's step), as in an ordinary epoch
    net.notify("on_epoch_begin", dataset_train=None, dataset_valid=None)
    net.history.record("lr", lr)
    record_batches(net.history, "train", losses, sizes)
    with warnings.catch_warnings():
        # the schedule steps the net's own optimizer, which the group replaces
        warnings.filterwarnings("ignore", message=".*lr_scheduler.step.*before")
        net.notify("on_epoch_end", dataset_train=None, dataset_valid=None)
    net.history.record("dur", duration)  # the fit's share of the group's epoch
    return net.history[-1]["train_loss"]


__all__ = ["train_group"]
