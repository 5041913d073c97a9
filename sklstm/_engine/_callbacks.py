"""skorch callbacks sklstm builds for its own parameters."""

from __future__ import annotations

import os
import sys
import time
from itertools import count

from skorch.callbacks import Callback, LRScheduler, PrintLog, TensorBoard

_RUNS = count()


def to_stderr(text: str) -> None:
    """Progress sink: messages go to stderr, keeping stdout for results."""
    print(text, file=sys.stderr)


def silent(text: str) -> None:
    """Sink that drops messages (verbose=0)."""


class TensorBoardLogger(TensorBoard):
    """skorch's TensorBoard callback, with a fresh ``SummaryWriter`` per fit.

    Each fit writes to its own run folder under ``log_dir`` (TensorBoard lists
    them side by side), and the writer is closed and dropped after training so
    the fitted estimator still pickles.
    """

    # epoch scalars only: no per-batch hook, so the fast training loop is kept
    on_batch_end = Callback.on_batch_end

    def __init__(self, log_dir: str) -> None:
        super().__init__(writer=None)
        self.log_dir = log_dir

    def on_train_begin(self, net, **kwargs) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:  # pragma: no cover - depends on the extra
            raise ImportError(
                "tensorboard_dir needs the tensorboard package: "
                "pip install 'tensorboard>=2.14'"
            ) from exc
        run = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{next(_RUNS)}"
        self.run_dir_ = os.path.join(self.log_dir, run)
        self.writer = SummaryWriter(self.run_dir_)

    def on_train_end(self, net, **kwargs) -> None:
        self.writer.close()
        self.writer = None


class ScheduleCallback(LRScheduler):
    """skorch's ``LRScheduler`` whose schedule carries on across warm fits.

    skorch builds a new scheduler at every ``on_train_begin``; here the
    scheduler is kept while it drives the net's current optimizer, so N calls
    of ``partial_fit`` follow the same learning rates as one fit of N epochs.
    A scheduler built on a continued fit starts from the optimizer's current
    rate. After ``horizon`` steps (the end of a cosine or one-cycle schedule)
    the rate holds still instead of restarting or failing.
    """

    def __init__(self, policy, *, horizon: int | None = None, **kwargs) -> None:
        super().__init__(policy, **kwargs)
        self.horizon = horizon

    @property
    def kwargs(self) -> dict:
        kwargs = super().kwargs
        kwargs.pop("horizon", None)
        return kwargs

    def same_schedule(self, other) -> bool:
        """Whether ``other`` is a scheduler callback with the same settings."""
        return (
            isinstance(other, ScheduleCallback)
            and other.policy is self.policy
            and other.kwargs == self.kwargs
            and (other.step_every, other.monitor, other.horizon)
            == (self.step_every, self.monitor, self.horizon)
        )

    def initialize(self) -> ScheduleCallback:
        kept = getattr(self, "lr_scheduler_", None), getattr(self, "steps_", 0)
        super().initialize()
        self.lr_scheduler_, self.steps_ = kept
        return self

    def on_train_begin(self, net, **kwargs) -> None:
        scheduler = self.lr_scheduler_
        if scheduler is not None and scheduler.optimizer is net.optimizer_:
            return  # carry on
        for group in net.optimizer_.param_groups:
            group["initial_lr"] = group["lr"]  # start from the current rate
        self.lr_scheduler_ = self.policy_(net.optimizer_, **self.kwargs)
        self.steps_ = 0

    def _step(self, net, lr_scheduler, score=None) -> None:
        if self.horizon is not None and self.steps_ >= self.horizon:
            return
        super()._step(net, lr_scheduler, score=score)
        self.steps_ += 1


class EpochLog(PrintLog):
    """skorch's ``PrintLog`` that also prints the last epoch when training ends
    early: ``EarlyStopping`` interrupts the epoch's end before ``PrintLog``,
    which skorch always runs last, gets to it."""

    def initialize(self) -> EpochLog:
        super().initialize()
        self.printed_ = 0
        return self

    def on_epoch_end(self, net, **kwargs) -> None:
        super().on_epoch_end(net, **kwargs)
        self.printed_ = len(net.history)

    def on_train_end(self, net, **kwargs) -> None:
        if net.history and self.printed_ < len(net.history):
            self.on_epoch_end(net)
