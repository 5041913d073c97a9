"""Input checks of the LSTM estimators: sequences, token ids, patches, targets.

A mixin of ``_BaseLSTM``: it reads the estimator's parameters and records
what ``fit`` learns about the input (``input_size_``, ``vocab_size_``,
``patch_size_``, ...); the data contract itself is ``sklstm._validation``.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from sklstm._data import SequenceDataset, is_sequence_list
from sklstm._engine import _build, _patching
from sklstm._validation import MAX_VOCAB, check_sequences


class SequenceInputMixin:
    """Validation of ``X`` and ``y`` for the sklstm estimators."""

    def _check_X(self, X, *, reset: bool) -> SequenceDataset:
        """Validate ``X`` into tensors; on ``reset`` record the input's shape."""
        tokens = self.embedding_dim is not None
        if reset and not tokens and _looks_like_token_ids(X):
            warnings.warn(
                "X is a list of integer sequences, read here as float magnitudes. "
                "If they are token ids (e.g. TextSequencer output), set "
                "embedding_dim (say 32) so that each id gets an embedding vector.",
                UserWarning,
                stacklevel=4,
            )
        dtype = np.int64 if tokens else np.float32
        # token ids are free-length text, never fixed columns; a stateful model
        # streams chunks of any length
        free = tokens or (self.stateful and not reset)
        values, lengths, _ = check_sequences(
            self, X, reset=reset, free_length=free, data_format=self.data_format
        )
        if tokens:
            if self.patch_size not in ("auto", None, 1):
                raise ValueError(
                    "patch_size applies to numeric sequences; token ids (with "
                    "embedding_dim) are not patched. Set patch_size=None."
                )
            values = self._check_tokens(values, reset=reset)
            if reset:
                self.patch_size_, self.patch_stride_ = 1, 1
                self.lstm_steps_ = int(values.shape[1])
                self.conv_branch_, self.conv_pool_size_ = False, ()
                self.conv_stride_ = 1
            if values.ndim == 3:
                raise ValueError(
                    "With embedding_dim set, X holds token ids: give 2D "
                    "(n_samples, n_timesteps) or a list of 1D id sequences."
                )
            if lengths is None and values.size:
                lengths = _token_lengths(values)
        else:
            if values.dtype == np.float64 and values.size:
                top = max(values.max(), -values.min())  # no temporary copy
                if top > np.finfo(np.float32).max:
                    raise ValueError(
                        f"X holds values up to {top:.3g}, beyond float32 (the "
                        "precision sklstm computes in); rescale X, e.g. with "
                        "sklstm.preprocessing.SequenceScaler."
                    )
            if reset:
                _warn_if_unscaled(values)
            if values.ndim == 2:
                values = values[:, :, None]
            self._patch(values, lengths, reset=reset)
        X_t = torch.from_numpy(np.require(values, dtype=dtype, requirements=["C", "W"]))
        return SequenceDataset(
            X_t, None if lengths is None else torch.from_numpy(lengths)
        )

    def _patch(self, values: np.ndarray, lengths, *, reset: bool) -> None:
        """Check ``(n, T, F)`` values against the patching (``patch_size``); on
        ``reset`` resolve and record it, and the longest sequence in LSTM steps.

        The values stay raw steps: the network patches its own input.
        """
        if reset:
            longest = values.shape[1] if lengths is None else int(lengths.max())
            self.patch_size_, self.patch_stride_ = _patching.resolve(
                self.patch_size, self.patch_stride, longest
            )
            self.conv_branch_ = _build.resolve_conv_branch(self, longest, tokens=False)
            self.conv_stride_ = (
                _build.resolve_conv_stride(self, longest) if self.conv_branch_ else 1
            )
            self.conv_pool_size_ = (
                _build.resolve_conv_pool_size(self, longest, self.conv_stride_)
                if self.conv_branch_
                else ()
            )
            # the LSTM's steps (patches of the padded width): gate_init="chrono"
            # spans them
            self.lstm_steps_ = int(
                _patching.n_patches(
                    values.shape[1], self.patch_size_, self.patch_stride_
                )
            )
        size = getattr(self, "patch_size_", 1)  # files of sklstm 0.1 lack them
        stride = getattr(self, "patch_stride_", size)
        if size > 1 and self.return_sequences:
            raise ValueError(
                f"return_sequences=True gives one output per time step, but with "
                f"patch_size={size} the LSTM steps are patches. Set patch_size=None "
                "(or 1) for per-step outputs."
            )
        if size > 1 and self.stateful and not reset:
            # a chunk ending inside a patch would zero-fill it, and overlapping
            # patches would straddle chunks: streaming would differ from one
            # long sequence
            if stride != size or values.shape[1] % size:
                raise ValueError(
                    f"stateful=True streams whole patches: each chunk needs a "
                    f"multiple of patch_size={size} steps (got {values.shape[1]}) and "
                    "patch_stride equal to patch_size."
                )

    def _check_tokens(self, values: np.ndarray, *, reset: bool) -> np.ndarray:
        if not np.array_equal(values, np.round(values)) or values.min() < 0:
            raise ValueError(
                "With embedding_dim set, X must hold non-negative integer token ids "
                "(0 is padding); use sklstm.preprocessing.TextSequencer for text."
            )
        top = int(values.max())
        limit = MAX_VOCAB if self.vocab_size is None else int(self.vocab_size)
        if reset:
            if top >= limit:
                raise ValueError(
                    f"X holds token id {top}; ids must be below {limit:,} "
                    + (
                        "(each id gets an embedding row). Map tokens to dense ids, "
                        "e.g. with sklstm.preprocessing.TextSequencer."
                        if self.vocab_size is None
                        else "(vocab_size). Raise vocab_size or map rare tokens to "
                        "an out-of-vocabulary id."
                    )
                )
            self.vocab_size_ = top + 1 if self.vocab_size is None else limit
        elif top >= self.vocab_size_:
            raise ValueError(
                f"X holds token id {top}, but the model's vocabulary has "
                f"{self.vocab_size_} ids; map unknown tokens to an "
                "out-of-vocabulary id, or set vocab_size to the size of the whole "
                "vocabulary (so every cross-validation fold knows every id)."
            )
        return values

    def _check_y_present(self, y) -> None:
        if y is None:
            raise ValueError(
                f"This {type(self).__name__} estimator requires y to be passed, "
                "but the target y is None."
            )
        if is_sequence_list(y) and len({np.shape(v) for v in y}) > 1:
            # numpy's own error ("inhomogeneous shape") names neither cause
            raise ValueError(
                "y is a list of per-sequence targets of different lengths; y "
                "must be one array. For one target per time step "
                "(return_sequences=True), pad each sequence's targets to the "
                "longest sequence: shape (n_samples, longest[, n_outputs]) (the "
                "steps past a sequence's end are left out of the loss and the "
                "scores). For one target per sequence, give one value each."
            )
        values = y if isinstance(y, np.ndarray) else np.asarray(y, dtype=object)
        if values.dtype == object and any(v is None for v in values.ravel()):
            raise ValueError(
                "y contains None; every sample needs a target. Drop the unlabelled "
                "rows (or give them a value of their own)."
            )

    def _step_observations(
        self, lengths: torch.Tensor | None, y, pred: np.ndarray, sample_weight
    ):
        """Per-step outputs scored as one observation per real time step;
        ``lengths``: the validated input's (``_check_X(X).lengths``).

        Returns ``(y, pred, sample_weight)`` with samples and steps flattened
        into one axis (any outputs axis kept), the steps past the end of a
        shorter (padded) sequence left out, and each sample's weight repeated
        over its steps.
        """
        y = np.asarray(y)
        if y.shape[:2] != pred.shape[:2]:
            raise ValueError(
                "With return_sequences=True, y needs one target per time step: "
                f"shape {pred.shape[:2]} (padded to the longest sequence of X), "
                f"got {y.shape}."
            )
        real = np.ones(pred.shape[:2], dtype=bool)
        if lengths is not None:
            real = np.arange(pred.shape[1])[None, :] < lengths.numpy()[:, None]
        if sample_weight is not None:
            weights = np.asarray(sample_weight, dtype=np.float64)
            sample_weight = np.broadcast_to(weights[:, None], real.shape)[real]
        return y[real], pred[real], sample_weight

    def _check_length(self, data: SequenceDataset, y: np.ndarray) -> None:
        """Per-step targets must match the sequences (sample counts are checked
        in ``_fit``, before the labels are read)."""
        if self.return_sequences and (y.ndim < 2 or y.shape[1] != data.X.shape[1]):
            raise ValueError(
                "With return_sequences=True, y needs one target per time step: "
                f"shape (n_samples, {data.X.shape[1]}[, n_outputs]) (padded to the "
                f"longest sequence), got {y.shape}."
            )


