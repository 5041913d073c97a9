"""The data contract, checked once for every sklstm estimator and transformer."""

from __future__ import annotations

import contextlib
import warnings
from numbers import Integral
from typing import NamedTuple

import numpy as np
from sklearn.utils.validation import check_array, validate_data

from sklstm._data import is_sequence_list, pad_ragged

FLOATS = [np.float64, np.float32]


class Sequences(NamedTuple):
    """Validated sequences: ``values`` is ``(n, T)`` or ``(n, T, F)`` (zero-padded
    when ``lengths`` is given), ``width`` the features per time step."""

    values: np.ndarray
    lengths: np.ndarray | None
    width: int


LAYOUTS = ("channels_last", "channels_first")
MAX_VOCAB = 10_000_000  # token ids get an embedding row each: a bound on memory
LAYOUT_TABLE = (
    "sklstm, Keras, PyTorch (batch_first) and tslearn read 3D X as (n_samples, "
    "n_timesteps, n_features); aeon and sktime hold (n_cases, n_channels, "
    "n_timepoints)"
)


def to_channels_last(X, data_format: str, as_list: bool | None = None):
    """``X`` in sklstm's layout: channels-first arrays and 2D sequences of a
    list are transposed (views, no copies); 2D arrays are univariate either
    way."""
    if data_format == "channels_last":
        return X
    if is_sequence_list(X) if as_list is None else as_list:
        return [np.asarray(x).T if np.ndim(x) == 2 else x for x in X]
    ndim = len(X.shape) if hasattr(X, "shape") else np.asarray(X).ndim
    if ndim == 3:
        return np.swapaxes(np.asarray(X), 1, 2)
    return X


@contextlib.contextmanager
def _missing_values_named(name: str):
    """scikit-learn's NaN/inf errors, with the fix that suits sequences."""
    try:
        yield
    except ValueError as exc:
        text = str(exc)
        bad = "NaN" if "NaN" in text else "infinity" if "infinity" in text else None
        if bad is None:
            raise
        where = text.splitlines()[0].rstrip(".")  # which sequence, where known
        raise ValueError(
            f"{where}: {name} cannot read missing or infinite "
            "steps. Fill gaps along time first (e.g. pandas' "
            "DataFrame.interpolate() or ffill() per series), clip infinite "
            "values, or drop the sequences that have them."
        ) from None


def check_sequences(
    estimator,
    X,
    *,
    reset: bool,
    as_list: bool | None = None,
    free_length: bool = False,
    data_format: str = "channels_last",
) -> Sequences:
    """Validate ``X`` (3D, 2D univariate, or a list of sequences).

    On ``reset`` it records ``n_features_in_``, ``input_size_``,
    ``n_timesteps_in_`` and whether the estimator was fitted on 2D data (which
    then keeps scikit-learn's column bookkeeping: ``n_features_in_`` is the
    number of columns and predict needs the same number). Otherwise it checks
    ``X`` against them. ``as_list`` forces (or forbids) the list-of-sequences
    reading (default: lists of arrays); ``free_length`` never fixes the
    number of columns of 2D input (token ids, or chunks a stateful model
    streams). ``data_format="channels_first"`` reads 3D arrays as
    ``(n_samples, n_features, n_timesteps)`` and list items as
    ``(n_features, T_i)``, as aeon and sktime hold them.
    """
    name = type(estimator).__name__
    _refuse_text(X, name)
    with _missing_values_named(name):
        return _check_sequences(
            estimator, X, name, reset, as_list, free_length, data_format
        )


