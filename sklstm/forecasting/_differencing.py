"""Differencing as lag polynomials: forward on inputs and targets, inverted at predict.

A set of lags ``(d1, d2, ...)`` is the operator ``(1 - B^d1)(1 - B^d2)...``
with ``B`` the backshift. Inputs use the lags as given. The target ``k``
steps ahead uses each lag raised to at least ``k`` (``max(d, k)``), so that
its inversion only reads values known ``k`` steps earlier: a forecast of a
change from the last observed value (lag 1) or from the same season last
period (lag 12), never from a value not yet seen.
"""

from __future__ import annotations

import numpy as np


def lag_polynomial(lags: tuple[int, ...]) -> np.ndarray:
    """Coefficients ``c`` of ``prod(1 - B^d)``: ``c[j]`` multiplies ``B^j``."""
    coef = np.array([1.0])
    for d in lags:
        factor = np.zeros(d + 1)
        factor[0], factor[d] = 1.0, -1.0
        coef = np.convolve(coef, factor)
    return coef


def apply(values: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """``prod(1 - B^d)`` applied along axis 0; the first ``order`` rows are NaN."""
    order = len(coef) - 1
    out = np.full(values.shape, np.nan)
    if order < len(values):
        out[order:] = sum(
            c * values[order - j : len(values) - j]
            for j, c in enumerate(coef)
            if c != 0
        )
    return out


def target_polynomials(lags: tuple[int, ...], horizon: int) -> list[np.ndarray]:
    """One polynomial per step ahead ``k = 1..horizon`` (lags raised to ``k``)."""
    return [
        lag_polynomial(tuple(max(d, k) for d in lags)) for k in range(1, horizon + 1)
    ]


def invert(change: np.ndarray, past: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """Levels from forecast changes: ``y = change - sum_j c[j] * y[t - j]``.

    ``past[i]`` holds the levels before the target of row ``i``, most recent
    last, at least ``len(coef) - 1`` of them: shape ``(n, >= order, ...)``.
    """
    level = change.copy()
    for j, c in enumerate(coef[1:], start=1):
        if c != 0:
            level -= c * past[:, past.shape[1] - j]
    return level
