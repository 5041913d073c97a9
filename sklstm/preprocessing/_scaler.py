"""SequenceScaler: per-feature scaling over all samples and all time steps."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from sklstm._data import is_sequence_list
from sklstm._sklearn_private import (
    StrOptions,
    _fit_context,
    _handle_zeros_in_scale,
    _is_constant_feature,
)
from sklstm._validation import (
    LAYOUTS,
    bookkeeping_problem,
    check_sequences,
    is_int,
)
from sklstm.io._registry import register_plain


@register_plain
class SequenceScaler(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Scale each feature with statistics pooled over samples and time steps.

    A feature's mean and spread are computed over every time step of every
    training sequence (for variable-length sequences: over the real steps
    only, never over padding), so one time step is scaled the same way
    wherever it appears. This is the scaling an LSTM wants: the same input
    units at every step, fitted on the training data only (put the scaler
    in a :class:`~sklearn.pipeline.Pipeline` to keep cross-validation free of
    leakage).

    ``transform(X) = (X - center_) / scale_``, feature by feature.

    Parameters
    ----------
    method : {"standard", "minmax"}, default="standard"
        ``"standard"``: subtract the mean, divide by the standard deviation.
        ``"minmax"``: subtract the minimum, divide by the range (values of
        the training data land in [0, 1]).

    data_format : {"channels_last", "channels_first"}, default="channels_last"
        Layout of 3D ``X`` and of list items, as for the sklstm estimators:
        ``"channels_first"`` reads ``(n_samples, n_features, n_timesteps)``
        (aeon, sktime). The output keeps the input's layout.

    Attributes
    ----------
    center_ : ndarray of shape (input_size_,)
        Value subtracted per feature: the mean (``"standard"``) or the
        minimum (``"minmax"``).

    scale_ : ndarray of shape (input_size_,)
        Divisor per feature: the standard deviation or the range; 1 for a
        constant feature, which is only centered.

    mean_, var_ : ndarray of shape (input_size_,)
        Mean and variance per feature (``method="standard"`` only).

    data_min_, data_max_ : ndarray of shape (input_size_,)
        Minimum and maximum per feature (``method="minmax"`` only).

    input_size_ : int
        Features per time step (1 for 2D input).

    n_features_in_ : int
        As for the sklstm estimators: features per time step for 3D and
        ragged input; for 2D input scikit-learn's convention, the number of
        columns (time steps).

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when fitted on a 2D DataFrame with string column names.

    n_steps_seen_ : int
        Number of time steps (summed over sequences) the statistics used.

    See Also
    --------
    sklearn.preprocessing.StandardScaler : The tabular counterpart.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.preprocessing import SequenceScaler
    >>> X = np.arange(24, dtype=float).reshape(2, 4, 3)  # 2 sequences, 4 steps
    >>> scaler = SequenceScaler().fit(X)
    >>> scaler.mean_
    array([10.5, 11.5, 12.5])
    >>> Xt = scaler.transform(X)
    >>> Xt.shape, bool(np.allclose(scaler.inverse_transform(Xt), X))
    ((2, 4, 3), True)
    >>> ragged = [np.ones((3, 2)), np.zeros((5, 2))]
    >>> [x.shape for x in SequenceScaler().fit_transform(ragged)]
    [(3, 2), (5, 2)]
    """

    _parameter_constraints: dict = {
        "method": [StrOptions({"standard", "minmax"})],
        "data_format": [StrOptions(set(LAYOUTS))],
    }

    def __init__(
        self, method: str = "standard", data_format: str = "channels_last"
    ) -> None:
        self.method = method
        self.data_format = data_format

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn per-feature statistics from all steps of all sequences.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or \
(n_samples, n_timesteps), or list of arrays of shape (T_i, n_features) or (T_i,)
            Training sequences (2D: univariate; list: variable lengths).
        y : None
            Ignored.

        Returns
        -------
        self : SequenceScaler
            The fitted scaler.
        """
        steps, _ = self._steps(X, reset=True)
        for name in ("mean_", "var_", "data_min_", "data_max_"):
            self.__dict__.pop(name, None)  # a refit with another method
        if self.method == "standard":
            # float64 accumulators, as scikit-learn's StandardScaler
            self.mean_ = steps.mean(axis=0, dtype=np.float64)
            self.var_ = steps.var(axis=0, dtype=np.float64)
            center, scale = self.mean_, np.sqrt(self.var_)
            # constant up to rounding: scikit-learn's own bound on the
            # variance's error (scikit-learn PR #19788)
            constant = _is_constant_feature(self.var_, self.mean_, len(steps))
        else:
            self.data_min_ = steps.min(axis=0).astype(np.float64)
            self.data_max_ = steps.max(axis=0).astype(np.float64)
            center, scale = self.data_min_, self.data_max_ - self.data_min_
            constant = None  # MinMaxScaler's rule: a range within 10 eps
        self.center_ = center
        self.scale_ = _handle_zeros_in_scale(scale, copy=True, constant_mask=constant)
        self.n_steps_seen_ = len(steps)
        return self

    def _check_loaded_state(self) -> None:
        """Refuse a restored fitted state that ``fit`` could not have made.

        Called by :func:`sklstm.load` on every restored scaler.

        Raises
        ------
        ValueError
            Naming the first inconsistency: input bookkeeping ``fit`` could
            not have recorded (``n_features_in_``, ``input_size_``, 2D or
            not), a missing or non-numeric statistic, a length other than
            ``input_size_``, a non-finite value or a scale that is not
            positive.
        """
        if not any(k.endswith("_") and not k.startswith("_") for k in vars(self)):
            return  # an unfitted template (a meta-estimator's parameter)
        problem = bookkeeping_problem(self.__dict__)
        if problem is not None:
            raise ValueError(f"{problem[0]} must be {problem[1]}.")
        n = self.input_size_
        steps = self.__dict__.get("n_steps_seen_")
        if not is_int(steps, 1):
            raise ValueError(
                f"n_steps_seen_ must be a positive integer, got {steps!r}."
            )
        names = ("center_", "scale_")
        names += (
            ("mean_", "var_")
            if self.method == "standard"
            else ("data_min_", "data_max_")
        )
        for name in names:
            value = self.__dict__.get(name)
            if not (
                isinstance(value, np.ndarray)
                and value.dtype.kind == "f"
                and value.shape == (n,)
                and np.isfinite(value).all()
            ):
                raise ValueError(
                    f"{name} must be a finite float array of shape ({n},) "
                    f"(one value per feature)."
                )
        if not (self.scale_ > 0).all():
            raise ValueError("scale_ must be positive (a zero scale divides by zero).")
        if self.method == "standard" and (self.var_ < 0).any():
            raise ValueError("var_ must not be negative.")
        if self.method != "standard" and (self.data_min_ > self.data_max_).any():
            raise ValueError("data_min_ must not exceed data_max_.")

    def transform(self, X):
        """Scale sequences with the fitted statistics.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences in any form :meth:`fit` accepts, with the same number
            of features per time step.

        Returns
        -------
        X_scaled : ndarray or list of ndarray
            Float64, in the form of ``X``: an array of the same shape, or a
            list of arrays with the same lengths.
        """
        check_is_fitted(self)
        steps, restore = self._steps(X, reset=False)
        return self._wrap(restore((steps - self.center_) / self.scale_))

    def fit_transform(self, X, y=None, **fit_params):
        """Fit to ``X``, then scale it (see :meth:`fit` and :meth:`transform`)."""
        return self.fit(X, y).transform(X)

    def get_feature_names_out(self, input_features=None):
        """Names of the output features: those of the input.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input feature names; by default ``feature_names_in_`` (2D
            DataFrames) or ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str
            One name per column of 2D output, or per feature of 3D output.
        """
        check_is_fitted(self)
        if input_features is not None:
            names = np.asarray(input_features, dtype=object)
            if len(names) != self.n_features_in_:
                raise ValueError(
                    f"input_features has {len(names)} names; expected "
                    f"{self.n_features_in_}."
                )
            return names
        if hasattr(self, "feature_names_in_"):
            return np.asarray(self.feature_names_in_, dtype=object)
        return np.asarray([f"x{i}" for i in range(self.n_features_in_)], dtype=object)

    def set_output(self, *, transform=None):
        """Choose the container of 2D output, as scikit-learn transformers do.

        ``"pandas"`` or ``"polars"`` wrap 2D output (univariate sequences,
        one column per time step) in a DataFrame; 3D and ragged output have
        no DataFrame form and stay arrays (or lists), so a pipeline with
        ``set_output(transform="pandas")`` keeps working.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"} or None, default=None
            The container; None leaves the setting unchanged.

        Returns
        -------
        self : SequenceScaler
            The transformer.
        """
        if transform is not None:
            self._output = transform
        return self

    def _wrap(self, out):
        kind = getattr(self, "_output", "default")
        if kind == "default" or not isinstance(out, np.ndarray) or out.ndim != 2:
            return out
        columns = list(self.get_feature_names_out())
        if kind == "pandas":
            import pandas as pd

            return pd.DataFrame(out, columns=columns)
        import polars as pl

        return pl.DataFrame(out, schema=columns)

    def inverse_transform(self, X):
        """Map scaled sequences back to the original units.

        Parameters
        ----------
        X : array-like or list of arrays
            Scaled sequences, in any form :meth:`fit` accepts.

        Returns
        -------
        X_original : ndarray or list of ndarray
            Float64, in the form of ``X``.
        """
        check_is_fitted(self)
        steps, restore = self._steps(X, reset=False)
        return restore(steps * self.scale_ + self.center_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    # ------------------------------------------------------------------ input
    def _steps(self, X, *, reset: bool) -> tuple[np.ndarray, Callable]:
        """All time steps as rows ``(n_steps, input_size_)``, plus a function
        that puts rows of that shape back into the form of ``X``."""
        as_list = is_sequence_list(X)
        values, lengths, width = check_sequences(
            self, X, reset=reset, as_list=as_list, data_format=self.data_format
        )
        first = self.data_format == "channels_first"
        if as_list:
            one_d = values.ndim == 2
            mask = np.arange(values.shape[1]) < lengths[:, None]
            steps = values.reshape(len(values), values.shape[1], width)[mask]
            cuts = np.cumsum(lengths)[:-1]

            def restore(rows):
                parts = np.split(rows, cuts)
                if one_d:
                    return [p[:, 0] for p in parts]
                return [p.T for p in parts] if first else parts

            return steps, restore
        shape = values.shape
        steps = values.reshape(-1, width)

        def restore(rows):
            out = rows.reshape(shape)
            return np.swapaxes(out, 1, 2) if first and out.ndim == 3 else out

        return steps.astype(np.float64, copy=False), restore
