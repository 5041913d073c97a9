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

from collections.abc import Callable

import torch

from sklstm._engine._masked import step_mask

# standard deviations below this count as a constant series: centered, not
# divided, and its log-scale feature floored here
MIN_STD = 1e-6


def normalize_series(
    x: torch.Tensor, lengths: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each series standardized by its own moments, and its statistics.

    Parameters
    ----------
    x : Tensor of shape (batch, steps, features)
        Raw steps; rows shorter than ``steps`` are padded at the end.
    lengths : Tensor of shape (batch,) or None
        Real steps per row (None: all ``steps``); padding enters no
        statistic and stays zero in the standardized copy.

    Returns
    -------
    z : Tensor of shape (batch, steps, features)
        ``(x - mean) / std`` per row and feature (a constant row: centered).
    stats : Tensor of shape (batch, 2 * features)
        The rows' statistics, as :func:`series_statistics` gives them.
    """
    mean, centered, std = _moments(x, lengths)
    scale = torch.where(std > MIN_STD, std, torch.ones_like(std))
    z = centered / scale[:, None]
    return z.to(x.dtype), _statistics(mean, std).to(x.dtype)


@torch.no_grad()
def series_moments(
    x: torch.Tensor,
    lengths: torch.Tensor | None = None,
    rows: int = 1024,
    read: Callable | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's mean and standard deviation (floored at ``MIN_STD``) per
    feature over its real steps: two float64 ``(batch, features)`` tensors,
    computed ``rows`` rows at a time, so that the float64 copies stay small
    whatever the data's size. ``read(x, lengths)``: what is measured of each
    chunk (default: the chunk itself), e.g. the rows with their asinh view."""
    parts = []
    for i in range(0, len(x), rows):
        chunk, real = (
            x[i : i + rows],
            None if lengths is None else lengths[i : i + rows],
        )
        parts.append(_moments(chunk if read is None else read(chunk, real), real))
    return torch.cat([p[0] for p in parts]), torch.cat([p[2] for p in parts])


def series_statistics(
    x: torch.Tensor, lengths: torch.Tensor | None = None, read: Callable | None = None
) -> torch.Tensor:
    """Each row's mean as ``sign(mean) * log(1 + |mean|)``, then the log of
    its standard deviation, per feature: float64 ``(batch, 2 * features)``
    (``read`` as for :func:`series_moments`)."""
    return _statistics(*series_moments(x, lengths, read=read))


def _moments(x: torch.Tensor, lengths: torch.Tensor | None):
    """Float64 mean, masked centered values and standard deviation."""
    x = x.double()  # sums over many steps, exact enough for any row order
    if lengths is None:
        mask = torch.ones_like(x[..., :1])
        count = torch.full_like(x[:, 0, :1], x.shape[1])
    else:
        mask = step_mask(lengths, x)[..., None]
        count = lengths.to(x.device, x.dtype)[:, None].clamp_min(1)
    mean = (x * mask).sum(dim=1) / count
    centered = (x - mean[:, None]) * mask
    # floored before the root: sqrt's gradient at 0 is infinite
    var = (centered * centered).sum(dim=1) / count
    return mean, centered, var.clamp_min(MIN_STD * MIN_STD).sqrt()


def _statistics(mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    # both bounded for any float32 input (|log| <= 89), so that the head
    # stays finite on inputs far beyond the training range
    symlog = mean.sign() * mean.abs().log1p()
    return torch.cat([symlog, std.log()], dim=-1)
