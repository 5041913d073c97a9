"""Where a fit runs: seeding, device, torch threads, the C heap, Ctrl-C and
out-of-memory.

Everything here is process state that one fit or predict borrows and hands
back: the caller's RNG, thread count and SIGINT handler are restored
afterwards, and allocator failures become a ``MemoryError`` naming the fix.
The exception is glibc's heap thresholds, set once where glibc's own
adjustment would take them (:func:`reuse_heap`).
"""

from __future__ import annotations

import ctypes
import functools
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


# ------------------------------------------------------------- the C heap
# torch's CPU tensors come from malloc. glibc maps fresh pages for blocks above
# its mmap threshold (128 KiB at first, raised to the size of each such block
# freed, up to 32 MiB) and hands the heap's free top back to the system past
# its trim threshold (twice the mmap one), so a training step that frees and
# allocates the same large activations first-touches their pages again. The
# convolutional branch's activations run to megabytes per batch: PigCVP's
# defaults (batches of 32 x 1000 steps x 64 filters, 8 MB each) took 1.6M page
# faults per fit in a fresh process, batch norm, the pooling's backward and
# zero-filling ran 4-10x slower (torch.profiler) than on reused memory, and the
# fit 1.8x slower (`python benchmarks/heap.py`).
_M_TRIM_THRESHOLD = -1  # mallopt's parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
# where glibc's own adjustment ends up after freeing a 32 MiB block: the most
# it would do by itself, with nothing kept beyond 64 MiB of free heap top
_MMAP_THRESHOLD = 32 * 2**20
_TRIM_THRESHOLD = 2 * _MMAP_THRESHOLD
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def reuse_heap() -> bool:
    """Let glibc reuse freed blocks of up to 32 MiB (once per process).

    Sets glibc's mmap threshold to 32 MiB and its trim threshold to 64 MiB,
    the values its own adjustment reaches after a 32 MiB block is freed, and
    which it then stops adjusting. Nothing changes elsewhere than glibc, where
    the process started with malloc settings (``GLIBC_TUNABLES`` naming
    malloc, glibc's ``MALLOC_*_`` variables), or with ``SKLSTM_HEAP=system``.
    Returns whether the settings are sklstm's.
    """
    if os.environ.get("SKLSTM_HEAP", "").lower() == "system":
        return False
    return _set_heap_thresholds()


def _malloc_tuned_at_start() -> bool:
    """Whether the process started with malloc settings for glibc to read.

    glibc reads them once, from the environment the process started with
    (``/proc/self/environ``); a variable set later (dask's distributed sets
    ``MALLOC_TRIM_THRESHOLD_`` for the workers it will start) is not one.
    """
    try:
        with open("/proc/self/environ", "rb") as file:
            names = dict(
                entry.partition(b"=")[::2] for entry in file.read().split(b"\0")
            )
    except OSError:
        names = {k.encode(): v.encode() for k, v in os.environ.items()}
    return b"malloc" in names.get(b"GLIBC_TUNABLES", b"") or any(
        name.encode() in names for name in _USER_SETTINGS
    )


@functools.cache
def _set_heap_thresholds() -> bool:
    try:
        if not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
            return False
        if _malloc_tuned_at_start():
            return False
        mallopt = ctypes.CDLL(None).mallopt
    except (ValueError, OSError, AttributeError):  # no confstr or name: not glibc
        return False
    return bool(
        mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
        and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    )


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
