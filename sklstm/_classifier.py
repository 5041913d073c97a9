"""LSTMClassifier: label encoding, class weights, probabilities, classifier tags."""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import logsumexp
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    check_array,
    check_is_fitted,
    column_or_1d,
)

from sklstm._base import _BaseLSTM
from sklstm._data import SequenceDataset
from sklstm._docs import SHARED_ATTRIBUTES, SHARED_PARAMETERS
from sklstm._engine._losses import ClassificationLoss, MultiLabelLoss
from sklstm._sklearn_private import StrOptions, _fit_context
from sklstm._targets import class_weights, probabilities
from sklstm.io._registry import register_model


@register_model
class LSTMClassifier(ClassifierMixin, _BaseLSTM):
    """LSTM classifier for sequences, trained with skorch.

    Labels of any type (strings, non-contiguous integers); binary or
    multiclass, one label per sequence or, with ``return_sequences=True``,
    one per time step (sequence tagging). Trained with cross-entropy. A 0/1
    indicator matrix ``y`` of shape ``(n_samples, n_labels)`` is multi-label
    classification: one sigmoid output per label, binary cross-entropy,
    ``predict_proba`` of shape ``(n_samples, n_labels)``.

    Parameters
    ----------
    {shared_parameters}
    class_weight : dict, "balanced" or None, default=None
        Weight of each class in the loss: a ``{{label: weight}}`` dict, or
        ``"balanced"`` for weights inversely proportional to class
        frequencies. Weights are rescaled to average 1 over the training
        labels, so they shift the decision without changing the step size.

    Attributes
    ----------
    {shared_attributes}
    classes_ : ndarray of shape (n_classes,)
        Class labels (``arange(n_labels)`` for multi-label ``y``).

    multilabel_ : bool
        Whether ``y`` was a multi-label indicator matrix.

    See Also
    --------
    LSTMRegressor : The regressor counterpart.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import LSTMClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(80, 12, 3))
    >>> y = np.where(X[:, :, 0].mean(axis=1) > 0, "up", "down")
    >>> clf = LSTMClassifier(max_epochs=5, random_state=0).fit(X, y)
    >>> clf.classes_
    array(['down', 'up'], dtype='<U4')
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints: dict = {
        **_BaseLSTM._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
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
        class_weight: dict | str | None = None,
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
        self.class_weight = class_weight

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on sequences ``X`` and labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or \
(n_samples, n_timesteps), or list of arrays of shape (T_i, n_features)
            Training sequences (2D: univariate; list: variable lengths).
        y : array-like of shape (n_samples,)
            Labels; with ``return_sequences=True`` one per time step,
            ``(n_samples, n_timesteps)``.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of the loss (a weighted mean).

        Returns
        -------
        self : LSTMClassifier
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch, starting from the current weights if fitted.

        Parameters
        ----------
        X : array-like or list of arrays
            Training sequences, as in :meth:`fit`.
        y : array-like of shape (n_samples,)
            Labels.
        classes : array-like of shape (n_classes,), default=None
            All labels that will ever be seen; required on the first call
            when a batch may miss some classes.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of the loss.

        Returns
        -------
        self : LSTMClassifier
            The estimator, trained for one more epoch.
        """
        if not hasattr(self, "net_"):
            self._validate_params()
        return self._fit(X, y, sample_weight, epochs=1, classes=classes)

    def predict_proba(self, X):
        """Class probabilities for sequences ``X``.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences, as in :meth:`fit`.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_`` (with a time axis
            before the class axis for ``return_sequences=True``).
        """
        check_is_fitted(self)
        return probabilities(self._predict_raw(X), self.multilabel_)

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities for sequences ``X``.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences, as in :meth:`fit`.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))``, computed stably from the logits.
        """
        check_is_fitted(self)
        raw = self._predict_raw(X)
        if self.multilabel_:
            return -np.logaddexp(0.0, -raw)
        return raw - logsumexp(raw, axis=-1, keepdims=True)

    def predict(self, X):
        """Predict labels for sequences ``X``.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences, as in :meth:`fit`.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_`` (``(n_samples, n_timesteps)`` for
            ``return_sequences=True``).
        """
        check_is_fitted(self)
        return self._labels(self._predict_raw(X))

    def _labels(self, raw: np.ndarray) -> np.ndarray:
        if self.multilabel_:
            return (raw > 0).astype(np.int64)  # probability above 0.5
        return self.classes_[np.argmax(raw, axis=-1)]

    def score(self, X, y, sample_weight=None):
        """Accuracy of the predictions (over the real time steps for tagging).

        With per-step labels, every time step of a sequence is one
        observation, and the steps past a shorter sequence's end (padding)
        are left out.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences.
        y : array-like
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            Mean accuracy.
        """
        check_is_fitted(self)
        y = np.asarray(y)
        if not self.return_sequences:
            return accuracy_score(y, self.predict(X), sample_weight=sample_weight)
        # every real step is one observation; X is validated once
        data = self._check_X(X, reset=False)
        pred = self._labels(self._predict_raw(X, data))
        y, pred, sample_weight = self._step_observations(
            data.lengths, y, pred, sample_weight
        )
        return accuracy_score(y, pred, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.input_tags.three_d_array = True
        return tags

    # hooks of _BaseLSTM
    def _is_classifier_target(self) -> bool:
        return not self.multilabel_  # stratify on single labels only

    def _check_target(self, y, data: SequenceDataset, *, fit: bool, classes=None):
        if fit:
            shape = np.shape(np.asarray(y)) if not hasattr(y, "shape") else y.shape
            self.multilabel_ = (
                not self.return_sequences
                and len(shape) == 2
                and shape[1] > 1
                and type_of_target(y) == "multilabel-indicator"
            )
        if self.multilabel_:
            return self._check_indicator(y, fit=fit)
        if self.return_sequences:
            y = check_array(y, ensure_2d=True, dtype=None, input_name="y")
        else:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if fit:
            encoder = LabelEncoder().fit(y.ravel() if classes is None else classes)
            self.classes_ = encoder.classes_
            if len(self.classes_) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes in the "
                    f"data, but the data contains only one class: {self.classes_[0]!r}."
                )
        elif classes is not None and not np.array_equal(
            np.unique(np.asarray(classes)), self.classes_
        ):
            raise ValueError(
                f"classes={np.unique(np.asarray(classes)).tolist()} differs from the "
                f"classes of the first partial_fit call, {self.classes_.tolist()}; "
                "give the same classes every time (or none after the first call)."
            )
        unseen = np.setdiff1d(y.ravel(), self.classes_)
        if len(unseen):
            raise ValueError(
                f"y contains labels not seen in the first fit: {unseen[:5].tolist()}; "
                f"known classes are {self.classes_.tolist()}."
            )
        return np.searchsorted(self.classes_, y)

    def _check_indicator(self, y, *, fit: bool) -> np.ndarray:
        """Multi-label targets: a 0/1 indicator matrix, one column per label."""
        y = check_array(y, dtype=None, input_name="y")
        if type_of_target(y) != "multilabel-indicator":
            raise ValueError(
                "The model was fitted on a multi-label indicator matrix; y must be "
                "a 0/1 matrix with one column per label."
            )
        if fit:
            self.classes_ = np.arange(y.shape[1])
            if self.class_weight is not None:
                raise ValueError(
                    "class_weight is not supported for multi-label y; use "
                    "sample_weight instead."
                )
        elif y.shape[1] != len(self.classes_):
            raise ValueError(
                f"y has {y.shape[1]} label columns; the model was fitted with "
                f"{len(self.classes_)}."
            )
        return y.astype(np.float32)

    def _target_tensor(
        self, y: np.ndarray, sample_weight, *, reset: bool
    ) -> torch.Tensor:
        return torch.from_numpy(y.astype(np.float32 if self.multilabel_ else np.int64))

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _criterion(self, data: SequenceDataset) -> torch.nn.Module:
        if self.multilabel_:
            return MultiLabelLoss()
        if self.class_weight is None:
            return ClassificationLoss()
        encoded = data.y.cpu().numpy().ravel()
        weights = class_weights(self.class_weight, self.classes_, encoded)
        return ClassificationLoss(torch.tensor(weights, dtype=torch.float32))


LSTMClassifier.__doc__ = LSTMClassifier.__doc__.format(
    shared_parameters=SHARED_PARAMETERS.replace("\n", "\n    ").rstrip() + "\n",
    shared_attributes=SHARED_ATTRIBUTES.replace("\n", "\n    ").rstrip() + "\n",
)
