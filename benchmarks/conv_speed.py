"""The convolutional branch's training step: time-major products vs Conv1d.

    python benchmarks/conv_speed.py [--repeats 7] [--steps 30]

``ConvBranch`` runs each block one of two ways: time-major, the
convolution one matrix product over the unfolded windows
(``_forward_time_major`` runs every block so), or through ``Conv1d`` with
``max_pool1d`` (``_forward_channels_first``: every block, the ONNX export's
path, and what sklstm ran first). Its ``forward`` picks per block
(``ConvBranch.time_major_blocks``). This times one optimizer step (forward,
backward, Adam) of the default branch (``LSTMClassifier``'s
``conv_filters`` and ``conv_kernel_sizes``) through the three, at the
batch sizes and lengths the defaults give three UCR collections with
``"auto"`` pooling (and stride: ACSF1's 1460 steps, strided by 2, then
unstrided), and on OSULeaf and ACSF1 with less pooling, on 1 and 2 torch
threads. Each row is the median over ``--repeats`` runs of ``--steps``
steps, the paths alternated in every run, so that a busy machine slows
them alike.

A second table times each block's product alone (forward and backward, at
each of the first four shapes' batch and lengths) with the weights passed
as a transposed view and as a contiguous matrix: autograd forms the weight
gradient in the layout of the matrix it was given. ``_forward_time_major``
passes the contiguous matrix for windows of up to ``NARROW_WINDOW`` values.

A third table times one block with its batch normalization in each layout
(forward and backward, 1 thread), at windows from 48 to 384 values: the
evidence for ``TIME_MAJOR_MAX_WINDOW`` and ``WIDE_TIME_MAJOR_MAX_WORK``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sklstm import LSTMClassifier  # noqa: E402
from sklstm._engine._conv import (  # noqa: E402
    ConvBranch,
    block_shapes,
    multiply_adds,
)

# (collection, batch size, steps, pooling): the defaults' batches and "auto"
# pooling, then OSULeaf pooled less (more work per batch)
# the default branch: filters and kernel widths, and (filters, width) per block
FILTERS = LSTMClassifier().conv_filters
KERNELS = LSTMClassifier().conv_kernel_sizes
DEFAULT_LAYERS = tuple(zip(FILTERS, KERNELS, strict=True))
SHAPES = [
    ("GunPoint", 8, 150, (4, 4), 1),
    ("OSULeaf", 16, 427, (7, 4), 1),
    ("ACSF1", 16, 1460, (12, 4), 2),  # "auto" strides from 1000 steps
    ("ACSF1", 16, 1460, (23, 4), 1),
    ("OSULeaf", 16, 427, (4, 4), 1),
    ("ACSF1", 16, 1460, (4, 4), 1),
    ("OSULeaf", 16, 427, (2, 1), 1),
    ("OSULeaf", 16, 427, (1, 1), 1),
]


def step_ms(branch: ConvBranch, x: torch.Tensor, path: str, steps: int) -> float:
    forward = {
        "time-major": branch._forward_time_major,
        "Conv1d": branch._forward_channels_first,
        "per block": branch.forward,
    }[path]
    optimizer = torch.optim.Adam(branch.parameters())
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad()
        forward(x, None).square().mean().backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    saved = torch.get_num_threads()
    print(
        "| collection | batch x steps | pooling, stride | M multiply-adds per batch | "
        "blocks time-major | threads | Conv1d ms | time-major ms | per block ms | "
        "Conv1d / per block | time-major / per block |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, batch, steps, pools, stride in SHAPES:
        layers = DEFAULT_LAYERS
        work = batch * multiply_adds(1, layers, pools, steps, stride)
        for threads in (1, 2):
            torch.set_num_threads(threads)
            torch.manual_seed(0)
            branch = ConvBranch(1, FILTERS, KERNELS, pools, stride).train()
            x = torch.randn(batch, steps, 1)
            takes = ", ".join(
                str(i + 1) for i, fast in enumerate(branch.time_major_blocks(x)) if fast
            )
            times = {"Conv1d": [], "time-major": [], "per block": []}
            for _ in range(args.repeats):
                for path in times:
                    step_ms(branch, x, path, 2)  # warm-up
                    times[path].append(step_ms(branch, x, path, args.steps))
            old, new, mixed = (statistics.median(t) for t in times.values())
            print(
                f"| {name} | {batch} x {steps} | {pools}, {stride} | "
                f"{work / 1e6:.0f} | {takes} | {threads} | {old:.2f} | "
                f"{new:.2f} | {mixed:.2f} | {old / mixed:.2f}x | {new / mixed:.2f}x |"
            )
    torch.set_num_threads(1)
    weight_layouts(args.repeats, args.steps)
    block_layouts(args.repeats, args.steps)
    torch.set_num_threads(saved)


def product_ms(cols, weight, bias, contiguous: bool, steps: int) -> float:
    """One block's product, forward and backward, in milliseconds."""
    start = time.perf_counter()
    for _ in range(steps):
        matrix = weight.reshape(weight.shape[0], -1).t()
        matrix = matrix.contiguous() if contiguous else matrix
        torch.addmm(bias, cols, matrix).square().mean().backward()
    return (time.perf_counter() - start) / steps * 1000


