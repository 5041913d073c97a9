"""Parameter checks in one place, run by every fit and partial_fit call.

Each parameter's own range is its ``_parameter_constraints`` entry, checked
by scikit-learn's ``_validate_params``; rules across parameters are
:func:`check_rules`. ``fit`` (through ``_fit_context``) and ``partial_fit``
(on every call, so a ``set_params`` between calls is checked as a fresh fit
would check it) both go through :func:`check_parameters`.
"""

from __future__ import annotations

import warnings

from skorch.callbacks import EpochScoring

from sklstm._engine import _build
from sklstm._engine._patching import resolve


def check_parameters(est, *, incremental: bool) -> None:
    """Each parameter's constraint, then the rules across parameters."""
    est._validate_params()
    check_rules(est, incremental=incremental)
    _warn_validation_scorers(est, incremental=incremental)


def _warn_validation_scorers(est, *, incremental: bool) -> None:
    """A validation scorer records nothing without a validation split."""
    if est.early_stopping and not incremental:
        return
    for item in est.callbacks or []:
        cb = item[1] if isinstance(item, tuple) and len(item) == 2 else item
        if isinstance(cb, EpochScoring) and not cb.on_train:
            warnings.warn(
                f"EpochScoring({cb.scoring!r}) scores the validation split, which "
                "exists only with early_stopping=True (and not under partial_fit): "
                "it will record nothing. Set early_stopping=True (the split is "
                "validation_fraction of the rows), or EpochScoring(..., "
                "on_train=True) to score the training rows.",
                UserWarning,
                stacklevel=5,
            )


def check_rules(est, *, incremental: bool) -> None:
    """Parameters that are valid alone but not together."""
    if est.stateful and est.bidirectional:
        raise ValueError(
            "stateful=True cannot be combined with bidirectional=True: a "
            "backward pass needs the end of the stream, which a chunk does not "
            "have. Use bidirectional=False to stream."
        )
    if est.freeze and est.init_from is None:
        raise ValueError(
            "freeze only applies to pretrained layers: set init_from to a "
            "fitted model (or its file), or use freeze=False."
        )
    if incremental and getattr(est, "class_weight", None) == "balanced":
        raise ValueError(
            "class_weight='balanced' is not supported by partial_fit: one chunk "
            "does not show the class frequencies. Compute them on all labels "
            "(sklearn.utils.class_weight.compute_class_weight) and pass a dict."
        )
    if est.norm == "batch" and est.batch_size != "auto" and est.batch_size < 2:
        raise ValueError(
            "norm='batch' needs batches of at least 2 samples; use batch_size >= 2 "
            "or norm='layer'."
        )
    _build.optimizer_spec(est, "cpu")  # an optimizer without weight decay
    _build.conv_layers(est)  # one kernel size per block
    for name, what in (
        ("conv_branch", "the convolutional branch summarizes"),
        ("series_norm", "series normalization reads"),
    ):
        value = getattr(est, name)
        if not isinstance(value, str) and value:  # np.bool_ too
            _whole_sequences(est, f"{name}=True", what, f"Use {name}=False")
    view = est.asinh_view
    if est.embedding_dim is not None and not isinstance(view, str) and view:
        raise ValueError(
            "asinh_view=True maps numeric values; token ids (embedding_dim) "
            "have none. Use asinh_view=False (or 'auto')."
        )
    if not isinstance(est.random_crop, str) and est.random_crop < 1:
        _whole_sequences(
            est,
            f"random_crop={est.random_crop}",
            "random crops train on windows of",
            "Use random_crop=1.0",
        )
    if est.patch_size not in ("auto", None):
        resolve(est.patch_size, est.patch_stride, 1)  # stride above the size


def _whole_sequences(est, setting_name: str, what: str, fix: str) -> None:
    """``setting_name`` reads whole numeric sequences: refuse what has none."""
    for flag, setting in (
        (est.return_sequences, "return_sequences=True (one output per step)"),
        (est.stateful, "stateful=True (chunks of a stream)"),
        (est.embedding_dim is not None, "token ids (embedding_dim)"),
    ):
        if flag:
            raise ValueError(
                f"{setting_name} cannot be combined with {setting}: {what} whole "
                f"numeric sequences. {fix} (or 'auto', which leaves it out)."
            )
