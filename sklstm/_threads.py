"""Torch intra-op thread control for the duration of one fit or predict."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

# Below this many multiply-adds per LSTM step and batch, a second thread gains
# 1.3-1.7x on an idle machine (0.14M-1.2M) but cost 4-8x when the cores were busy;
# above it (batch 256, 128 units: 17M) it gained 1.7-1.8x. Measured with
# `python benchmarks/run.py --only threads`.
_SMALL_STEP_WORK = 8_000_000


def auto_threads(batch_size: int, input_size: int, hidden_size: int) -> int:
    """Threads worth using for one model: 1 for small ones, else the current count."""
    work = batch_size * 4 * hidden_size * (input_size + hidden_size)
    return 1 if work < _SMALL_STEP_WORK else torch.get_num_threads()


_lock = threading.Lock()
_active = 0  # fits and predicts inside torch_threads, in any thread
_saved = 0  # the caller's count before the first of them entered


@contextmanager
def torch_threads(n_threads: int) -> Iterator[None]:
    """Run the block with ``n_threads`` torch threads, then restore the caller's.

    torch's thread count is global to the process: with fits running in
    several threads, the count seen before the first one entered is restored
    when the last one leaves (not by each, in whatever order they end).
    """
    global _active, _saved
    with _lock:
        if _active == 0:
            _saved = torch.get_num_threads()
        _active += 1
        if torch.get_num_threads() != n_threads:
            torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and torch.get_num_threads() != _saved:
                torch.set_num_threads(_saved)
