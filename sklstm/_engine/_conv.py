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

from collections.abc import Iterator
from numbers import Integral

import torch
import torch.nn.functional as F
from torch import nn

from sklstm._engine._masked import batch_norm_own_steps, step_mask


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
    pool_size : int or tuple of int, default=1
        Max pooling after each block but the last: block ``i + 1`` reads
        ``ceil(steps / pool_size[i])`` steps of block ``i`` (windows of
        ``pool_size[i]`` steps, the last one partial). An int pools every
        gap alike; 1: no pooling (the FCN).
    stride : int, default=1
        Stride of the first block's convolution: it computes one window in
        every ``stride`` steps, ``ceil(steps / stride)`` outputs (still
        ``"same"`` padded), which its pooling then reduces.

    Notes
    -----
    Input is ``(batch, steps, in_channels)``; output ``(batch,
    filters[-1])``. With ``lengths`` (padded variable-length rows) the
    padded steps are zeroed before every block and before every pooling,
    and left out of the final mean, so a row's summary reads its own steps
    whatever it is padded to: after the ReLU, a pooling window over a row's
    last steps and zeros gives what those steps alone give. In training,
    batch normalization's statistics also count each row's own steps only.

    On CPU, each block picks its layout (:meth:`time_major_blocks`): narrow
    windows (a univariate or few-channel first block) run time-major, each
    convolution one matrix product over the unfolded windows
    (``Tensor.unfold``), which took 1.2-1.8x less time than ``Conv1d``'s
    layout at the defaults' batches; wide windows with enough work per
    batch (a second block of kernel 5 on long series) run through ``Conv1d``
    and ``max_pool1d``, whose kernels win there (``benchmarks/conv_speed.py``).
    A block hands the next a view, so switching layouts copies nothing but
    the padding. GPUs (unmeasured there) and an ONNX export (which cannot
    unfold a dynamic time axis) run every block, with the same parameters,
    through ``Conv1d`` (``_forward_channels_first``).
    """

    def __init__(
        self,
        in_channels: int,
        filters: tuple[int, ...],
        kernel_sizes: tuple[int, ...],
        pool_size: int | tuple[int, ...] = 1,
        stride: int = 1,
    ) -> None:
        super().__init__()
        if len(filters) != len(kernel_sizes) or not filters:
            raise ValueError(
                f"conv_filters {tuple(filters)} and conv_kernel_sizes "
                f"{tuple(kernel_sizes)} need one entry per block, as many of each."
            )
        gaps = len(filters) - 1
        pools = (
            (int(pool_size),) * gaps
            if isinstance(pool_size, Integral)
            else tuple(int(p) for p in pool_size)
        )
        if len(pools) != gaps or any(p < 1 for p in pools):
            raise ValueError(
                f"conv_pool_size must be a positive int or one per gap between "
                f"the {len(filters)} blocks ({gaps} positive ints), got {pool_size}."
            )
        self.pool_sizes = pools
        if not isinstance(stride, Integral) or stride < 1:
            raise ValueError(f"conv_stride must be a positive int, got {stride!r}.")
        self.stride = int(stride)
        blocks: list[nn.Module] = []
        width = int(in_channels)
        for i, (out, kernel) in enumerate(zip(filters, kernel_sizes, strict=True)):
            # "same" padding written out: PyTorch warns (and copies) for
            # padding="same" with even kernels, such as FCN's 8
            left = (int(kernel) - 1) // 2
            blocks.append(
                nn.Sequential(
                    nn.ConstantPad1d((left, int(kernel) - 1 - left), 0.0),
                    nn.Conv1d(
                        width, int(out), int(kernel), self.stride if i == 0 else 1
                    ),
                    nn.BatchNorm1d(int(out)),
                    nn.ReLU(),
                )
            )
            width = int(out)
        self.blocks = nn.ModuleList(blocks)
        self.in_channels = int(in_channels)
        self.layers = tuple(
            (int(f), int(k)) for f, k in zip(filters, kernel_sizes, strict=True)
        )
        self.out_features = width

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self._run(x, lengths, self.time_major_blocks(x))

    def time_major_blocks(self, x: torch.Tensor) -> tuple[bool, ...]:
        """Per block, whether it runs time-major on the batch ``x``: on CPU
        (outside an ONNX export), up to ``TIME_MAJOR_MAX_WORK`` multiply-adds
        per batch for windows of up to ``TIME_MAJOR_MAX_WINDOW`` values (in
        channels x kernel), up to ``WIDE_TIME_MAJOR_MAX_WORK`` for wider ones."""
        if x.device.type != "cpu" or torch.onnx.is_in_onnx_export():
            return (False,) * len(self.blocks)
        shapes = block_shapes(
            self.in_channels, self.layers, self.pool_sizes, x.shape[1], self.stride
        )
        return tuple(
            x.shape[0] * block_work(shape)
            <= (
                TIME_MAJOR_MAX_WORK
                if shape[0] * shape[2] <= TIME_MAJOR_MAX_WINDOW
                else WIDE_TIME_MAJOR_MAX_WORK
            )
            for shape in shapes
        )

    def _forward_time_major(
        self, x: torch.Tensor, lengths: torch.Tensor | None
    ) -> torch.Tensor:
        """Every block time-major, one product each."""
        return self._run(x, lengths, (True,) * len(self.blocks))

    def _forward_channels_first(
        self, x: torch.Tensor, lengths: torch.Tensor | None
    ) -> torch.Tensor:
        """Every block through ``Conv1d`` and ``max_pool1d``."""
        return self._run(x, lengths, (False,) * len(self.blocks))

    def _run(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor | None,
        time_major: tuple[bool, ...],
    ) -> torch.Tensor:
        """The blocks on ``(batch, steps, channels)``, each in its layout
        (``time_major[i]``); a block hands the next a ``(batch, steps,
        channels)`` view of whatever layout it computed in, so switching
        layouts costs no copy beyond the padding's."""
        if lengths is not None:
            lengths = lengths.to(x.device)
        h = x
        for i, fast in enumerate(time_major):
            block = self._block_time_major if fast else self._block_channels_first
            h, lengths = block(i, h, lengths)
        if lengths is None:
            return h.mean(dim=1)
        mask = step_mask(lengths, h)[..., None]
        return (h * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)

    def _block_time_major(
        self, i: int, h: torch.Tensor, lengths: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Block ``i`` as one product over the unfolded windows of ``h``."""
        pad, conv, norm, relu = self.blocks[i]
        mask = None if lengths is None else step_mask(lengths, h)[..., None]
        if mask is not None:
            h = h * mask
        left, right = pad.padding
        # (batch, steps, channels, kernel): every window, one product
        stride = conv.stride[0]
        cols = F.pad(h, (0, 0, left, right)).unfold(1, conv.kernel_size[0], stride)
        batch, steps = cols.shape[:2]
        weight = conv.weight.reshape(conv.out_channels, -1).t()
        if weight.shape[0] <= NARROW_WINDOW:
            weight = weight.contiguous()
        h = torch.addmm(conv.bias, cols.reshape(batch * steps, -1), weight)
        if stride > 1 and mask is not None:  # a row's own windows
            lengths = _pooled(lengths, stride)
        if mask is not None:
            mask = step_mask(lengths, cols)[..., None]
        # statistics over batch and time: each row's own steps
        h = batch_norm_own_steps(norm, h, mask).view(batch, steps, -1)
        if i < len(self.pool_sizes) and self.pool_sizes[i] > 1:
            pool = self.pool_sizes[i]
            if mask is not None:  # a zero wins a window only where ReLU gives 0
                h = h * mask
                lengths = _pooled(lengths, pool)
            # pool before the ReLU: the same values (a ReLU and a maximum
            # commute), with the ReLU on pool times fewer steps; max_pool1d
            # reads the time-major strides as they are
            h = F.max_pool1d(h.transpose(1, 2), pool, pool, ceil_mode=True)
            h = h.transpose(1, 2)
        return relu(h), lengths

    def _block_channels_first(
        self, i: int, h: torch.Tensor, lengths: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Block ``i`` through ``Conv1d`` and ``max_pool1d`` on ``h``'s
        ``(batch, channels, steps)`` view."""
        pad, conv, norm, relu = self.blocks[i]
        h = h.transpose(1, 2)
        mask = None if lengths is None else step_mask(lengths, h, axis=-1)[:, None]
        if mask is not None:
            h = h * mask
        h = conv(pad(h))
        if conv.stride[0] > 1 and mask is not None:
            lengths = _pooled(lengths, conv.stride[0])
        if mask is None:
            h = norm(h)
        else:
            mask = step_mask(lengths, h, axis=-1)[:, None]
            rows = batch_norm_own_steps(
                norm,
                h.transpose(1, 2).reshape(-1, h.shape[1]),
                mask.transpose(1, 2),
            )
            h = rows.view(h.shape[0], h.shape[2], -1).transpose(1, 2)
        if i < len(self.pool_sizes) and self.pool_sizes[i] > 1:
            pool = self.pool_sizes[i]
            if mask is not None:
                h = h * mask
                lengths = _pooled(lengths, pool)
            h = F.max_pool1d(h, pool, pool, ceil_mode=True)
        return relu(h).transpose(1, 2), lengths


# Per block: time-major products beat Conv1d while a block is bound by memory
# traffic; Conv1d's kernels win on wide windows (in_channels x kernel values)
# with enough multiply-adds per batch. One block with its batch norm, forward
# and backward (benchmarks/conv_speed.py, third table): windows of 48 and 96
# values ran 1.6-2x faster time-major, 192 (the default second block, 64 x 3)
# alike at 18M-22M; 320 values (a second block of kernel 5, the FCN's)
# 1.2-1.26x faster through Conv1d at 30M-40M (OSULeaf's and ACSF1's), 1.1x at
# 12M (GunPoint's), where a whole step still ran best with every block
# time-major (no layout switch). Whole steps of the kernel-5 branch at the
# defaults' batches (first table): 1.1-1.25x faster on OSULeaf, 1.02-1.09x
# on ACSF1 than every block time-major. Above TIME_MAJOR_MAX_WORK even
# narrow blocks take Conv1d: the whole branch ran 1.05-1.15x faster through
# Conv1d at 228M and 451M multiply-adds per batch (OSULeaf pooled by (2, 1),
# unpooled).
TIME_MAJOR_MAX_WINDOW = 128
WIDE_TIME_MAJOR_MAX_WORK = 20_000_000
TIME_MAJOR_MAX_WORK = 200_000_000
# Windows of at most this many values (a univariate first block: 1 x 8) take
# the weights as a contiguous (in * kernel, out) matrix, not a transposed
# view: autograd then forms the weight gradient as windows.T @ grad rather
# than grad.T @ windows, a long reduction into an 8-column result that ran
# 1.2-1.7x slower; from 12 values on the two layouts ran alike or the view
# faster (benchmarks/conv_speed.py, second table)
NARROW_WINDOW = 8


def block_shapes(
    in_channels: int,
    layers: tuple[tuple[int, int], ...],
    pools: tuple[int, ...],
    steps: int,
    stride: int = 1,
) -> Iterator[tuple[int, int, int, int, int]]:
    """Per block, for one sequence of ``steps`` steps: ``(in_channels,
    out_channels, kernel_size, windows computed, steps after its pooling)``.
    ``layers`` holds each block's ``(out_channels, kernel_size)``, ``pools``
    the pooling after each block but the last, ``stride`` the first block's
    stride."""
    width = int(in_channels)
    windows = -(-steps // int(stride))
    for (out, kernel), pool in zip(layers, tuple(pools) + (1,), strict=True):
        pooled = -(-windows // pool)
        yield width, out, kernel, windows, pooled
        width, windows = out, pooled


def multiply_adds(
    in_channels: int,
    layers: tuple[tuple[int, int], ...],
    pools: tuple[int, ...],
    steps: int,
    stride: int = 1,
) -> int:
    """Multiply-adds of the branch's convolutions for one sequence of
    ``steps`` steps (arguments as for :func:`block_shapes`)."""
    return sum(map(block_work, block_shapes(in_channels, layers, pools, steps, stride)))


def block_work(shape: tuple[int, int, int, int, int]) -> int:
    """Multiply-adds of one block's convolution, from its entry of
    :func:`block_shapes`."""
    width, out, kernel, windows, _ = shape
    return width * out * kernel * windows


def _pooled(lengths: torch.Tensor, pool: int) -> torch.Tensor:
    """Each row's steps after pooling by ``pool`` (its last window partial)."""
    return torch.div(lengths + pool - 1, pool, rounding_mode="floor")


__all__ = ["ConvBranch", "block_shapes", "multiply_adds"]
