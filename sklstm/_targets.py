"""Targets: label encoding, class weights, target scaling, output mapping.

Small pieces shared by the estimators (fit and predict), ONNX export (the
mapping inside the graph) and persistence (the fitted attributes they set).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import expit, softmax
from sklearn.utils.class_weight import compute_class_weight


def scaling(y: np.ndarray, sample_weight, n_outputs: int, enabled: bool):
    """Per-output mean and standard deviation of ``y`` (weighted like the loss).

    Returns ``(mean, scale)`` of shape ``(n_outputs,)``; ``(0, 1)`` when
    ``enabled`` is false, and scale 1 for a constant output.
    """
    k = n_outputs
    if not enabled:
        return np.zeros(k), np.ones(k)
    flat = y.reshape(len(y), -1, k)  # (samples, steps, outputs)
    w = np.ones(len(y)) if sample_weight is None else sample_weight
    w = np.broadcast_to(w[:, None], flat.shape[:2]).ravel()
    flat = flat.reshape(-1, k)
    # divided by the largest magnitude first, so squaring cannot overflow
    top = np.abs(flat).max(axis=0)
    top = np.where(top > 0, top, 1.0)
    unit = flat / top
    # weighted like the loss, so weights act exactly as repeated rows
    mean = np.average(unit, axis=0, weights=w)
    scale = np.sqrt(np.average((unit - mean) ** 2, axis=0, weights=w))
    return mean * top, np.where(scale > 0, scale * top, 1.0)


def class_weights(class_weight, classes: np.ndarray, encoded: np.ndarray):
    """One loss weight per class, averaging 1 over the training labels.

    ``class_weight`` is a ``{label: weight}`` dict or ``"balanced"``
    (computed from ``encoded``, the training labels as class indices).
    """
    if isinstance(class_weight, dict):
        values = np.asarray(list(class_weight.values()), dtype=float)
        if not (np.isfinite(values).all() and (values >= 0).all() and values.any()):
            raise ValueError(
                "class_weight values must be finite, non-negative and not all "
                f"zero, got {class_weight!r}."
            )
    present = np.unique(encoded)
    weights = np.ones(len(classes))
    weights[present] = compute_class_weight(
        class_weight, classes=classes[present], y=classes[encoded]
    )
    return weights / weights[encoded].mean()


def probabilities(raw: np.ndarray, multilabel: bool) -> np.ndarray:
    """Network outputs (logits) as class probabilities (numpy)."""
    return expit(raw) if multilabel else softmax(raw, axis=-1)


def probabilities_torch(raw: torch.Tensor, multilabel: bool) -> torch.Tensor:
    """:func:`probabilities` in torch, for graphs (ONNX)."""
    return torch.sigmoid(raw) if multilabel else torch.softmax(raw, dim=-1)
