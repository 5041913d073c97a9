"""Reading long sequences as patches of consecutive steps.

A patch of ``p`` steps of ``F`` features becomes one LSTM step of ``p * F``
values, so a 150-step series read in patches of 5 is a 30-step sequence: the
recurrence is 5 times shorter and each step sees local shape. This is the
patching of PatchTST (Nie et al., "A Time Series is Worth 64 Words", ICLR
2023), applied to an LSTM.

The estimator decides the patching from the data (:func:`resolve`, numpy);
the network patches its own input (:func:`patch_torch`, its first layer), so
``net_``, ONNX export, streaming and grouped training all read raw steps.
"""

from __future__ import annotations

import numpy as np
import torch

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


def patch_counts(lengths: torch.Tensor, size: int, stride: int) -> torch.Tensor:
    """:func:`n_patches` of an int64 tensor of step counts, in torch."""
    over = (lengths - size).clamp_min(0)
    return torch.div(over + stride - 1, stride, rounding_mode="floor") + 1


def patch_torch(
    x: torch.Tensor, lengths: torch.Tensor | None, size: int, stride: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(n, T, F)`` values as ``(n, n_patches, size * F)`` patches, in torch.

    Patch ``j`` holds steps ``j * stride`` to ``j * stride + size - 1``, time
    step by time step (the features of one step side by side). Steps beyond
    a sequence's end (its padding, and the missing steps of a last partial
    patch) are zeros, so a sequence gives the same patches whatever batch it
    is padded in. ``lengths`` (a CPU int64 tensor, or None) become patch
    counts.

    Only pad, arange, index_select and reshape are used, with the time axis's
    arithmetic on ``x.shape``: under ONNX tracing those sizes are tensors, so
    the exported graph patches any number of steps.

    Parameters
    ----------
    x : torch.Tensor of shape (n, T, F)
        Float inputs, one row per sequence.
    lengths : torch.Tensor of shape (n,) or None
        True step counts of padded rows.
    size, stride : int
        Steps per patch and steps between the starts of two patches
        (``stride <= size``).

    Returns
    -------
    patches : torch.Tensor of shape (n, n_patches(T), size * F)
    counts : torch.Tensor of shape (n,) or None
        Patches per row: ``n_patches(lengths)``.
    """
    if size == 1:
        return x, lengths
    n, steps, width = x.shape
    over = steps - size
    # steps past the first patch; a traced size is a tensor, not an int
    over = over.clamp_min(0) if isinstance(over, torch.Tensor) else max(over, 0)
    # zeros up to the end of the last patch: (count - 1) * stride + size steps
    pad = (size - steps) + over + (-over) % stride
    if isinstance(pad, torch.Tensor) or pad:  # eager: no copy when none is due
        x = torch.nn.functional.pad(x, (0, 0, 0, pad))
    if stride == size:  # non-overlapping: the padded steps, regrouped
        out = x.reshape(n, -1, size * width)
    else:
        # overlapping: gather the steps of every window (unfold has no ONNX
        # export for a dynamic time axis)
        count = (steps + pad - size) // stride + 1
        starts = torch.arange(count, device=x.device) * stride
        index = starts[:, None] + torch.arange(size, device=x.device)
        out = x.index_select(1, index.reshape(-1)).reshape(n, -1, size * width)
    if lengths is not None:
        lengths = patch_counts(lengths, size, stride)
    return out, lengths