# inputs whose typical magnitude (root mean square) exceeds this saturate the
# LSTM's gates from the first step: scale them first
UNSCALED_RMS = 20.0


def _warn_if_unscaled(values: np.ndarray) -> None:
    """Warn when inputs are far from unit scale (checked on up to 256 rows)."""
    sample = values[:256]
    if not sample.size:
        return
    rms = float(np.sqrt(np.mean(np.square(sample, dtype=np.float64))))
    if rms > UNSCALED_RMS:
        warnings.warn(
            f"X's values have a typical magnitude of {rms:.3g}, far from unit "
            "scale: an LSTM's gates saturate on them and learn slowly. Scale the "
            "inputs first, e.g. make_pipeline(sklstm.preprocessing.SequenceScaler(),"
            " estimator).",
            UserWarning,
            stacklevel=5,
        )


def _looks_like_token_ids(X) -> bool:
    """A list of 1D integer arrays: what TextSequencer produces."""
    if not is_sequence_list(X):
        return False
    return all(
        getattr(x, "ndim", 0) == 1 and np.asarray(x).dtype.kind in "iu" for x in X
    )


def _token_lengths(values: np.ndarray) -> np.ndarray | None:
    """Lengths of 2D token rows whose trailing zeros are padding (None: no
    padding). A row of padding only keeps one step."""
    nonzero = values != 0
    last = values.shape[1] - np.argmax(nonzero[:, ::-1], axis=1)
    lengths = np.where(nonzero.any(axis=1), last, 1).astype(np.int64)
    return None if (lengths == values.shape[1]).all() else lengths
