"""meta.json's value codec: plain JSON plus tagged numpy, tuple and torch values.

Decoding builds data only: it never imports or calls code named by the file,
and an array is allocated only after its declared shape and dtype are checked
against the values the file holds.
"""

from __future__ import annotations

import math
import os
import pathlib

import numpy as np
import torch

TAG = "__sklstm__"  # marks a typed value in meta.json
_SMALL_ARRAY = 2**20  # string arrays up to this size may be declared wide


class Unstorable(ValueError):
    pass


# ------------------------------------------------------------- JSON encoding
def encode(value, where: str):
    """``value`` as JSON data; typed values become ``{TAG: kind, ...}``."""
    if isinstance(value, np.generic):
        return {TAG: "scalar", "dtype": value.dtype.str, "value": value.item()}
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, np.ndarray):
        return _encode_array(value, where)
    if isinstance(value, list):
        return [encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {TAG: "tuple", "items": encode(list(value), where)}
    if isinstance(value, dict):
        if all(type(k) is str for k in value) and TAG not in value:
            return {k: encode(v, f"{where}[{k!r}]") for k, v in value.items()}
        items = [
            [encode(k, where), encode(v, f"{where}[{k!r}]")] for k, v in value.items()
        ]
        return {TAG: "dict", "items": items}
    if isinstance(value, np.random.RandomState):
        return {TAG: "random_state", "state": encode(value.get_state(), where)}
    if isinstance(value, type) and issubclass(value, torch.optim.Optimizer):
        if getattr(torch.optim, value.__name__, None) is not value:
            raise Unstorable(
                f"{where} is {value.__module__}.{value.__qualname__}; only optimizer "
                "classes of torch.optim can be saved. Use a name ('adam', ...) or a "
                "torch.optim class, or pickle the estimator instead."
            )
        return {TAG: "optimizer", "name": value.__name__}
    if isinstance(value, torch.device):
        return {TAG: "device", "value": str(value)}
    if isinstance(value, os.PathLike):
        return {TAG: "path", "value": os.fspath(value)}
    raise Unstorable(
        f"{where} holds a {type(value).__name__}, which cannot be saved as JSON; "
        "set it to a plain value first, or pickle the estimator instead."
    )


def _encode_array(a: np.ndarray, where: str) -> dict:
    if a.dtype.kind not in "biufUO":
        raise Unstorable(f"{where} is an array of dtype {a.dtype}, not storable.")
    flat = a.ravel()
    if a.dtype.kind == "O":
        data = [encode(v, f"{where}[{i}]") for i, v in enumerate(flat)]
    else:
        data = flat.tolist()
    return {TAG: "ndarray", "dtype": a.dtype.str, "shape": list(a.shape), "data": data}


def decode(value):
    """Inverse of :func:`_encode`; builds only data, never imports or calls code."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get(TAG)
    if kind is None:
        return {k: decode(v) for k, v in value.items()}
    if kind == "scalar":
        return _checked_dtype(value["dtype"]).type(value["value"])
    if kind == "ndarray":
        dtype = _checked_dtype(value["dtype"])
        data = decode(value["data"])
        _check_size(dtype, value["shape"], data)
        if dtype.kind == "O":
            flat = np.empty(len(data), dtype=object)
            flat[:] = data
            return flat.reshape(value["shape"])
        return np.array(data, dtype=dtype).reshape(value["shape"])
    if kind == "tuple":
        return tuple(decode(value["items"]))
    if kind == "dict":
        return {_hashable(decode(k)): decode(v) for k, v in value["items"]}
    if kind == "random_state":
        rng = np.random.RandomState()
        rng.set_state(decode(value["state"]))
        return rng
    if kind == "optimizer":
        cls = getattr(torch.optim, str(value["name"]), None)
        if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
            raise ValueError(f"torch.optim has no optimizer {value['name']!r}.")
        return cls
    if kind == "device":
        return torch.device(value["value"])
    if kind == "path":
        return pathlib.Path(value["value"])
    raise ValueError(f"unknown value type {kind!r}")


def _checked_dtype(text: str) -> np.dtype:
    dtype = np.dtype(str(text))
    if dtype.kind not in "biufUO":
        raise ValueError(f"dtype {text!r} is not allowed")
    return dtype


def _check_size(dtype: np.dtype, shape, data) -> None:
    """An array of ``shape`` and ``dtype`` holds the ``data`` items, and is
    not much larger in memory than they are in the file.

    Checked before numpy allocates: a few bytes of JSON declaring a very
    wide string dtype would otherwise fill gigabytes with padding.
    """
    if not (
        isinstance(shape, list)
        and all(type(n) is int and 0 <= n <= 2**40 for n in shape)
        and isinstance(data, list)
    ):
        raise ValueError("an array's shape must be a list of sizes and its data a list")
    count = math.prod(shape)
    if count != len(data):
        raise ValueError(f"an array of shape {shape} holds {len(data)} values")
    if dtype.kind == "U":
        if not all(isinstance(v, str) for v in data):
            raise ValueError(f"an array of dtype {dtype.str} holds non-strings")
        # UTF-32 of the items, 4x for slack, or 1 MiB for small arrays
        held = 4 * sum(len(v) + 1 for v in data)
        if count * dtype.itemsize > max(_SMALL_ARRAY, 4 * held):
            raise ValueError(
                f"an array of {count} strings declares dtype {dtype.str} "
                f"({count * dtype.itemsize:,} bytes) for {held:,} bytes of text"
            )


def _hashable(key):
    if isinstance(key, list):
        raise ValueError("a dict key is a list")
    return key
