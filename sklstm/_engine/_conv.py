"""The fully convolutional branch of LSTM-FCN: pure torch.

Wang, Yan and Oates, "Time Series Classification from Scratch with Deep
Neural Networks: A Strong Baseline", IJCNN 2017 (the FCN: three blocks of a
1D convolution, batch normalization and ReLU, then global average pooling),
used beside the LSTM as in Karim, Majumdar, Darabi and Chen, "LSTM Fully
Convolutional Networks for Time Series Classification", IEEE Access 2018,
and its multivariate form (MLSTM-FCN, Neural Networks 2019).
"""

from __future__ import annotations

import torch
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
        Kernel width of each block, in time steps (``"same"`` padding, so
        every block keeps the sequence length).

    Notes
    -----
    Input is ``(batch, steps, in_channels)``; output ``(batch,
    filters[-1])``. With ``lengths`` (padded variable-length rows) the
    padded steps are zeroed before every block and left out of the pooled
    mean, so a row's summary reads its own steps (batch normalization's
    statistics still count the zeroed steps).
    """

    def __init__(
        self, in_channels: int, filters: tuple[int, ...], kernel_sizes: tuple[int, ...]
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

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> torch.Tensor:
        h = x.transpose(1, 2)  # (batch, channels, steps): Conv1d's layout
        mask = None
        if lengths is not None:
            steps = torch.arange(h.shape[-1], device=h.device)
            mask = (steps[None, :] < lengths.to(h.device)[:, None]).to(h.dtype)
            mask = mask[:, None, :]
        for block in self.blocks:
            if mask is not None:
                h = h * mask
            h = block(h)
        if mask is None:
            return h.mean(dim=-1)
        return (h * mask).sum(dim=-1) / mask.sum(dim=-1).clamp(min=1.0)


__all__ = ["ConvBranch"]
