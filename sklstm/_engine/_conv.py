"""The fully convolutional branch of LSTM-FCN: pure torch.

Wang, Yan and Oates, "Time Series Classification from Scratch with Deep
Neural Networks: A Strong Baseline", IJCNN 2017 (the FCN: three blocks of a
1D convolution, batch normalization and ReLU, then global average pooling),
used beside the LSTM as in Karim, Majumdar, Darabi and Chen, "LSTM Fully
Convolutional Networks for Time Series Classification", IEEE Access 2018,
and its multivariate form (MLSTM-FCN, Neural Networks 2019).

Unlike the FCN, the blocks may be separated by max pooling over time
(``pool_size``), as in the convolutional networks of Zheng et al., "Time
Series Classification Using Multi-Channels Deep Convolutional Neural
Networks", WAIM 2014: each block then reads a coarser sequence, so the last
block's receptive field spans a long stretch of the series and the blocks
after the first cost a fraction of the time. Measured on the long UCR series
of ``benchmarks/accuracy.py`` it is both more accurate and several times
faster (user guide, "Accuracy against MiniRocket").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvBranch(nn.Module):
    """Convolution blocks over time and a masked global average pool.

    Parameters
    ----------
    in_channels : int
        Features per time step.
    filters : tuple of int
        Output channels of each block.
    kernel_sizes : tuple of int
        Kernel width of each block, in the steps that block reads (``"same"``
        padding, so a block keeps the length of its input).
    pool_size : int, default=1
        Max pooling between consecutive blocks: each block after the first
        reads ``ceil(steps / pool_size)`` steps of the one before (windows of
        ``pool_size`` steps, the last one partial). 1: no pooling (the FCN).

    Notes
    -----
    Input is ``(batch, steps, in_channels)``; output ``(batch,
    filters[-1])``. With ``lengths`` (padded variable-length rows) the
    padded steps are zeroed before every block and before every pooling,
    and left out of the final mean, so a row's summary reads its own steps
    whatever it is padded to: after the ReLU, a pooling window over a row's
    last steps and zeros gives what those steps alone give. (Batch
    normalization's statistics still count the zeroed steps.)
    """

    def __init__(
        self,
        in_channels: int,
        filters: tuple[int, ...],
        kernel_sizes: tuple[int, ...],
        pool_size: int = 1,
    ) -> None:
        super().__init__()
        if len(filters) != len(kernel_sizes) or not filters:
            raise ValueError(
                f"conv_filters {tuple(filters)} and conv_kernel_sizes "
                f"{tuple(kernel_sizes)} need one entry per block, as many of each."
            )
        blocks: list[nn.Module] = []
        width = int(in_channels)
        for out, kernel in zip(filters, kernel_sizes, strict=True):
            # "same" padding written out: PyTorch warns (and copies) for
            # padding="same" with even kernels, such as FCN's 8
            left = (int(kernel) - 1) // 2
            blocks.append(
                nn.Sequential(
                    nn.ConstantPad1d((left, int(kernel) - 1 - left), 0.0),
                    nn.Conv1d(width, int(out), int(kernel)),
                    nn.BatchNorm1d(int(out)),
                    nn.ReLU(),
                )
            )
            width = int(out)
        self.blocks = nn.ModuleList(blocks)
        self.out_features = width
        self.pool_size = int(pool_size)
        if self.pool_size < 1:
            raise ValueError(f"conv_pool_size must be at least 1, got {pool_size}.")

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> torch.Tensor:
        h = x.transpose(1, 2)  # (batch, channels, steps): Conv1d's layout
        if lengths is not None:
            lengths = lengths.to(h.device)
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            mask = None if lengths is None else _mask(lengths, h)
            if mask is not None:
                h = h * mask
            if i == last or self.pool_size == 1:
                h = block(h)
                continue
            # pool before the ReLU: the same values (a ReLU and a maximum
            # commute), with the ReLU on pool_size times fewer steps
            pad, conv, norm, relu = block
            h = norm(conv(pad(h)))
            if mask is not None:  # a zero wins a window only where the ReLU gives 0
                h = h * mask
                lengths = torch.div(
                    lengths + self.pool_size - 1, self.pool_size, rounding_mode="floor"
                )
            h = relu(F.max_pool1d(h, self.pool_size, self.pool_size, ceil_mode=True))
        if lengths is None:
            return h.mean(dim=-1)
        mask = _mask(lengths, h)
        return (h * mask).sum(dim=-1) / mask.sum(dim=-1).clamp(min=1.0)


def _mask(lengths: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """``(batch, 1, steps)``: 1 on each row's own steps of ``h``, 0 after."""
    steps = torch.arange(h.shape[-1], device=h.device)
    return (steps[None, :] < lengths[:, None]).to(h.dtype)[:, None, :]


__all__ = ["ConvBranch"]
