"""skorch callbacks sklstm builds for its own parameters."""

from __future__ import annotations

import os
import sys
import time
from itertools import count

from skorch.callbacks import Callback, TensorBoard

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
                "pip install 'sklstm[tensorboard]'"
            ) from exc
        run = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{next(_RUNS)}"
        self.run_dir_ = os.path.join(self.log_dir, run)
        self.writer = SummaryWriter(self.run_dir_)

    def on_train_end(self, net, **kwargs) -> None:
        self.writer.close()
        self.writer = None