def _check_sequences(
    estimator, X, name, reset, as_list, free_length, data_format
) -> Sequences:
    X = to_channels_last(X, data_format, as_list)
    if isinstance(X, (list, tuple)) and len(X) == 0:
        raise ValueError(
            f"X is empty: {name} needs at least one sequence (a list of "
            "(n_timesteps, n_features) arrays, or a 3D/2D array with one row or more)."
        )
    expected = None if reset else estimator.input_size_
    if reset:
        estimator._fitted_on_2d = False
        # a refit on 3D or ragged data has no column names
        estimator.__dict__.pop("feature_names_in_", None)
    if is_sequence_list(X) if as_list is None else as_list:
        values, lengths = pad_ragged(X, dtype=np.float64, n_features=expected)
        width = 1 if values.ndim == 2 else values.shape[2]
        steps = None
    else:
        lengths = None
        ndim = len(X.shape) if hasattr(X, "shape") else np.asarray(X).ndim
        if ndim < 2:
            raise ValueError(
                f"X has {ndim} dimension(s): {name} reads a batch of sequences. "
                "Reshape your data: for one sequence x of shape (n_timesteps, "
                "n_features), pass x[None] (or X[:1] instead of X[0]); for one "
                "univariate sequence, x.reshape(1, -1); to forecast a single "
                "series, cut it into windows with sklstm.forecasting.make_windows "
                "or use sklstm.forecasting.WindowedForecaster."
            )
        if ndim > 3:
            raise ValueError(
                f"X has {ndim} dimensions; expected 3D (n_samples, n_timesteps, "
                "n_features), 2D (n_samples, n_timesteps) or a list of sequences."
            )
        if ndim == 3:
            values = check_array(X, allow_nd=True, dtype=FLOATS, input_name="X")
            if values.shape[1] == 0 or values.shape[2] == 0:
                raise ValueError(
                    f"X has shape {values.shape}; it needs at least one time step "
                    "and one feature."
                )
            width = values.shape[2]
            if reset and data_format == "channels_last":
                _warn_if_transposed(values.shape)
        else:
            if expected not in (None, 1):
                raise ValueError(
                    f"{name} was fitted on sequences with {expected} features per "
                    f"time step; give X as 3D (n_samples, n_timesteps, {expected}) "
                    "(2D X means a batch of univariate sequences). For one "
                    "sequence x of shape (n_timesteps, n_features), pass x[None] "
                    "(or X[:1] instead of X[0])."
                )
            if reset or (estimator._fitted_on_2d and not free_length):
                values = validate_data(estimator, X, reset=reset, dtype=FLOATS)
            else:  # fitted on 3D or ragged data: any length is fine
                values = check_array(X, dtype=FLOATS, input_name="X")
            width = 1
            if reset:
                estimator._fitted_on_2d = not free_length
        steps = values.shape[1]
    if expected is not None and width != expected:
        raise ValueError(
            f"X has {width} features per time step, but {name} is expecting "
            f"{expected} features as input."
        )
    if reset:
        estimator.input_size_ = width
        estimator.n_timesteps_in_ = steps
        if not estimator._fitted_on_2d:
            estimator.n_features_in_ = width
    return Sequences(values, lengths, width)


def bookkeeping_problem(attrs: dict) -> tuple[str, str] | None:
    """What :func:`check_sequences` recorded, checked in a restored state.

    ``attrs`` is a fitted object's ``vars()``. Returns ``(name, what it must
    be)`` for the first entry ``fit`` could not have written, else None:
    ``input_size_`` and ``n_features_in_`` positive integers,
    ``n_timesteps_in_`` None or a positive integer, ``_fitted_on_2d`` a bool,
    and ``n_features_in_`` what predict checks X against (the columns of 2D
    input, else the features per step).
    """
    for name in ("input_size_", "n_features_in_"):
        if not is_int(attrs.get(name), 1):
            return name, "a positive integer"
    steps = attrs.get("n_timesteps_in_", "missing")
    if not (steps is None or is_int(steps, 1)):
        return "n_timesteps_in_", "None or a positive integer"
    on_2d = attrs.get("_fitted_on_2d")
    if not isinstance(on_2d, (bool, np.bool_)):
        return "_fitted_on_2d", "a bool"
    if on_2d and attrs["input_size_"] != 1:
        return "input_size_", "1 (fitted on 2D input: univariate sequences)"
    columns = steps if on_2d else attrs["input_size_"]
    if attrs["n_features_in_"] != columns:
        seen = "columns" if on_2d else "input_size_"
        return "n_features_in_", f"{columns} (the {seen} seen in fit)"
    return None


def is_int(value, low: int = 0) -> bool:
    """Whether a restored ``value`` is an integer (not a bool) of at least
    ``low``."""
    return (
        isinstance(value, (Integral, np.integer))
        and not isinstance(value, (bool, np.bool_))
        and value >= low
    )


def _refuse_text(X, name: str) -> None:
    """Raw text is not numbers: point to the transformer that reads it."""
    first = X
    for _ in range(3):  # a string inside a list, a list of lists, an array
        if isinstance(first, (str, bytes)):
            raise ValueError(
                f"X holds text ({first[:40]!r}); {name} reads numbers. For text, "
                "turn it into token ids first: make_pipeline(sklstm.preprocessing."
                f"TextSequencer(), {name}(embedding_dim=32))."
            )
        if isinstance(first, np.ndarray) and first.dtype.kind in "USO" and first.size:
            first = first.flat[0]
        elif isinstance(first, (list, tuple)) and first:
            first = first[0]
        else:
            return


def _warn_if_transposed(shape: tuple) -> None:
    """Warn when a 3D shape looks like channels-first data read the other way."""
    _, steps, features = shape
    if (steps == 1 and features > 1) or (features >= 8 * steps and features >= 16):
        warnings.warn(
            f"X has shape {shape}: {steps} time step(s) of {features} features "
            f"each. {LAYOUT_TABLE}. If X is (n_cases, n_channels, n_timepoints), "
            "set data_format='channels_first' (or pass np.swapaxes(X, 1, 2)).",
            UserWarning,
            stacklevel=4,
        )
