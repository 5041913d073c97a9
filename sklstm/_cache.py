"""An on-disk cache of fitted states, so longer fits continue shorter ones.

Halving searches over ``max_epochs`` (and validation curves over it) fit the
same candidate on the same fold again with more epochs. With ``epoch_cache``
set, each fit stores its state under a key made of the estimator's class, its
parameters other than ``max_epochs``, and the training data; a later fit with
the same key loads the longest stored fit that is not longer than asked for
and trains only the missing epochs. Files are written by sklstm itself with
joblib: point ``epoch_cache`` only at a directory you own.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import joblib

from sklstm._data import SequenceDataset

# parameters that do not change what is learned, or that the cache resolves
_NOT_IN_KEY = {"max_epochs", "verbose", "epoch_cache", "n_threads", "warm_start"}


def _stable(value) -> str:
    """A text for a parameter value that is the same for equal copies."""
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_stable(v) for v in value) + "]"
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    if hasattr(value, "get_params"):  # estimators and skorch callbacks
        inner = sorted(value.get_params(deep=False).items())
        return f"{type(value).__qualname__}({_stable(inner)})"
    return repr(value)


def cache_key(estimator, data: SequenceDataset) -> str:
    """Hash of class, learning parameters and training data."""
    params = {
        k: v
        for k, v in estimator.get_params(deep=False).items()
        if k not in _NOT_IN_KEY
    }
    digest = hashlib.sha1(type(estimator).__qualname__.encode())
    digest.update(_stable(sorted(params.items())).encode())
    for tensor in (data.X, data.lengths, data.y, data.weight):
        digest.update(b"|" if tensor is None else tensor.cpu().numpy().tobytes())
    return digest.hexdigest()


def lookup(directory: str | os.PathLike, key: str, max_epochs: int):
    """The cached estimator with the most epochs <= ``max_epochs``, or None."""
    best = None
    for path in Path(directory).glob(f"{key}-*.joblib"):
        epochs = int(path.stem.rsplit("-", 1)[1])
        if epochs <= max_epochs and (best is None or epochs > best[0]):
            best = (epochs, path)
    if best is None:
        return None
    try:
        return joblib.load(best[1])
    except Exception:  # noqa: BLE001 - a partly written file is a miss
        return None


def store(directory: str | os.PathLike, key: str, estimator) -> None:
    """Save a fitted estimator under ``key`` and its epoch count."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    final = path / f"{key}-{len(estimator.history_):05d}.joblib"
    partial = final.with_suffix(f".{os.getpid()}.tmp")
    joblib.dump(estimator, partial)
    os.replace(partial, final)  # atomic: parallel workers never read half a file
