"""Per-sample losses: one value per sample (or per sample and step).

Each returns ``(batch,)`` or, for per-step outputs ``(batch, steps, ...)``,
``(batch, steps)``, so that the net can mask padded steps and apply sample
weights before averaging. ``rows`` gives one loss per sample, the steps
of a per-step output averaged: what a grouped search (several models'
batches flattened into one) weights and averages per model.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class _RowLoss(nn.Module):
    """A per-sample loss that can also reduce each row's steps (:meth:`rows`)."""

    def rows(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """One loss per row (sample) of a batch, shape ``(batch,)``.

        The loss ``forward`` computes, with the losses of a row's steps (for
        per-step outputs) averaged as ``SequenceNet.get_loss`` averages them
        for equal-length sequences.

        Parameters
        ----------
        pred : Tensor of shape (batch, ...)
            Outputs of the network. Several models' batches go in with their
            model axis flattened into the batch: ``(n_models * batch, ...)``.
        target : Tensor of shape (batch, ...)
            Targets, flattened like ``pred``.

        Returns
        -------
        loss : Tensor of shape (batch,)
            Each row's loss, before sample weights and the batch mean.
        """
        return _mean_over_steps(self(pred, target))


def _mean_over_steps(loss: torch.Tensor) -> torch.Tensor:
    return loss.mean(dim=1) if loss.dim() == 2 else loss


class RegressionLoss(_RowLoss):
    """MSE, MAE or Huber loss, averaged over the outputs."""

    def __init__(self, kind: str = "mse", delta: float = 1.0) -> None:
        super().__init__()
        self.kind = kind
        self.delta = delta

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        per_step = pred.dim() == 3
        shape = pred.shape[:2] if per_step else pred.shape[:1]
        pred = pred.reshape(target.shape)
        if self.kind == "mse":
            loss = F.mse_loss(pred, target, reduction="none")
        elif self.kind == "mae":
            loss = F.l1_loss(pred, target, reduction="none")
        else:
            loss = F.huber_loss(pred, target, reduction="none", delta=self.delta)
        if loss.dim() == len(shape):  # one output: nothing to average
            return loss
        return loss.reshape(*shape, -1).mean(dim=-1)

    @staticmethod
    def score(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """R² averaged over outputs (and steps), as ``LSTMRegressor.score``."""
        k = pred.shape[-1]
        pred, target = pred.reshape(-1, k), target.reshape(-1, k)
        sse = ((target - pred) ** 2).sum(dim=0)
        sst = ((target - target.mean(dim=0)) ** 2).sum(dim=0)
        r2 = torch.where(sst > 0, 1 - sse / sst.clamp_min(1e-12), (sse == 0).float())
        return r2.mean()


def middle_quantile(levels) -> int:
    """Index of the level nearest 0.5: the quantile a point prediction uses."""
    return int(np.argmin(np.abs(np.asarray(levels, dtype=np.float64) - 0.5)))


class PinballLoss(_RowLoss):
    """Pinball (quantile) loss over several quantiles of each output.

    ``pred`` holds ``n_quantiles`` values per output (the last axis grouped
    output by output); the loss averages ``max(q * e, (q - 1) * e)`` with
    ``e = target - pred`` over outputs and quantiles (Koenker and Bassett,
    "Regression quantiles", Econometrica 46(1), 1978).
    """

    def __init__(self, quantiles: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("quantiles", torch.tensor(quantiles, dtype=torch.float32))

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        per_step = pred.dim() == 3
        shape = pred.shape[:2] if per_step else pred.shape[:1]
        q = self.quantiles.to(pred.device)
        grouped = pred.reshape(*shape, -1, len(q))  # (..., outputs, quantiles)
        error = target.reshape(*shape, -1, 1) - grouped
        loss = torch.maximum(q * error, (q - 1) * error)
        return loss.reshape(*shape, -1).mean(dim=-1)

    def point(self, pred):
        """The quantile nearest 0.5 of each output (numpy or torch outputs)."""
        q = self.quantiles.cpu().numpy()
        return pred.reshape(*pred.shape[:-1], -1, len(q))[..., middle_quantile(q)]

    def score(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """R² of the quantile nearest 0.5, as ``LSTMRegressor.score``."""
        point = self.point(pred)
        return RegressionLoss.score(point, target.reshape(point.shape))


class ClassificationLoss(_RowLoss):
    """Cross-entropy on logits ``(batch, classes)`` or ``(batch, steps, classes)``.

    ``class_weight`` (one value per class) scales each target's term.
    """

    def __init__(self, class_weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("class_weight", class_weight)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if logits.dim() == 3:  # per-step labels: cross_entropy wants classes second
            logits = logits.transpose(1, 2)
        return F.cross_entropy(
            logits, target, weight=self.class_weight, reduction="none"
        )

    def rows(
        self, logits: torch.Tensor, target: torch.Tensor, *, weighted: bool = True
    ) -> torch.Tensor:
        """One loss per row (sample), shape ``(batch,)``; see :meth:`_RowLoss.rows`.

        ``weighted=False`` leaves ``class_weight`` out, for a caller that
        scales each row by weights of its own (one set per model in a
        grouped search): ``class_weight[target]`` times the unweighted row
        is what the weighted cross-entropy computes.
        """
        if weighted:
            return super().rows(logits, target)
        if logits.dim() == 3:
            logits = logits.transpose(1, 2)
        return _mean_over_steps(F.cross_entropy(logits, target, reduction="none"))

    @staticmethod
    def score(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Accuracy (over all steps for per-step labels)."""
        return (logits.argmax(dim=-1) == target).float().mean()


class MultiLabelLoss(_RowLoss):
    """Binary cross-entropy on one logit per label, averaged over labels."""

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        return loss.mean(dim=1)

    @staticmethod
    def score(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Subset accuracy: every label of a sample right."""
        return ((logits > 0) == (target > 0.5)).all(dim=1).float().mean()