def weight_layouts(repeats: int, steps: int) -> None:
    print()
    print("| block | rows x (in x kernel) -> out | view ms | contiguous ms | ratio |")
    print("|---|---|---|---|---|")
    for name, batch, length, pools, stride in SHAPES[:4]:
        layers = DEFAULT_LAYERS
        shapes = block_shapes(1, layers, pools, length, stride)
        for i, (width, out, kernel, read, _) in enumerate(shapes):
            cols = torch.randn(batch * read, width * kernel)
            weight = torch.randn(out, width, kernel, requires_grad=True)
            bias = torch.zeros(out, requires_grad=True)
            times = {False: [], True: []}
            for _ in range(repeats):
                for contiguous in times:
                    product_ms(cols, weight, bias, contiguous, 2)
                    times[contiguous].append(
                        product_ms(cols, weight, bias, contiguous, steps)
                    )
            old, new = (statistics.median(times[c]) for c in (False, True))
            print(
                f"| {name} {'strided ' * (stride > 1)}{i + 1} | {batch * read} x "
                f"{width * kernel} -> {out} | {old:.2f} | {new:.2f} | "
                f"{old / new:.2f}x |"
            )


# (batch, steps read, in channels, out channels, kernel): first blocks of
# multivariate collections (BasicMotions' 6 channels, JapaneseVowels' 12, 24)
# and the default branch's second and third blocks at the defaults' batches
BLOCKS = [
    (8, 100, 6, 64, 8),
    (32, 26, 12, 64, 8),
    (16, 100, 24, 64, 8),
    (8, 38, 64, 128, 5),
    (16, 46, 64, 128, 5),
    (16, 61, 64, 128, 5),
    (16, 46, 64, 128, 3),
    (16, 55, 64, 128, 3),
    (16, 12, 128, 64, 3),
    (16, 16, 128, 64, 3),
]


def block_ms(branch: ConvBranch, x: torch.Tensor, path: str, steps: int) -> float:
    """One block with its batch normalization, forward and backward."""
    forward = (
        branch._forward_time_major
        if path == "time-major"
        else branch._forward_channels_first
    )
    start = time.perf_counter()
    for _ in range(steps):
        forward(x, None).square().mean().backward()
    return (time.perf_counter() - start) / steps * 1000


def block_layouts(repeats: int, steps: int) -> None:
    """The evidence for ``TIME_MAJOR_MAX_WINDOW`` and
    ``WIDE_TIME_MAJOR_MAX_WORK``: one block in each layout, 1 thread."""
    print()
    print(
        "| batch x steps | window (in x kernel) -> out | M multiply-adds per batch "
        "| time-major ms | Conv1d ms | time-major / Conv1d |"
    )
    print("|---|---|---|---|---|---|")
    for batch, length, width, out, kernel in BLOCKS:
        torch.manual_seed(0)
        branch = ConvBranch(width, (out,), (kernel,)).train()
        x = torch.randn(batch, length, width, requires_grad=True)
        times = {"time-major": [], "Conv1d": []}
        for _ in range(repeats):
            for path in times:
                block_ms(branch, x, path, 2)
                times[path].append(block_ms(branch, x, path, steps))
        mine, theirs = (statistics.median(t) for t in times.values())
        work = batch * length * width * out * kernel / 1e6
        print(
            f"| {batch} x {length} | {width} x {kernel} -> {out} | {work:.0f} | "
            f"{mine:.2f} | {theirs:.2f} | {mine / theirs:.2f}x |"
        )


if __name__ == "__main__":
    main()
