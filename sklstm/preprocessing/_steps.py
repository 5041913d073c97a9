"""Sequences as rows of time steps, and back: the input path of sklstm's
per-step transformers."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from sklstm._data import is_sequence_list
from sklstm._validation import bookkeeping_problem, check_sequences


class Steps(NamedTuple):
    """Every time step of every sequence as a row.

    ``rows`` is float64 ``(n_steps, input_size)``, sequence after sequence;
    ``lengths`` the steps per sequence; ``restore`` puts rows of any width
    ``W`` back into the form of the input (see :func:`sequence_steps`).
    """

    rows: np.ndarray
    lengths: np.ndarray
    restore: Callable[[np.ndarray], object]


def sequence_steps(est, X, *, reset: bool, data_format: str) -> Steps:
    """Validate ``X`` for ``est`` (recording its input bookkeeping on
    ``reset``) and flatten its real steps, never padding, into rows.

    ``restore(rows)`` rebuilds the input's form from ``(n_steps, W)`` rows:
    a list of ``(T_i, W)`` items (``(W, T_i)`` channels-first), or an array
    ``(n, T, W)`` (``(n, W, T)`` channels-first). Where the input held
    univariate sequences (2D, or 1D items) and ``W == 1``, the output keeps
    that form.
    """
    as_list = is_sequence_list(X)
    values, lengths, width = check_sequences(
        est, X, reset=reset, as_list=as_list, data_format=data_format
    )
    first = data_format == "channels_first"
    one_d = values.ndim == 2
    if as_list:
        mask = np.arange(values.shape[1]) < lengths[:, None]
        rows = values.reshape(len(values), values.shape[1], width)[mask]
        cuts = np.cumsum(lengths)[:-1]

        def restore(out):
            parts = np.split(out, cuts)
            if one_d and out.shape[1] == 1:
                return [p[:, 0] for p in parts]
            return [p.T for p in parts] if first else parts

        return Steps(rows, np.asarray(lengths), restore)
    n, steps = values.shape[:2]

    def restore(out):
        if one_d and out.shape[1] == 1:
            return out.reshape(n, steps)
        out = out.reshape(n, steps, out.shape[1])
        return np.swapaxes(out, 1, 2) if first else out

    rows = values.reshape(-1, width).astype(np.float64, copy=False)
    return Steps(rows, np.full(n, steps), restore)


class StepwiseMixin:
    """What sklstm's per-step transformers share: their input path (a
    ``data_format`` parameter), their tags and the first checks of a
    restored state."""

    def _steps(self, X, *, reset: bool) -> Steps:
        return sequence_steps(self, X, reset=reset, data_format=self.data_format)

    def _restored_input_size(self) -> int | None:
        """``input_size_`` of a restored fitted state whose input bookkeeping
        ``fit`` could have written (None for an unfitted template, such as a
        meta-estimator's parameter); raises ``ValueError`` naming the first
        entry it could not."""
        if not any(k.endswith("_") and not k.startswith("_") for k in vars(self)):
            return None
        problem = bookkeeping_problem(self.__dict__)
        if problem is not None:
            raise ValueError(f"{problem[0]} must be {problem[1]}.")
        return self.input_size_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags
