"""An on-disk cache of fitted states, so longer fits continue shorter ones.

Halving searches over ``max_epochs`` (and validation curves over it) fit the
same candidate on the same fold again with more epochs. With ``epoch_cache``
set, each fit stores its state under a key made of everything that decides
what is learned (class, parameters, data, labels and targets, the pretrained
weights of ``init_from``, a ``RandomState``'s state); a later fit with the
same key loads the longest stored fit that is not longer than asked for and
trains only the missing epochs. A resumed fit equals a fit from scratch:
shuffling and dropout are seeded per epoch, the optimizer state is stored,
and ``max_epochs`` joins the key when the learning-rate schedule depends on
it (only an exponential schedule, or none, can be resumed).

Entries are sklstm model files (no pickle), written atomically under unique
temporary names, so threads and processes can share a directory; files the
cache did not name are ignored, and one that does not load is a miss.
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np

from sklstm._data import SequenceDataset, fingerprint
from sklstm.io._model import save_state
from sklstm.io._persist import load

# parameters that do not change what is learned, or that the cache resolves
_NOT_IN_KEY = {"max_epochs", "verbose", "epoch_cache", "n_threads", "warm_start"}
# schedules that continue from the stored rate without knowing the horizon
_RESUMABLE_SCHEDULES = (None, "exponential")


def _stable(value) -> str:
    """A text for a parameter value that is the same for equal copies."""
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_stable(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k!r}:{_stable(v)}" for k, v in value.items()) + "}"
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    if isinstance(value, np.random.RandomState):
        kind, keys, pos, has_gauss, gauss = value.get_state()
        return f"RandomState({fingerprint(keys.tobytes())},{pos},{has_gauss},{gauss})"
    if isinstance(value, np.generic):
        return repr(value.item())
    if hasattr(value, "net_"):  # a fitted sklstm estimator (init_from)
        state = value.net_.module_.state_dict()
        return f"fitted({fingerprint(*state.values())})"
    if isinstance(value, (str, os.PathLike)) and Path(value).is_file():
        return f"file({fingerprint(Path(value).read_bytes())})"
    if hasattr(value, "get_params"):  # estimators and skorch callbacks
        inner = sorted(value.get_params(deep=False).items())
        return f"{type(value).__qualname__}({_stable(inner)})"
    return repr(value)


def cache_key(estimator, data: SequenceDataset, targets: np.ndarray) -> str:
    """Hash of everything that decides the fitted state.

    ``targets`` are the validated targets as given (labels encoded against
    ``classes_``, which joins the key; regression targets in their units).
    """
    params = {
        k: v
        for k, v in estimator.get_params(deep=False).items()
        if k not in _NOT_IN_KEY
    }
    if estimator.lr_scheduler not in _RESUMABLE_SCHEDULES:
        params["max_epochs"] = estimator.max_epochs_  # the schedule spans it
    # the batch "auto" resolved to: its rule may change between releases
    params["batch_size"] = estimator.batch_size_
    classes = getattr(estimator, "classes_", None)
    return fingerprint(
        type(estimator).__qualname__.encode(),
        _stable(sorted(params.items())).encode(),
        data.X,
        data.lengths,
        data.weight,
        np.asarray(targets),
        b"" if classes is None else _stable(classes.tolist()).encode(),
    )[:40]


def check_writable(directory) -> Path:
    """Create ``directory`` if needed and prove a file can be written there,
    before any training (``ValueError`` otherwise)."""
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".probe-", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(
            f"epoch_cache={str(directory)!r} is not a writable directory ({exc}); "
            "point it at a directory you own, or set epoch_cache=None."
        ) from None
    return path


def lookup(directory, key: str, max_epochs: int):
    """The cached estimator with the most epochs <= ``max_epochs``, or None."""
    pattern = re.compile(re.escape(key) + r"-(\d{5})\.sklstm")
    found = []
    for path in Path(directory).iterdir():
        match = pattern.fullmatch(path.name)
        if match and int(match.group(1)) <= max_epochs and path.is_file():
            found.append((int(match.group(1)), path))
    for _, path in sorted(found, reverse=True):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return load(path)
        except ValueError:  # not a file the cache wrote: a miss
            continue
    return None


def store(directory, key: str, estimator) -> bool:
    """Save a fitted estimator's state under ``key`` and its epoch count;
    whether it was stored.

    The fit is done by now: a directory that vanished or filled up during
    it costs the cache entry, never the fitted model (a warning names the
    directory).
    """
    path = Path(directory) / f"{key}-{len(estimator.history_):05d}.sklstm"
    try:
        save_state(estimator, path)
    except OSError as exc:
        warnings.warn(
            f"epoch_cache={str(directory)!r}: the fitted state could not be "
            f"stored ({type(exc).__name__}: {exc}); the fitted model is kept, "
            "but later fits cannot continue from it.",
            UserWarning,
            stacklevel=4,
        )
        return False
    return True
