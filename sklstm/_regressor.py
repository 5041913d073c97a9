"""LSTMRegressor: target scaling, regression losses and regressor tags."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.validation import check_array, check_is_fitted

from sklstm._base import _BaseLSTM
from sklstm._data import SequenceDataset
from sklstm._docs import SHARED_ATTRIBUTES, SHARED_PARAMETERS
from sklstm._engine._build import n_quantiles
from sklstm._engine._losses import PinballLoss, RegressionLoss, middle_quantile
from sklstm._sklearn_private import StrOptions, _fit_context
from sklstm._targets import scaling
from sklstm.io._registry import register_model


@register_model
class LSTMRegressor(RegressorMixin, _BaseLSTM):
    """LSTM regressor for sequences, trained with skorch.

    Predicts one value (or a vector, for 2D ``y``) per sequence, or one per
    time step with ``return_sequences=True``.

    Parameters
    ----------
    {shared_parameters}
    loss : {{"mse", "mae", "huber", "quantile"}}, default="mse"
        Training loss: squared error, absolute error, Huber (squared
        below 1 standard deviation of the scaled target, linear above), or
        the pinball loss of each of ``quantiles`` (quantile regression,
        Koenker and Bassett 1978): the network then predicts every quantile
        of every output, non-crossing by construction (the lowest quantile
        plus positive increments), :meth:`predict` returns the quantile
        nearest 0.5 and :meth:`predict_quantiles` returns them all.

    quantiles : tuple of float, default=(0.05, 0.5, 0.95)
        Quantile levels in (0, 1), strictly increasing, predicted with
        ``loss="quantile"`` (ignored otherwise). The default brackets a
        90% interval around the median.

    scale_target : bool, default=True
        Standardize ``y`` for training (per output) and map predictions
        back, so that the learning rate does not depend on the target's
        units.

    Attributes
    ----------
    {shared_attributes}
    n_outputs_ : int
        Number of outputs (columns of 2D ``y``; 1 for 1D ``y``).

    y_mean_, y_scale_ : ndarray of shape (n_outputs_,)
        Target mean and standard deviation used for scaling.

    See Also
    --------
    LSTMClassifier : The classifier counterpart.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import LSTMRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(64, 10, 2))          # 64 sequences, 10 steps, 2 features
    >>> y = X[:, :, 0].sum(axis=1)                # a sum over time
    >>> reg = LSTMRegressor(max_epochs=5, random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints: dict = {
        **_BaseLSTM._parameter_constraints,
        "loss": [StrOptions({"mse", "mae", "huber", "quantile"})],
        "quantiles": ["array-like"],
        "scale_target": ["boolean"],
    }

    def __init__(
        self,
        *,
        hidden_size: int = 32,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        lstm_dropout: float | str = "auto",
        random_crop: float | str = "auto",
        head_units: tuple[int, ...] = (),
        head_activation: str = "relu",
        norm: str | None = None,
        return_sequences: bool = False,
        stateful: bool = False,
        embedding_dim: int | None = None,
        vocab_size: int | None = None,
        data_format: str = "channels_last",
        patch_size: int | str | None = "auto",
        patch_stride: int | None = None,
        conv_branch: bool | str = "auto",
        conv_filters: tuple[int, ...] = (64, 128, 64),
        conv_kernel_sizes: tuple[int, ...] = (8, 3, 3),
        conv_pool_size: int | tuple[int, ...] | str = "auto",
        conv_stride: int | str = "auto",
        series_norm: bool | str = "auto",
        asinh_view: bool | str = "auto",
        gate_init: str = "forget_bias",
        optimizer: str | type = "adam",
        lr: float = 5e-3,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        l1: float = 0.0,
        batch_size: int | str = "auto",
        max_epochs: int | str = "auto",
        shuffle: bool = True,
        bucket_by_length: bool = False,
        lr_scheduler: str | None = "auto",
        lr_scheduler_params: dict | None = None,
        gradient_clip: float | None = 1.0,
        gradient_clip_value: float | None = None,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        validation_split: str = "auto",
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        callbacks: list | None = None,
        tensorboard_dir: str | None = None,
        epoch_cache: str | None = None,
        device: str = "cpu",
        n_threads: int | None = None,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 0,
        warm_start: bool = False,
        init_from: object | None = None,
        freeze: bool | int = False,
        loss: str = "mse",
        quantiles: tuple[float, ...] = (0.05, 0.5, 0.95),
        scale_target: bool = True,
    ) -> None:
        super().__init__(
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
            lstm_dropout=lstm_dropout,
            random_crop=random_crop,
            head_units=head_units,
            head_activation=head_activation,
            norm=norm,
            return_sequences=return_sequences,
            stateful=stateful,
            embedding_dim=embedding_dim,
            vocab_size=vocab_size,
            data_format=data_format,
            patch_size=patch_size,
            patch_stride=patch_stride,
            conv_branch=conv_branch,
            conv_filters=conv_filters,
            conv_kernel_sizes=conv_kernel_sizes,
            conv_pool_size=conv_pool_size,
            conv_stride=conv_stride,
            series_norm=series_norm,
            asinh_view=asinh_view,
            gate_init=gate_init,
            optimizer=optimizer,
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            l1=l1,
            batch_size=batch_size,
            max_epochs=max_epochs,
            shuffle=shuffle,
            bucket_by_length=bucket_by_length,
            lr_scheduler=lr_scheduler,
            lr_scheduler_params=lr_scheduler_params,
            gradient_clip=gradient_clip,
            gradient_clip_value=gradient_clip_value,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            validation_split=validation_split,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            callbacks=callbacks,
            tensorboard_dir=tensorboard_dir,
            epoch_cache=epoch_cache,
            device=device,
            n_threads=n_threads,
            random_state=random_state,
            verbose=verbose,
            warm_start=warm_start,
            init_from=init_from,
            freeze=freeze,
        )
        self.loss = loss
        self.quantiles = quantiles
        self.scale_target = scale_target

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on sequences ``X`` and targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or \
(n_samples, n_timesteps), or list of arrays of shape (T_i, n_features)
            Training sequences (2D: univariate; list: variable lengths).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets; with ``return_sequences=True`` one per time step,
            ``(n_samples, n_timesteps[, n_outputs])``.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of the loss (a weighted mean).

        Returns
        -------
        self : LSTMRegressor
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)

    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch, starting from the current weights if fitted.

        Parameters
        ----------
        X : array-like or list of arrays
            Training sequences, as in :meth:`fit`.
        y : array-like
            Targets, as in :meth:`fit`.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of the loss.

        Returns
        -------
        self : LSTMRegressor
            The estimator, trained for one more epoch.
        """
        if not hasattr(self, "net_"):
            self._validate_params()
        return self._fit(X, y, sample_weight, epochs=1)

    def predict(self, X):
        """Predict targets for sequences ``X``.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences, as in :meth:`fit`.

        Returns
        -------
        y_pred : ndarray of float64
            Shape ``(n_samples,)`` or ``(n_samples, n_outputs)`` like ``y``
            in fit (with a time axis for ``return_sequences=True``).
        """
        return self._point(self._predict_quantiles(X))

    def _point(self, out: np.ndarray) -> np.ndarray:
        """:meth:`predict`'s output from :meth:`_predict_quantiles`'."""
        if self.loss == "quantile":
            out = out[..., middle_quantile(self._quantile_levels())]
        return out.reshape(out.shape[: self._target_ndim])

    def predict_quantiles(self, X) -> np.ndarray:
        """Predict every quantile of ``quantiles`` (with ``loss="quantile"``).

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences, as in :meth:`fit`.

        Returns
        -------
        y_quantiles : ndarray of float64
            Shape of :meth:`predict`'s output plus a last axis of
            ``len(quantiles)``, increasing along it: ``(n_samples,
            n_quantiles)`` for 1D ``y``, ``(n_samples, n_outputs,
            n_quantiles)`` for 2D ``y``.

        Raises
        ------
        ValueError
            If the model was not fitted with ``loss="quantile"``.

        Examples
        --------
        >>> import numpy as np
        >>> from sklstm import LSTMRegressor
        >>> rng = np.random.RandomState(0)
        >>> X = rng.normal(size=(64, 5, 1))
        >>> y = X[:, -1, 0] + rng.normal(scale=0.1, size=64)
        >>> reg = LSTMRegressor(loss="quantile", quantiles=(0.1, 0.5, 0.9),
        ...                     max_epochs=3, random_state=0).fit(X, y)
        >>> q = reg.predict_quantiles(X[:4])
        >>> q.shape, bool((np.diff(q, axis=-1) >= 0).all())
        ((4, 3), True)
        """
        check_is_fitted(self)
        if self.loss != "quantile":
            raise ValueError(
                f"predict_quantiles needs a model fitted with loss='quantile'; "
                f"this one was fitted with loss={self.loss!r}. Set "
                "loss='quantile' (and quantiles) and fit again."
            )
        out = self._predict_quantiles(X)
        return out.reshape(*out.shape[: self._target_ndim], out.shape[-1])

    def _predict_quantiles(self, X, data: SequenceDataset | None = None) -> np.ndarray:
        """Outputs in target units, with a last axis of quantiles (or of 1);
        ``data`` as for ``_predict_raw``."""
        check_is_fitted(self)
        raw = self._predict_raw(X, data)
        grouped = raw.reshape(*raw.shape[:-1], self.n_outputs_, -1)
        return grouped * self.y_scale_[:, None] + self.y_mean_[:, None]

    def _quantile_levels(self) -> np.ndarray:
        levels = np.asarray(self.quantiles, dtype=np.float64)
        if (
            levels.ndim != 1
            or len(levels) == 0
            or not np.isfinite(levels).all()
            or not ((levels > 0) & (levels < 1)).all()
            or not (np.diff(levels) > 0).all()
        ):
            raise ValueError(
                "quantiles must be a non-empty, strictly increasing sequence of "
                f"levels in (0, 1), e.g. (0.05, 0.5, 0.95); got {self.quantiles!r}."
            )
        return levels

    def score(self, X, y, sample_weight=None):
        """R² of the predictions, averaged over outputs (and real time steps).

        With per-step outputs, every time step of a sequence is one
        observation, and the steps past a shorter sequence's end (padding)
        are left out.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences.
        y : array-like
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            Coefficient of determination.
        """
        check_is_fitted(self)
        y = np.asarray(y, dtype=np.float64)
        if not self.return_sequences:
            return r2_score(y, self.predict(X), sample_weight=sample_weight)
        # every real step is one observation; X is validated once
        data = self._check_X(X, reset=False)
        pred = self._point(self._predict_quantiles(X, data))
        y, pred, sample_weight = self._step_observations(
            data.lengths, y, pred, sample_weight
        )
        return r2_score(y, pred, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.three_d_array = True
        return tags

    # hooks of _BaseLSTM
    def _check_target(self, y, data: SequenceDataset, *, fit: bool, classes=None):
        y = check_array(
            y,
            ensure_2d=False,
            allow_nd=True,
            dtype=[np.float64, np.float32],
            input_name="y",
        )
        rank = 2 if self.return_sequences else 1  # rank of a single-output target
        if y.ndim not in (rank, rank + 1):
            raise ValueError(
                f"y has {y.ndim} dimensions; expected {rank} (one output) or "
                f"{rank + 1} (several outputs)."
            )
        n_outputs = 1 if y.ndim == rank else y.shape[-1]
        if fit and self.loss == "quantile":
            self._quantile_levels()
        if fit:
            self._target_ndim = y.ndim
            self.n_outputs_ = n_outputs
        elif n_outputs != self.n_outputs_ or y.ndim != self._target_ndim:
            raise ValueError(
                f"y has {n_outputs} outputs with {y.ndim} dimensions; the model was "
                f"fitted with {self.n_outputs_} outputs and {self._target_ndim} "
                "dimensions."
            )
        return y

    def _target_tensor(
        self, y: np.ndarray, sample_weight, *, reset: bool
    ) -> torch.Tensor:
        if reset:
            self.y_mean_, self.y_scale_ = scaling(
                y, sample_weight, self.n_outputs_, bool(self.scale_target)
            )
        scaled = (y.reshape(-1, self.n_outputs_) - self.y_mean_) / self.y_scale_
        return torch.from_numpy(scaled.reshape(y.shape).astype(np.float32))

    def _n_outputs(self) -> int:
        return self.n_outputs_ * n_quantiles(self)

    def _criterion(self, data: SequenceDataset) -> torch.nn.Module:
        if self.loss == "quantile":
            return PinballLoss(tuple(self._quantile_levels().tolist()))
        return RegressionLoss(self.loss)


LSTMRegressor.__doc__ = LSTMRegressor.__doc__.format(
    shared_parameters=SHARED_PARAMETERS.replace("\n", "\n    ").rstrip() + "\n",
    shared_attributes=SHARED_ATTRIBUTES.replace("\n", "\n    ").rstrip() + "\n",
)
