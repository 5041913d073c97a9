"""The asinh view of each feature: a log scale for series whose sizes span
decades (pure torch and numpy).

``asinh(v)`` is linear near zero and about ``sign(v) * log(2 |v|)`` beyond
it, defined at zero and for negative values (Burbidge, Magee and Robb,
"Alternative Transformations to Handle Extreme Values of the Dependent
Variable", JASA 83(401), 1988). The network takes it on what it reads,
about a reference level fitted on the training steps, so that a scaler
before it (which moves the data's zero) changes nothing.
"""

from __future__ import annotations

import numpy as np
import torch

from sklstm._engine._masked import step_mask
from sklstm._engine._series import MIN_STD, series_moments

# the scale: this percentile of the training series' own standard deviations,
# so that all but the smallest series reach the logarithmic part (PLAID, the
# view before the scaler: 0.901 at the 10th, 0.895 at the 25th, 0.870 at the
# 50th; benchmarks/results/accuracy.md)
SCALE_PERCENTILE = 10.0
# the network's reference level: this percentile of the training values, near
# the zero of data that are sizes (PLAID after the scaler: 0.901 at the 5th,
# 0.898 at the median)
REFERENCE_PERCENTILE = 5.0
# about this many training steps per feature enter the reference level
REFERENCE_SAMPLE = 1 << 22
# the quotient is bounded here (asinh 42.1), so that inputs far past the
# training range, where x - reference or the quotient would overflow, and
# their squares below, stay finite in float32
_BOUND = 1e18


def asinh_scale(std: np.ndarray) -> np.ndarray:
    """Per feature, ``SCALE_PERCENTILE`` of the standard deviations ``std``
    ``(n_series, n_features)`` of the series that vary (above ``MIN_STD``);
    1 for a feature no series varies in."""
    scale = np.ones(std.shape[1])
    for j in range(std.shape[1]):
        varying = std[:, j][std[:, j] > MIN_STD]
        if len(varying):
            scale[j] = np.percentile(varying, SCALE_PERCENTILE)
    return scale


def asinh_view(
    x: torch.Tensor,
    lengths: torch.Tensor | None,
    reference: torch.Tensor,
    scale: torch.Tensor,
    center: torch.Tensor,
    spread: torch.Tensor,
) -> torch.Tensor:
    """``x`` ``(batch, steps, features)`` followed by its standardized asinh
    view: ``(asinh((x - reference) / scale) - center) / spread`` per feature,
    zero on padding (rows shorter than ``lengths``), ``(batch, steps,
    2 * features)``."""
    ratio = ((x - reference) / scale).clamp(-_BOUND, _BOUND)
    view = (_asinh(ratio) - center) / spread
    if lengths is not None:
        view = view * step_mask(lengths, view)[..., None]
    return torch.cat([x, view.to(x.dtype)], dim=-1)


def _asinh(v: torch.Tensor) -> torch.Tensor:
    """``asinh(v)`` from operators every ONNX exporter has (torch's exporter
    has no ``aten::asinh``): ``log1p(a + a^2 / (1 + sqrt(1 + a^2)))`` with
    ``a = |v|``, exact near 0 and never overflowing before ``a^2`` does."""
    a = v.abs()
    return torch.sign(v) * torch.log1p(a + a * a / (1 + torch.sqrt(1 + a * a)))


@torch.no_grad()
def fit_asinh_view(
    x: torch.Tensor, lengths: torch.Tensor | None, keep: torch.Tensor | None = None
) -> tuple[torch.Tensor, ...]:
    """The view's ``reference``, ``scale``, ``center`` and ``spread``
    (float64, one per feature) from the training rows ``x`` ``(batch, steps,
    features)`` (``keep``: the rows that count, e.g. of positive weight).

    The reference is the ``REFERENCE_PERCENTILE`` of the real steps' values
    (of every k-th row, for about ``REFERENCE_SAMPLE`` steps, on larger data),
    the scale :func:`asinh_scale` of the rows' standard deviations, and the
    center and spread the view's mean and standard deviation over the
    sampled steps (a spread below ``MIN_STD`` counts as 1)."""
    x = x.cpu()  # a handful of numpy percentiles, once per fit
    lengths = None if lengths is None else lengths.cpu()
    if keep is not None:
        keep = keep.cpu()
        x = x[keep]
        lengths = None if lengths is None else lengths[keep]
    _, std = series_moments(x, lengths)
    scale = asinh_scale(std.numpy())
    # every few rows, so that no copy of the whole training set is made
    steps = x.shape[1] * len(x) if lengths is None else int(lengths.sum())
    every = max(1, -(-steps // REFERENCE_SAMPLE))
    x = x[::every]
    if lengths is None:
        values = x.reshape(-1, x.shape[-1])
    else:
        values = x[step_mask(lengths[::every], x[..., 0]).bool()]
    values = values.double().numpy()
    reference = np.percentile(values, REFERENCE_PERCENTILE, axis=0)
    view = np.arcsinh((values - reference) / scale)
    center, spread = view.mean(axis=0), view.std(axis=0)
    spread = np.where(spread > MIN_STD, spread, 1.0)
    return tuple(torch.from_numpy(v) for v in (reference, scale, center, spread))
