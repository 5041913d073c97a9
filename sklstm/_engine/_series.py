"""Per-series normalization inside the network (pure torch).

A scaler fitted on the whole training set (``SequenceScaler``) keeps the
series' relative sizes; when they differ by orders of magnitude, the small
ones reach the network as near-constant zeros. Each series is therefore also
standardized by its own mean and standard deviation (per feature, over its
real steps), as reversible instance normalization does for forecasting
inputs (Kim et al., "Reversible Instance Normalization for Accurate
Time-Series Forecasting against Distribution Shift", ICLR 2022), and the
statistics it removes are handed to the head as features, so that level
and scale still count where they carry the class.
"""

from __future__ import annotations

import torch

# standard deviations below this count as a constant series: centered, not
# divided, and its log-scale feature floored here
MIN_STD = 1e-6


def normalize_series(
    x: torch.Tensor, lengths: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each series beside its own standardized copy, and its statistics.

    Parameters
    ----------
    x : Tensor of shape (batch, steps, features)
        Raw steps; rows shorter than ``steps`` are padded at the end.
    lengths : Tensor of shape (batch,) or None
        Real steps per row (None: all ``steps``); padding enters no
        statistic and stays zero in the standardized copy.

    Returns
    -------
    steps : Tensor of shape (batch, steps, 2 * features)
        ``x``, then ``(x - mean) / std`` per feature.
    stats : Tensor of shape (batch, 2 * features)
        Each row's mean as ``sign(mean) * log(1 + |mean|)``, then the log of
        its standard deviation (floored at ``MIN_STD``), per feature.
    """
    dtype = x.dtype
    x = x.double()  # sums over many steps, exact enough for any row order
    if lengths is None:
        mask = torch.ones_like(x[..., :1])
        count = torch.full_like(x[:, 0, :1], x.shape[1])
    else:
        lengths = lengths.to(x.device)
        steps = torch.arange(x.shape[1], device=x.device)
        mask = (steps[None, :] < lengths[:, None]).to(x.dtype)[..., None]
        count = lengths.to(x.dtype)[:, None].clamp_min(1)
    mean = (x * mask).sum(dim=1) / count
    centered = (x - mean[:, None]) * mask
    # floored before the root: sqrt's gradient at 0 is infinite
    var = (centered * centered).sum(dim=1) / count
    std = var.clamp_min(MIN_STD * MIN_STD).sqrt()
    scale = torch.where(std > MIN_STD, std, torch.ones_like(std))
    z = centered / scale[:, None]
    # both bounded for any float32 input (|log| <= 89), so that the head
    # stays finite on inputs far beyond the training range
    symlog = mean.sign() * mean.abs().log1p()
    stats = torch.cat([symlog, std.log()], dim=-1)
    return torch.cat([x, z], dim=-1).to(dtype), stats.to(dtype)
