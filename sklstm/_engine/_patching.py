"""Reading long sequences as patches of consecutive steps (numpy only).

A patch of ``p`` steps of ``F`` features becomes one LSTM step of ``p * F``
values, so a 150-step series read in patches of 5 is a 30-step sequence: the
recurrence is 5 times shorter and each step sees local shape. This is the
patching of PatchTST (Nie et al., "A Time Series is Worth 64 Words", ICLR
2023), applied to an LSTM.
"""

from __future__ import annotations

import numpy as np

# "auto": patch sequences longer than this, into about AUTO_PATCHES patches
AUTO_LONGEST = 100
AUTO_PATCHES = 32


def resolve(patch_size, patch_stride, longest: int) -> tuple[int, int]:
    """``(patch_size_, patch_stride_)``; 1 means no patching.

    ``"auto"`` patches sequences longer than ``AUTO_LONGEST`` steps into about
    ``AUTO_PATCHES`` non-overlapping patches, and leaves shorter ones alone.
    """
    if patch_size == "auto":
        size = -(-longest // AUTO_PATCHES) if longest > AUTO_LONGEST else 1
    else:
        size = 1 if patch_size is None else int(patch_size)
    stride = size if patch_stride is None else int(patch_stride)
    if stride > size:
        raise ValueError(
            f"patch_stride={stride} is larger than patch_size={size}: steps between "
            "patches would be skipped. Use patch_stride <= patch_size."
        )
    return size, stride


def n_patches(length, size: int, stride: int):
    """Patches covering ``length`` steps (the last one may be partial)."""
    length = np.asarray(length)
    return np.where(length > size, -(-(length - size) // stride) + 1, 1)


def patch(
    values: np.ndarray, lengths: np.ndarray | None, size: int, stride: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(n, T, F)`` values as ``(n, n_patches, size * F)`` patches.

    Steps beyond a sequence's end (its padding, and the missing steps of a
    last partial patch) are zeros, so a sequence gives the same patches
    whatever batch it is padded in. ``lengths`` become patch counts.
    """
    if size == 1:
        return values, lengths
    n, steps, width = values.shape
    count = int(n_patches(steps, size, stride))
    total = (count - 1) * stride + size
    if total > steps:
        values = np.concatenate(
            [values, np.zeros((n, total - steps, width), values.dtype)], axis=1
        )
    if stride == size:
        out = values[:, :total].reshape(n, count, size * width)
    else:
        windows = np.lib.stride_tricks.sliding_window_view(values, size, axis=1)
        out = windows[:, ::stride][:, :count]  # (n, count, F, size)
        out = np.ascontiguousarray(out.transpose(0, 1, 3, 2)).reshape(
            n, count, size * width
        )
    if lengths is not None:
        lengths = n_patches(lengths, size, stride).astype(np.int64)
    return out, lengths
