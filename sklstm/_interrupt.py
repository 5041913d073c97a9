"""Tell a real Ctrl-C from skorch's way of stopping training.

skorch stops training by raising ``KeyboardInterrupt`` (its ``EarlyStopping``
does, and callbacks may) and swallows it in ``partial_fit``. A real Ctrl-C
must still stop the caller (a script, a ``GridSearchCV``), so during a fit
SIGINT is recorded before it becomes the usual ``KeyboardInterrupt``.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class SigintWatch:
    """Whether SIGINT arrived inside the ``with`` block."""

    received = False


@contextmanager
def watch_sigint() -> Iterator[SigintWatch]:
    """Record SIGINT during the block, then raise ``KeyboardInterrupt`` as usual.

    Only the main thread receives signals; elsewhere nothing is installed.
    """
    watch = SigintWatch()
    if threading.current_thread() is not threading.main_thread():
        yield watch
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        watch.received = True
        if callable(previous):
            previous(signum, frame)
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # not settable here (an embedded interpreter)
        yield watch
        return
    try:
        yield watch
    finally:
        signal.signal(signal.SIGINT, previous)
