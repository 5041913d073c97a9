"""Training-time augmentation of a batch of sequences: pure torch.

Random crops ("window slicing"): each training series is replaced, at every
step, by a random window holding a fixed share of its own steps, as in Le
Guennec, Malinowski and Tavenard, "Data Augmentation for Time Series
Classification using Convolutional Neural Networks", ECML/PKDD Workshop on
Advanced Analytics and Learning on Temporal Data, 2016.
"""

from __future__ import annotations

import torch


def random_crop(
    x: torch.Tensor,
    lengths: torch.Tensor | None,
    fraction: float,
    grid: int = 1,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Keep a random window of ``fraction`` of each row's steps.

    Parameters
    ----------
    x : Tensor of shape (batch, steps, features)
        Padded rows (raw time steps).
    lengths : Tensor of shape (batch,) or None
        Each row's own steps; None when every row has all ``steps``.
    fraction : float in (0, 1]
        Share of a row's steps its window keeps (rounded down, at least 1).
    grid : int, default=1
        Windows start at multiples of ``grid`` steps: a strided first
        convolution then reads each window on the grid it reads the whole
        series on (on ACSF1, whose values repeat every 4 steps, windows
        starting anywhere left a stride-2 branch unable to fit its
        training series).

    Returns
    -------
    x : Tensor of shape (batch, window, features)
        The windows, left-aligned; a row's steps past its own window are 0.
    lengths : Tensor of shape (batch,) or None
        Each row's window length, on the device and with the dtype of
        ``lengths`` (None when ``lengths`` is None: the windows are then
        equally long).
    """
    batch, steps, width = x.shape
    if fraction >= 1 or steps == 0:
        return x, lengths
    device = x.device
    own = (
        torch.full((batch,), steps, device=device, dtype=torch.long)
        if lengths is None
        else lengths.to(device=device, dtype=torch.long)
    )
    keep = torch.clamp(torch.floor(own * fraction).long(), min=1)
    starts = torch.div(own - keep, grid, rounding_mode="floor") + 1  # per row
    start = torch.floor(torch.rand(batch, device=device) * starts).long() * grid
    window = int(keep.max())
    t = torch.arange(window, device=device)
    index = (start[:, None] + t).clamp(max=steps - 1)
    out = torch.gather(x, 1, index[..., None].expand(batch, window, width))
    if lengths is None:
        return out, None
    out = out * (t < keep[:, None])[..., None].to(out.dtype)
    return out, keep.to(device=lengths.device, dtype=lengths.dtype)
