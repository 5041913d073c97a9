"""scikit-learn's callback API (``sklearn.callback``, 1.9+) fed by skorch's hooks.

A fit is one task of the estimator's callback context; each epoch is a
sub-task of it, and each training batch a sub-task of its epoch when a
callback asks for that (an attribute ``batch_tasks = True``). The epoch and
batch tasks come from one skorch callback, :class:`SklearnCallbackBridge`,
that :func:`sklstm._engine._build.make_callbacks` appends to a fit's
callbacks only when the estimator has scikit-learn callbacks: a fit without
them runs exactly as before, and batch hooks (which turn off the net's quiet
epoch loop) are listened to only when asked for.

An epoch task's ``fitted_estimator`` is the model as of that epoch's end:
``n_iter_``, ``loss_curve_``, ``validation_loss_curve_`` and
``validation_scores_`` (with early stopping) and ``history_`` hold the
scores recorded so far, and it predicts with the training net's current
weights (it shares the net: use it within the hook). It is built only for a
callback whose hook asks for it.

Nothing here imports scikit-learn's callback module: on scikit-learn < 1.9
estimators have no ``_init_callback_context`` and :func:`fit_task` does
nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from skorch.callbacks import Callback

# the attribute by which a scikit-learn callback asks for one task per batch
BATCH_TASKS = "batch_tasks"
# where a fit in progress keeps its task, for make_callbacks to find
_TASK = "_sklstm_fit_task"


class FitTask:
    """The callback context of one fit and the data its hooks are given.

    ``open`` holds the sub-task contexts begun and not yet ended, innermost
    last, so that whatever ends the fit (early stopping, divergence, an
    error, Ctrl-C) can end them in order.
    """

    def __init__(self, estimator, context, X, y, metadata, *, batches: bool):
        self.estimator = estimator
        self.context = context
        self.data = {"X": X, "y": y, "metadata": metadata}
        self.batches = batches
        self.open: list = []

    @property
    def live(self) -> bool:
        """Whether the fit this task belongs to is still running."""
        return self.context is not None

    def begin(self, name: str, *, max_subtasks: int = 0, data: bool = True) -> None:
        """Begin a sub-task of the innermost open task."""
        parent = self.open[-1] if self.open else self.context
        ctx = parent.subcontext(task_name=name, max_subtasks=max_subtasks)
        ctx.call_on_fit_task_begin(
            estimator=self.estimator, **(self.data if data else {})
        )
        self.open.append(ctx)

    def end(self, *, data: bool = True, state: Callable | None = None) -> bool:
        """End the innermost open sub-task; True if a callback asks to stop.

        ``state`` returns the fitted attributes of ``fitted_estimator``; it
        is called only if a callback's hook takes ``fitted_estimator``.
        """
        ctx = self.open.pop()
        return ctx.call_on_fit_task_end(
            estimator=self.estimator,
            reconstruction_attributes=state,
            **(self.data if data else {}),
        )

    def close(self) -> None:
        """End the sub-tasks still open (they did not finish), forget the fit."""
        while self.open and self.live:
            self.end(data=False)
        self.estimator = self.context = None
        self.data = {}


@contextlib.contextmanager
def fit_task(
    est, *, name: str, n_epochs: int, X, y, sample_weight=None
) -> Iterator[None]:
    """Run a fit of ``est`` as the root task of its callback context.

    Begins the task (``n_epochs`` sub-tasks at most) and ends it however the
    fit ends: with a ``fitted_estimator`` when the fit succeeded, without
    one when it raised. Callbacks' ``setup`` runs here (scikit-learn's
    ``_init_callback_context``); their ``teardown`` is the caller's (inside
    scikit-learn's ``callback_management_context``).
    """
    if not hasattr(est, "_init_callback_context"):  # scikit-learn < 1.9
        yield
        return
    # like scikit-learn's estimators, always: a search links the task trees
    # even when this estimator has no callback of its own
    context = est._init_callback_context(task_name=name, max_subtasks=n_epochs)
    metadata = None if sample_weight is None else {"sample_weight": sample_weight}
    context.call_on_fit_task_begin(estimator=est, X=X, y=y, metadata=metadata)
    callbacks = getattr(est, "_skl_callbacks", [])
    task = None
    if callbacks:  # only then are epochs worth reporting
        batches = any(getattr(cb, BATCH_TASKS, False) for cb in callbacks)
        task = FitTask(est, context, X, y, metadata, batches=batches)
        setattr(est, _TASK, task)
    done = {}
    try:
        yield
        done = {"reconstruction_attributes": {}}  # est itself is the fitted model
    finally:
        if task is not None:
            task.close()
            vars(est).pop(_TASK, None)
        context.call_on_fit_task_end(estimator=est, X=X, y=y, metadata=metadata, **done)


def epoch_state(net, n_before: int) -> dict:
    """The fitted attributes of the model as of now (``fitted_estimator``).

    Named and computed as the estimator records them after a fit; the
    validation columns exist with early stopping only.
    """
    history = net.history

    def column(key: str, start: int = 0) -> list[float]:
        return [float(row[key]) for row in history[start:] if key in row]

    return {
        "net_": net,
        "device_": str(net.device),
        "history_": history,
        "n_iter_": len(history) - n_before,
        "loss_curve_": column("train_loss"),
        "validation_loss_curve_": column("valid_loss", n_before) or None,
        "validation_scores_": column("valid_score", n_before) or None,
    }


class SklearnCallbackBridge(Callback):
    """skorch callback reporting each epoch as a scikit-learn callback task.

    Placed after every other callback of the fit, so that an epoch's task
    ends with all the scores of that epoch recorded in the history. An epoch
    that ``EarlyStopping`` ends (it interrupts the other callbacks' epoch
    end) is ended at the end of training, with its scores; one cut short
    (divergence, Ctrl-C) is ended without data. A callback that asks to stop
    at an epoch's end stops the fit as ``EarlyStopping`` does.

    Parameters
    ----------
    task : FitTask
        The fit's task; the bridge is inert once the fit is over.
    n_batches : int
        Training batches per epoch, at most (the epoch tasks' sub-tasks when
        batch tasks are asked for).
    """

    def __init__(self, task: FitTask, n_batches: int) -> None:
        self.task = task
        self.n_batches = n_batches

    def __getstate__(self) -> dict:
        # a net pickled during a fit (a checkpoint) must not carry the
        # estimator, its data and the callback contexts along
        return {**self.__dict__, "task": None}

    def _live(self) -> bool:
        return self.task is not None and self.task.live

    def on_train_begin(self, net, X=None, y=None, **kwargs) -> None:
        self.n_before_ = len(net.history)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        if self._live():
            subtasks = self.n_batches if self.task.batches else 0
            self.task.begin("epoch", max_subtasks=subtasks)

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        if self._live() and self.task.open:
            stop = self.task.end(state=lambda: epoch_state(net, self.n_before_))
            if stop:
                raise KeyboardInterrupt  # how skorch callbacks stop a fit

    def on_train_end(self, net, X=None, y=None, **kwargs) -> None:
        if not self._live():
            return
        while len(self.task.open) > 1:  # a batch cut short
            self.task.end(data=False)
        if self.task.open:
            # the epoch's end was interrupted: by EarlyStopping after the
            # epoch's scores were recorded, or mid-epoch (no scores)
            if net.history and "train_loss" in net.history[-1]:
                self.task.end(state=lambda: epoch_state(net, self.n_before_))
            else:
                self.task.end(data=False)


class SklearnBatchBridge(SklearnCallbackBridge):
    """:class:`SklearnCallbackBridge` that also reports each training batch.

    Listening to batch hooks costs the net its quiet epoch loop (one host
    sync per batch), so this class is used only when a callback asks for
    batch tasks. Batch tasks carry no data.
    """

    def on_batch_begin(self, net, batch=None, training=None, **kwargs) -> None:
        if training and self._live() and len(self.task.open) == 1:
            self.task.begin("batch", data=False)

    def on_batch_end(self, net, batch=None, training=None, **kwargs) -> None:
        if training and self._live() and len(self.task.open) == 2:
            self.task.end(data=False)


def bridge_for(est, n_batches: int) -> SklearnCallbackBridge | None:
    """The bridge for the fit of ``est`` in progress, or None (no callbacks)."""
    task = getattr(est, _TASK, None)
    if task is None or not task.live:
        return None
    cls = SklearnBatchBridge if task.batches else SklearnCallbackBridge
    return cls(task, n_batches)
