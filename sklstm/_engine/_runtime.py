"""Where a fit runs: seeding, device, torch threads, Ctrl-C and out-of-memory.

Everything here is process state that one fit or predict borrows and hands
back: the caller's RNG, thread count and SIGINT handler are restored
afterwards, and allocator failures become a ``MemoryError`` naming the fix.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch


# ---------------------------------------------------------------- devices
def resolve_device(device) -> str:
    """``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:<i>"`` or a ``torch.device``
    as a device string; ``ValueError`` for anything else or a missing GPU."""
    if str(device) == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"Unknown device {device!r}; use 'cpu', 'cuda', 'cuda:<index>' or 'auto'."
        ) from None
    if parsed.type not in ("cpu", "cuda"):
        raise ValueError(
            f"device={device!r} is not supported; use 'cpu', 'cuda', "
            "'cuda:<index>' or 'auto'."
        )
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but CUDA is not available; use device='cpu' "
            "or device='auto'."
        )
    return str(parsed)


def cuda_indices(device) -> list[int]:
    """The CUDA device indices ``device`` names (``[]`` for the CPU), for
    ``torch.random.fork_rng`` and :func:`seed_torch`."""
    parsed = torch.device(device)
    return [parsed.index or 0] if parsed.type == "cuda" else []


# ---------------------------------------------------------------- seeding
def seed_torch(seed: int, cuda: list[int]) -> None:
    """Seed the CPU generator and those of the ``cuda`` devices.

    Not ``torch.manual_seed``: on a CPU-only machine it queues lazy seeding
    calls for CUDA and other backends, recording a stack trace each time
    (about 1 ms per call, which a small model's epoch notices).
    """
    torch.default_generator.manual_seed(seed)
    for index in cuda:
        torch.cuda.default_generators[index].manual_seed(seed)


@contextmanager
def seeded(seed: int, device) -> Iterator[None]:
    """Run the block with torch's generators (CPU and ``device``'s) seeded
    with ``seed``; the caller's generator states are restored afterwards."""
    cuda = cuda_indices(device)
    with torch.random.fork_rng(devices=cuda):
        seed_torch(seed, cuda)
        yield


# --------------------------------------------------------- out of memory
def device_memory(device) -> int | None:
    """Bytes of memory ``device`` has in all, or None where unknown.

    CUDA: the card's total memory. CPU: physical memory (psutil's count if
    it is installed, else ``os.sysconf``), or the process's cgroup limit if
    that is lower (a container).
    """
    parsed = torch.device(device)
    if parsed.type == "cuda":
        try:
            return int(torch.cuda.mem_get_info(parsed)[1])
        except (RuntimeError, AssertionError, ValueError):
            return None
    try:
        import psutil

        total = int(psutil.virtual_memory().total)
    except ImportError:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):  # no sysconf (Windows)
            return None
    return min(total, _cgroup_limit() or total)


def _cgroup_limit() -> int | None:
    """The memory limit of this process's cgroup (v2, then v1), if any."""
    for name in (
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ):
        try:
            text = Path(name).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            return int(text)
    return None


def is_cpu_oom(exc: BaseException) -> bool:
    """Whether ``exc`` is the CPU allocator's failure (a ``RuntimeError``)."""
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "DefaultCPUAllocator" in text or "not enough memory" in text
    )


@contextmanager
def out_of_memory_as(advice: str) -> Iterator[None]:
    """Turn CUDA's and the CPU allocator's out-of-memory errors into a
    ``MemoryError`` that says what ran out and ``advice`` (what to lower)."""
    try:
        yield
    except torch.cuda.OutOfMemoryError as exc:
        raise MemoryError(f"CUDA ran out of memory {advice}") from exc
    except RuntimeError as exc:
        if not is_cpu_oom(exc):
            raise
        raise MemoryError(f"Out of memory on the CPU {advice}") from exc


# ---------------------------------------------------------------- threads
# Below this many multiply-adds per LSTM step and batch, a second thread gains
# 1.3-1.7x on an idle machine (0.14M-1.2M) but cost 4-8x when the cores were busy;
# above it (batch 256, 128 units: 17M) it gained 1.7-1.8x. Measured with
# `python benchmarks/run.py --only threads`.
_SMALL_STEP_WORK = 8_000_000
# The convolutional branch runs each block over a whole batch in one call. Per
# batch (all blocks, default pooling), a second thread gained nothing at 12M
# (BasicMotions: 2.0 s on one thread, 1.9 s on two) and 15M (GunPoint: 1.8 /
# 1.7 s), 1.1x at 25M (ArrowHead: 2.3 / 2.1 s) and 1.2x at 30M (ACSF1: 3.6 /
# 3.0 s): fit seconds of `benchmarks/accuracy.py --seeds 3 --only GunPoint
# BasicMotions ArrowHead ACSF1 --params '{"n_threads": 1}' --models "sklstm,
# params"` against the same with `'{"n_threads": 2}'`.
_SMALL_CONV_WORK = 20_000_000


def auto_threads(
    batch_size: int, input_size: int, hidden_size: int, conv_work: int = 0
) -> int:
    """Threads worth using for one model: 1 for small ones, else the current count.

    ``conv_work`` is the convolutional branch's multiply-adds per sequence.
    """
    work = batch_size * 4 * hidden_size * (input_size + hidden_size)
    small = work < _SMALL_STEP_WORK and batch_size * conv_work < _SMALL_CONV_WORK
    return 1 if small else torch.get_num_threads()


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


# ----------------------------------------------------------------- Ctrl-C
# skorch stops training by raising ``KeyboardInterrupt`` (its ``EarlyStopping``
# does, and callbacks may) and swallows it in ``partial_fit``. A real Ctrl-C
# must still stop the caller (a script, a ``GridSearchCV``), so during a fit
# SIGINT is recorded before it becomes the usual ``KeyboardInterrupt``.


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
