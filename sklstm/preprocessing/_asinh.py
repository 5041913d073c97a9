"""AsinhFeatures: a log-like view of values that span orders of magnitude."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from sklstm._sklearn_private import Interval, StrOptions, _fit_context
from sklstm._validation import LAYOUTS
from sklstm.io._registry import register_plain
from sklstm.preprocessing._steps import StepwiseMixin, per_sequence_std

# scale="auto": this percentile of the training sequences' own standard
# deviations (PLAID: 0.901 at the 10th, 0.895 at the 25th, 0.870 at the 50th)
AUTO_PERCENTILE = 10.0


@register_plain
class AsinhFeatures(
    StepwiseMixin, TransformerMixin, BaseEstimator, auto_wrap_output_keys=None
):
    """Append ``asinh(x / scale)`` to each feature: a log view of magnitudes.

    The inverse hyperbolic sine is linear near zero and logarithmic far from
    it (``asinh(v)`` is about ``sign(v) * log(2 |v|)`` for ``|v| >> 1``), and,
    unlike the log, defined at zero and for negative values (Burbidge, Magee
    and Robb, "Alternative Transformations to Handle Extreme Values of the
    Dependent Variable", JASA 83(401), 1988). Where series differ in size by
    orders of magnitude (currents, powers, counts), a scaler fitted on all of
    them leaves the small ones as near-constant zeros; this view shows every
    series' shape on one log scale, while the values themselves (kept by
    default) still carry its level.

    Put it first, on the raw values: the transform is taken about their zero,
    which a centering scaler moves. ``make_pipeline(AsinhFeatures(),
    SequenceScaler(), LSTMClassifier())``.

    Parameters
    ----------
    scale : float or "auto", default="auto"
        Where the view turns from linear to logarithmic, in the input's units
        (> 0). ``"auto"``: per feature, the 10th percentile of the training
        sequences' own standard deviations over their steps (sequences
        constant in that feature left out; 1 where all are), so that the
        smallest series still show their shape.

    include_input : bool, default=True
        Whether the output keeps the input features, followed by their
        asinh view (``2 * n_features`` features per step), or holds the view
        alone (``n_features``).

    data_format : {"channels_last", "channels_first"}, default="channels_last"
        Layout of 3D ``X`` and of list items, as for the sklstm estimators.
        The output keeps the input's layout.

    Attributes
    ----------
    scale_ : ndarray of shape (input_size_,)
        The scale used per feature.

    input_size_ : int
        Features per time step of the input (1 for 2D input).

    n_features_in_ : int
        As for the sklstm estimators: features per time step for 3D and
        ragged input; for 2D input, the number of columns (time steps).

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when fitted on a 2D DataFrame with string column names.

    See Also
    --------
    SequenceScaler : Scale each feature over all steps (put it after this).
    sklearn.preprocessing.FunctionTransformer : Any fixed elementwise map.

    Notes
    -----
    On PLAID (UCR archive: the current drawn by 11 kinds of appliance, per-
    series standard deviations from 1e-4 to 20) the classifier's defaults
    score 0.867 after ``SequenceScaler`` alone and 0.903 with this
    transformer first, against MiniRocket's 0.944 (5 seeds,
    ``benchmarks/accuracy.py``). On Covid3Month (regression on death counts)
    it raised the test RMSE from 0.0435 to 0.0481: a log view is a choice
    for the data, not a default.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.preprocessing import AsinhFeatures
    >>> X = np.array([[0.0, 0.001, 0.002], [0.0, 10.0, 20.0]])  # 2 series
    >>> asinh = AsinhFeatures(scale=0.001).fit(X)
    >>> Xt = asinh.transform(X)
    >>> Xt.shape  # 2 series, 3 steps, the value and its asinh view
    (2, 3, 2)
    >>> np.round(Xt[:, :, 1], 2)
    array([[ 0.  ,  0.88,  1.44],
           [ 0.  ,  9.9 , 10.6 ]])
    """

    _parameter_constraints: dict = {
        "scale": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "include_input": ["boolean"],
        "data_format": [StrOptions(set(LAYOUTS))],
    }

    def __init__(
        self,
        scale: float | str = "auto",
        include_input: bool = True,
        data_format: str = "channels_last",
    ) -> None:
        self.scale = scale
        self.include_input = include_input
        self.data_format = data_format

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Choose the scale per feature.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or \
(n_samples, n_timesteps), or list of arrays of shape (T_i, n_features) or (T_i,)
            Training sequences (2D: univariate; list: variable lengths).
        y : None
            Ignored.

        Returns
        -------
        self : AsinhFeatures
            The fitted transformer.

        Raises
        ------
        ValueError
            For input the sklstm estimators refuse (NaN or infinity, wrong
            rank, empty sequences).
        """
        steps = self._steps(X, reset=True)
        if self.scale != "auto":
            self.scale_ = np.full(self.input_size_, float(self.scale))
            return self
        std = per_sequence_std(steps.rows, steps.lengths)
        scale = np.ones(self.input_size_)
        for j in range(self.input_size_):
            # constant up to rounding: relative to the sequences' typical level
            varying = std[:, j] > 1e-12 * max(1.0, np.abs(steps.rows[:, j]).max())
            if varying.any():
                scale[j] = np.percentile(std[varying, j], AUTO_PERCENTILE)
        self.scale_ = scale
        return self

    def transform(self, X):
        """Append (or give alone) the asinh view of each feature.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences in any form :meth:`fit` accepts, with the same number
            of features per time step.

        Returns
        -------
        X_out : ndarray or list of ndarray
            Float64 in the layout of ``X``, with ``2 * input_size_`` features
            per step (``input_size_`` without ``include_input``): the input's
            features, then ``asinh(x / scale_)`` of each. 2D input (univariate
            sequences) gives 3D output, or 2D without ``include_input``.
        """
        check_is_fitted(self)
        steps = self._steps(X, reset=False)
        view = np.arcsinh(steps.rows / self.scale_)
        if self.include_input:
            view = np.concatenate([steps.rows, view], axis=1)
        return steps.restore(view)

    def get_feature_names_out(self, input_features=None):
        """Names of the output features per time step.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            The input's ``input_size_`` feature names; by default ``x0, x1,
            ...``.

        Returns
        -------
        feature_names_out : ndarray of str
            The input names (with ``include_input``), then ``asinh(name)``
            for each.
        """
        check_is_fitted(self)
        if input_features is None:
            names = [f"x{i}" for i in range(self.input_size_)]
        else:
            names = [str(name) for name in input_features]
            if len(names) != self.input_size_:
                raise ValueError(
                    f"input_features has {len(names)} names; expected "
                    f"{self.input_size_} (features per time step)."
                )
        views = [f"asinh({name})" for name in names]
        return np.asarray(names + views if self.include_input else views, dtype=object)

    def _check_loaded_state(self) -> None:
        """Refuse a restored fitted state that ``fit`` could not have made.

        Called by :func:`sklstm.load` on every restored transformer.

        Raises
        ------
        ValueError
            Naming the first inconsistency: input bookkeeping ``fit`` could
            not have recorded, or a ``scale_`` that is not one finite,
            positive float per feature.
        """
        n = self._restored_input_size()
        if n is None:
            return
        value = self.__dict__.get("scale_")
        if not (
            isinstance(value, np.ndarray)
            and value.dtype.kind == "f"
            and value.shape == (n,)
            and np.isfinite(value).all()
            and (value > 0).all()
        ):
            raise ValueError(
                f"scale_ must be a finite, positive float array of shape "
                f"({n},) (one value per feature)."
            )
