"""Batch normalization over the real steps of padded variable-length rows."""

from __future__ import annotations

import torch
from torch import nn


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
