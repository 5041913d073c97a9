"""Sequence containers and the in-memory batch iterator (numpy and torch only)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset


def fingerprint(*parts) -> str:
    """One digest of arrays, tensors, bytes or None, dtype and shape included:
    equal only for equal values of equal type and shape (the epoch cache's
    keys, a stream's chunk identity)."""
    digest = hashlib.sha256()
    for part in parts:
        if part is None:
            data = b"none"
        elif isinstance(part, bytes):
            data = part
        else:
            array = part.cpu().numpy() if isinstance(part, torch.Tensor) else part
            array = np.ascontiguousarray(array)
            data = f"{array.dtype}{array.shape}".encode() + array.tobytes()
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()


def is_sequence_list(X: object) -> bool:
    """True when ``X`` is a list of sequences rather than one array.

    That is a list, tuple or 1D object array whose items are arrays (numpy,
    torch, pandas: anything with a ``shape``), or whose items' shapes differ.
    A list of equal-length plain lists stays an array, as in scikit-learn.
    The only place that decides it: estimators, transformers and persistence
    all ask here.
    """
    if isinstance(X, np.ndarray):
        if X.dtype != object or X.ndim != 1:
            return False
    elif not isinstance(X, (list, tuple)):
        return False
    if len(X) == 0 or isinstance(X[0], str) or np.ndim(X[0]) == 0:
        return False
    if all(hasattr(x, "shape") for x in X):
        return True
    return len({np.shape(x) for x in X}) > 1


def pad_ragged(
    X: Sequence, *, dtype: type, n_features: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Stack variable-length sequences into a zero-padded array plus lengths.

    Each item is ``(T_i, n_features)`` or ``(T_i,)`` (univariate, or token ids).
    Returns ``(n, T_max, n_features)`` (or ``(n, T_max)`` for 1D items) and the
    lengths. Raises ``ValueError`` naming the offending sample.
    """
    items = []
    for i, x in enumerate(X):
        try:
            arr = np.asarray(x)
        except ValueError as exc:
            raise ValueError(f"Sequence {i} is not a rectangular array: {exc}") from exc
        if arr.dtype.kind not in "biuf":
            raise ValueError(
                f"Sequence {i} has dtype {arr.dtype}; sequences must hold numbers."
            )
        if arr.ndim not in (1, 2):
            raise ValueError(
                f"Sequence {i} has {arr.ndim} dimensions; each sequence must be "
                "(n_timesteps, n_features) or (n_timesteps,)."
            )
        if len(arr) == 0:
            raise ValueError(
                f"Sequence {i} is empty; every sequence needs at least one time step."
            )
        if arr.ndim == 2 and arr.shape[1] == 0:
            raise ValueError(
                f"Sequence {i} has 0 features; every time step needs at least one."
            )
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ValueError(f"Sequence {i} contains NaN or infinity.")
        items.append(arr)
    ndims = {a.ndim for a in items}
    if len(ndims) > 1:
        raise ValueError(
            "Mixing 1D and 2D sequences; give every sequence the same rank."
        )
    widths = {a.shape[1] for a in items} if ndims == {2} else {None}
    if len(widths) > 1:
        rows = {a.shape[0] for a in items}
        hint = ""
        if len(rows) == 1:
            hint = (
                f" Every sequence has {rows.pop()} rows: if they are (n_channels, "
                "n_timepoints), as aeon and sktime hold them, set "
                "data_format='channels_first' (or transpose each one)."
            )
        raise ValueError(
            f"Sequences have different feature counts {sorted(widths)}; every "
            f"sequence must have the same number of features.{hint}"
        )
    width = widths.pop()
    if n_features is not None and width is not None and width != n_features:
        raise ValueError(
            f"X has {width} features per time step, but the estimator is expecting "
            f"{n_features} features as input."
        )
    lengths = np.array([len(a) for a in items], dtype=np.int64)
    shape = (len(items), int(lengths.max())) + (() if width is None else (width,))
    out = np.zeros(shape, dtype=dtype)
    for i, a in enumerate(items):
        out[i, : len(a)] = a
    return out, lengths


Batch = tuple[dict, "torch.Tensor | None"]
"""skorch's ``(X, y)`` batch: ``X`` is ``{"x": inputs}`` plus, when present,
``"lengths"`` (true lengths, on the CPU) and ``"sample_weight"``."""


class SequenceDataset(Dataset):
    """Tensors of one data set, kept whole so batches are slices, not collations.

    ``lengths`` stays on the CPU (``pack_padded_sequence`` wants it there).
    ``per_step``: ``y`` holds one target per time step, padded like ``X``, so
    a batch cuts it to the steps it cuts ``X`` to.
    """

    def __init__(
        self,
        X: torch.Tensor,
        lengths: torch.Tensor | None = None,
        y: torch.Tensor | None = None,
        weight: torch.Tensor | None = None,
        *,
        per_step: bool = False,
    ) -> None:
        self.X, self.lengths, self.y, self.weight = X, lengths, y, weight
        self.per_step = per_step

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i: int) -> Batch:
        return self.batch(slice(i, i + 1))

    def to(self, device: str | torch.device) -> SequenceDataset:
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return SequenceDataset(
            move(self.X),
            self.lengths,
            move(self.y),
            move(self.weight),
            per_step=self.per_step,
        )

    def subset(self, idx: np.ndarray) -> SequenceDataset:
        index = torch.as_tensor(idx, dtype=torch.int64)
        take = lambda t: None if t is None else t[index.to(t.device)]  # noqa: E731
        return SequenceDataset(
            take(self.X),
            take(self.lengths),
            take(self.y),
            take(self.weight),
            per_step=self.per_step,
        )

    def batch(
        self, idx: slice | torch.Tensor, idx_cpu: slice | torch.Tensor | None = None
    ) -> Batch:
        """Rows ``idx`` (a slice, or an index tensor on the data's device)."""
        if idx_cpu is None:
            idx_cpu = idx
        X = self.X[idx]
        y = None if self.y is None else self.y[idx]
        lengths = None
        if self.lengths is not None:
            lengths = self.lengths[idx_cpu]
            longest = int(lengths.max())
            X = X[:, :longest]  # pad per batch, not to the longest sequence overall
            if self.per_step and y is not None:
                y = y[:, :longest]  # the outputs' steps
            if bool((lengths == longest).all()):
                lengths = None  # equal lengths: no packing needed
        inputs = {"x": X}
        if lengths is not None:
            inputs["lengths"] = lengths
        if self.weight is not None:
            inputs["sample_weight"] = self.weight[idx]
        return inputs, y


class BatchIterator:
    """Mini-batches by index slicing of a (shuffled) permutation.

    ``seed`` (a callable) gives the shuffling seed of each pass, read when
    the pass starts: seeding per epoch, not per iterator, makes a fit
    continued over several calls shuffle exactly as one long fit.
    """

    def __init__(
        self,
        dataset: SequenceDataset,
        batch_size: int,
        shuffle: bool = False,
        seed: Callable[[], int] | None = None,
        min_batch: int = 1,
        bucket: bool = False,
    ) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.min_batch = min_batch
        self.bucket = bucket

    def _bounds(self) -> list[int]:
        n = len(self.dataset)
        bounds = list(range(0, n, self.batch_size)) + [n]
        # a too-small final batch (batch norm needs two rows) joins the previous one
        if len(bounds) > 2 and bounds[-1] - bounds[-2] < self.min_batch:
            del bounds[-2]
        return bounds

    def __len__(self) -> int:
        return len(self._bounds()) - 1

    def __iter__(self) -> Iterator[Batch]:
        bounds = self._bounds()
        data = self.dataset
        if not self.shuffle:
            if self.bucket and data.lengths is not None:
                # the rows' order, sorted by length within windows of batches
                order = self._bucketed(torch.arange(len(data)))
                order_dev = order.to(data.X.device)
                for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
                    yield data.batch(order_dev[lo:hi], order[lo:hi])
                return
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
                yield data.batch(slice(lo, hi))
            return
        generator = torch.Generator()
        generator.manual_seed(0 if self.seed is None else self.seed())
        order = torch.randperm(len(data), generator=generator)
        spans = list(zip(bounds[:-1], bounds[1:], strict=True))
        if self.bucket and data.lengths is not None:
            order = self._bucketed(order)
            # batches of similar lengths, visited in random order
            pick = torch.randperm(len(spans), generator=generator).tolist()
            spans = [spans[i] for i in pick]
        order_dev = order.to(data.X.device)
        for lo, hi in spans:
            yield data.batch(order_dev[lo:hi], order[lo:hi])

    def _bucketed(self, order: torch.Tensor) -> torch.Tensor:
        """Sort by length within windows of 50 batches of the shuffled order."""
        window = 50 * self.batch_size
        lengths = self.dataset.lengths
        parts = []
        for lo in range(0, len(order), window):
            chunk = order[lo : lo + window]
            parts.append(chunk[torch.argsort(lengths[chunk], stable=True)])
        return torch.cat(parts)
