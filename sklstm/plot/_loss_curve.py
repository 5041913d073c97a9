"""LossCurveDisplay: training and validation loss per epoch, sklearn Display style."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D


def _pyplot(caller: str) -> Any:
    """Import ``matplotlib.pyplot`` lazily, with an install hint when it is missing."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib: pip install 'matplotlib>=3.7'"
        ) from exc
    return plt


def _column(rows: list[Mapping[str, Any]], key: str) -> np.ndarray:
    """One value per epoch; NaN where an epoch did not record ``key``."""
    values = [row.get(key) for row in rows]
    return np.array([np.nan if v is None else float(v) for v in values])


class LossCurveDisplay:
    """Loss curve visualization: training (and validation) loss per epoch.

    Build it with :meth:`from_estimator` from a fitted
    :class:`~sklstm.LSTMClassifier` or :class:`~sklstm.LSTMRegressor`, or with
    :meth:`from_history` from a skorch ``History`` (or a list of per-epoch
    dicts), for example the ``history_`` of each fold returned by
    :func:`~sklearn.model_selection.cross_validate`. Several displays can
    draw on one axis. All attributes are stored by the constructor; drawing
    happens in :meth:`plot`.

    Parameters
    ----------
    train_loss : array-like of shape (n_epochs,)
        Training loss of each epoch; epochs are numbered from 1.

    valid_loss : array-like of shape (n_epochs,), default=None
        Validation loss of each epoch, NaN for epochs without one (they are
        not drawn). ``None`` (or all NaN) draws no validation curve.

    best_epoch : int, default=None
        1-based epoch whose weights the model holds, marked by a vertical
        line. ``None`` draws no marker.

    estimator_name : str, default=None
        Name prefixed to the legend labels; ``None`` leaves them plain.

    Attributes
    ----------
    lines_ : dict of str to matplotlib Line2D
        ``"train"`` and, when there is a validation loss, ``"valid"``.

    best_line_ : matplotlib Line2D or None
        The vertical best-epoch marker, ``None`` when none was drawn.

    ax_ : matplotlib Axes
        Axes with the loss curves.

    figure_ : matplotlib Figure
        Figure containing the curves.

    See Also
    --------
    sklearn.model_selection.LearningCurveDisplay : Scores against the
        number of training samples.
    sklearn.model_selection.ValidationCurveDisplay : Scores against one
        hyperparameter.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from sklearn.model_selection import cross_validate
    >>> from sklstm import LSTMRegressor
    >>> from sklstm.plot import LossCurveDisplay
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 6, 2))
    >>> y = X[:, :, 0].mean(axis=1)
    >>> est = LSTMRegressor(hidden_size=4, max_epochs=3, early_stopping=True,
    ...                     random_state=0).fit(X, y)
    >>> disp = LossCurveDisplay.from_estimator(est)
    >>> sorted(disp.lines_)
    ['train', 'valid']
    >>> bool(disp.best_line_.get_xdata()[0] == est.best_epoch_)
    True

    One curve per cross-validation fold, drawn on one axis:

    >>> cv = cross_validate(LSTMRegressor(hidden_size=4, max_epochs=3,
    ...                                   random_state=0),
    ...                     X, y, cv=3, return_estimator=True)
    >>> fig, ax = plt.subplots()
    >>> for i, fold in enumerate(cv["estimator"]):
    ...     _ = LossCurveDisplay.from_history(fold.history_, name=f"fold {i}",
    ...                                       ax=ax)
    >>> len(ax.get_lines())
    3
    >>> plt.close("all")
    """

    def __init__(
        self,
        *,
        train_loss: Iterable[float],
        valid_loss: Iterable[float] | None = None,
        best_epoch: int | None = None,
        estimator_name: str | None = None,
    ) -> None:
        self.train_loss = np.asarray(train_loss, dtype=np.float64).ravel()
        if self.train_loss.size == 0:
            raise ValueError("train_loss is empty: there is no epoch to draw.")
        self.valid_loss = None
        if valid_loss is not None:
            valid = np.asarray(valid_loss, dtype=np.float64).ravel()
            if valid.shape != self.train_loss.shape:
                raise ValueError(
                    f"valid_loss has {valid.size} values for {self.train_loss.size} "
                    "epochs; give one value per epoch (NaN where there is none)."
                )
            if not np.isnan(valid).all():
                self.valid_loss = valid
        if best_epoch is not None:
            if not 1 <= int(best_epoch) <= self.train_loss.size:
                raise ValueError(
                    f"best_epoch={best_epoch} is outside the epochs 1.."
                    f"{self.train_loss.size}."
                )
            best_epoch = int(best_epoch)
        self.best_epoch = best_epoch
        self.estimator_name = estimator_name

    def plot(
        self,
        ax: Axes | None = None,
        *,
        name: str | None = None,
        show_best: bool = True,
        log_scale: bool = False,
        **kwargs: Any,
    ) -> LossCurveDisplay:
        """Draw the loss curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` creates a new figure and axes.

        name : str, default=None
            Name prefixed to the legend labels; ``None`` uses
            ``estimator_name``.

        show_best : bool, default=True
            Mark the best epoch with a dotted vertical line (when there is
            one).

        log_scale : bool, default=False
            Use a logarithmic loss axis.

        **kwargs : dict
            Keyword arguments passed to :meth:`matplotlib.axes.Axes.plot` for
            both curves. The validation curve is dashed and takes the
            training curve's color unless these say otherwise.

        Returns
        -------
        display : LossCurveDisplay
            Object that stores the computed values.
        """
        plt = _pyplot(f"{type(self).__name__}.plot")
        if ax is None:
            _, ax = plt.subplots()
        name = self.estimator_name if name is None else name
        prefix = "" if name is None else f"{name}: "
        epochs = np.arange(1, self.train_loss.size + 1)

        self.lines_: dict[str, Line2D] = {}
        seen = ~np.isnan(self.train_loss)
        (train,) = ax.plot(
            epochs[seen],
            self.train_loss[seen],
            **{"label": f"{prefix}train loss", **kwargs},
        )
        self.lines_["train"] = train
        if self.valid_loss is not None:
            seen = ~np.isnan(self.valid_loss)
            style = {
                "label": f"{prefix}validation loss",
                "linestyle": "--",
                "color": train.get_color(),
            }
            (valid,) = ax.plot(
                epochs[seen], self.valid_loss[seen], **{**style, **kwargs}
            )
            self.lines_["valid"] = valid

        self.best_line_: Line2D | None = None
        if show_best and self.best_epoch is not None:
            self.best_line_ = ax.axvline(
                self.best_epoch,
                color=train.get_color(),
                linestyle=":",
                alpha=0.8,
                label=f"{prefix}best epoch ({self.best_epoch})",
            )

        if log_scale:
            ax.set_yscale("log")
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs
        ax.set_xlabel("Epoch")
        ax.set_ylabel("Loss")
        ax.legend()
        self.ax_ = ax
        self.figure_: Figure = ax.figure
        return self

    @classmethod
    def from_history(
        cls,
        history: Iterable[Mapping[str, Any]],
        *,
        best_epoch: int | None = None,
        ax: Axes | None = None,
        name: str | None = None,
        show_best: bool = True,
        log_scale: bool = False,
        **kwargs: Any,
    ) -> LossCurveDisplay:
        """Plot the loss curves recorded in a training history.

        Parameters
        ----------
        history : skorch History or list of dict
            One dict per epoch with a ``"train_loss"`` key and, optionally,
            ``"valid_loss"`` (epochs without it are not drawn on the
            validation curve).

        best_epoch : int, default=None
            1-based epoch to mark; a history does not say which weights a
            model kept, so pass the estimator's ``best_epoch_`` to mark it
            (or use :meth:`from_estimator`). ``None`` draws no marker.

        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` creates a new figure and axes.

        name : str, default=None
            Name prefixed to the legend labels.

        show_best : bool, default=True
            Mark ``best_epoch`` with a dotted vertical line.

        log_scale : bool, default=False
            Use a logarithmic loss axis.

        **kwargs : dict
            Keyword arguments passed to :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : LossCurveDisplay
            Object that stores the computed values.
        """
        _pyplot(f"{cls.__name__}.from_history")
        if isinstance(history, Mapping):
            raise TypeError("history must be a list of per-epoch dicts, not one dict.")
        rows = list(history)
        if not rows:
            raise ValueError("history is empty: there is no epoch to draw.")
        if not all(isinstance(row, Mapping) for row in rows):
            raise TypeError(
                "history must be a skorch History or a list of per-epoch dicts."
            )
        if not any("train_loss" in row for row in rows):
            raise ValueError("history has no 'train_loss' entry.")
        valid = None
        if any("valid_loss" in row for row in rows):
            valid = _column(rows, "valid_loss")
        display = cls(
            train_loss=_column(rows, "train_loss"),
            valid_loss=valid,
            best_epoch=best_epoch,
            estimator_name=name,
        )
        return display.plot(ax=ax, show_best=show_best, log_scale=log_scale, **kwargs)

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        *,
        ax: Axes | None = None,
        name: str | None = None,
        show_best: bool = True,
        log_scale: bool = False,
        **kwargs: Any,
    ) -> LossCurveDisplay:
        """Plot the loss curves of a fitted sklstm estimator.

        Parameters
        ----------
        estimator : fitted LSTMClassifier, LSTMRegressor, Pipeline or search
            Estimator whose ``history_`` is drawn; for a
            :class:`~sklearn.pipeline.Pipeline`, its final step; for a fitted
            search (``GridSearchCV`` and the like, with ``refit``), its
            ``best_estimator_``. Every epoch
            in the history is drawn, including those of earlier fits with
            ``warm_start=True``.

        ax : matplotlib Axes, default=None
            Axes to draw on; ``None`` creates a new figure and axes.

        name : str, default=None
            Name prefixed to the legend labels; ``None`` leaves them plain.

        show_best : bool, default=True
            Mark the estimator's ``best_epoch_`` (the restored epoch with
            early stopping, else the last one) with a dotted vertical line.

        log_scale : bool, default=False
            Use a logarithmic loss axis.

        **kwargs : dict
            Keyword arguments passed to :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : LossCurveDisplay
            Object that stores the computed values.
        """
        _pyplot(f"{cls.__name__}.from_estimator")
        check_is_fitted(estimator)
        if not hasattr(estimator, "history_") and hasattr(estimator, "best_estimator_"):
            estimator = estimator.best_estimator_  # a fitted search: its refit model
        if not hasattr(estimator, "history_") and hasattr(estimator, "steps"):
            estimator = estimator[-1]
            check_is_fitted(estimator)
        if not hasattr(estimator, "history_"):
            raise TypeError(
                f"{cls.__name__}.from_estimator needs an estimator with a training "
                f"history_ (LSTMClassifier, LSTMRegressor); got "
                f"{type(estimator).__name__}."
            )
        # a "best" epoch exists only where validation chose it (early stopping)
        best = None
        if getattr(estimator, "validation_loss_curve_", None) is not None:
            best = getattr(estimator, "best_epoch_", None)
        return cls.from_history(
            estimator.history_,
            best_epoch=best,
            ax=ax,
            name=name,
            show_best=show_best,
            log_scale=log_scale,
            **kwargs,
        )
