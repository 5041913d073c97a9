"""The real steps of padded variable-length rows: their mask, and batch
normalization over them."""

from __future__ import annotations

import torch
from torch import nn


def step_mask(lengths: torch.Tensor, h: torch.Tensor, axis: int = 1) -> torch.Tensor:
    """``(batch, steps)`` over ``h``'s time ``axis``, in ``h``'s dtype and on
    its device: 1 on each row's own steps (the first ``lengths[i]``), 0 on
    its padding."""
    steps = torch.arange(h.shape[axis], device=h.device)
    return (steps[None, :] < lengths.to(h.device)[:, None]).to(h.dtype)


def batch_norm_own_steps(
    norm: nn.BatchNorm1d, h: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """``norm`` over the rows of ``h`` ``(batch * steps, channels)``; in
    training, with ``mask`` ``(batch, steps, 1)``, its statistics (and the
    running ones) count each row's own steps only, and padded steps give 0.

    Otherwise how far a batch is padded (to its longest row) would move every
    row's normalization: a row's summary would depend on its batch's padding.
    """
    if mask is None or not norm.training:
        return norm(h)
    own = mask.reshape(-1) > 0
    if bool(own.all()):
        return norm(h)
    out = h.new_zeros(h.shape)
    out[own] = norm(h[own])
    return out
