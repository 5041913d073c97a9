"""Pipelines and meta-estimators in the safe format: skops for scikit-learn,
sklstm model files for LSTMs.

A pipeline file is a zip archive of:

- ``meta.json``: ``{"format": "sklstm-pipeline", ...}``, the number of LSTM
  model files, and the parameters of each unfitted LSTM (a meta-estimator's
  template, such as ``TransformedTargetRegressor.regressor``);
- ``pipeline.skops``: the object written by ``skops.io`` (the auditable
  format of the scikit-learn ecosystem, no pickle), with each sklstm
  estimator replaced by a slot name;
- ``model-<i>.sklstm``: each fitted sklstm estimator as its own model file.

The object is walked by protocol, not by type: every attribute, list, tuple
and dict of every object is searched, so an LSTM anywhere inside a
``Pipeline``, ``TransformedTargetRegressor``, ``CalibratedClassifierCV``,
``ColumnTransformer``, a stacking ensemble or a forecaster is stored. A torch
object met outside an LSTM estimator cannot be stored: saving names where it
sits. Loading refuses any type in ``pipeline.skops`` that skops does not
trust by default, other than sklstm's registered types, unless the caller
lists it in ``trusted``.
"""

from __future__ import annotations

import copy
import io
import json
import types
import zipfile

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

import sklstm.io._registry as _registry
from sklstm.io._archive import pack_members, read_members, write_members
from sklstm.io._model import (
    decode_params,
    encode_params,
    load_model,
    model_members,
    read_meta,
    restore_estimator,
    storable_params,
)

FORMAT_VERSION = 1
_SLOT, _UNFITTED = "__sklstm_model_{}__", "__sklstm_unfitted_{}__"
# sklstm 0.2 stored a forecaster's unfitted template as this mark, meaning
# clone(estimator_)
_TEMPLATE = "__sklstm_template__"
_MAX_MODELS = 1000
_NOTHING_TO_SAVE = (
    "save expects an sklstm estimator, or a Pipeline, meta-estimator or "
    "WindowedForecaster holding a fitted one; got {} (save other estimators "
    "with skops.io)."
)
# scikit-learn's private helpers that its public meta-estimators hold (plain
# numpy state); skops does not list them as trusted by default
_SKLEARN_PARTS = frozenset(
    {
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.utils._bunch.Bunch",
    }
)
_LEAVES = (str, bytes, int, float, complex, bool, type(None), np.ndarray, np.generic)
_OPAQUE = (type, types.FunctionType, types.BuiltinFunctionType, types.ModuleType)


def _skops():
    try:
        import skops.io as sio
    except ImportError as exc:
        raise ImportError(
            "Saving a pipeline needs skops (scikit-learn's auditable format): "
            "pip install 'sklstm[persist]'."
        ) from exc
    return sio


class _Stripper:
    """Copies of the objects on the way to each sklstm estimator, with the
    estimators replaced by slot names (shared ones once)."""

    def __init__(self) -> None:
        self.models: list = []
        self.unfitted: list = []
        self._slots: dict[int, str] = {}
        self._path: set[int] = set()

    def strip(self, obj, where: str):
        if _registry.is_model(obj):
            return self._slot(obj)
        if isinstance(obj, _LEAVES) or isinstance(obj, _OPAQUE):
            return obj
        if isinstance(obj, (torch.nn.Module, torch.Tensor, torch.optim.Optimizer)):
            raise ValueError(
                f"Cannot save {where}: it is a torch {type(obj).__name__} outside "
                "an sklstm estimator; sklstm stores torch state only inside "
                "LSTMClassifier and LSTMRegressor."
            )
        if id(obj) in self._path:  # a cycle: skops keeps references itself
            return obj
        self._path.add(id(obj))
        try:
            return self._strip_container(obj, where)
        finally:
            self._path.discard(id(obj))

    def _strip_container(self, obj, where: str):
        if isinstance(obj, dict):
            items = {k: self.strip(v, f"{where}[{k!r}]") for k, v in obj.items()}
            if all(items[k] is v for k, v in obj.items()):
                return obj
            new = copy.copy(obj)  # the same mapping type (a Bunch stays one)
            new.clear()
            new.update(items)
            return new
        if isinstance(obj, (list, tuple)):
            items = [self.strip(v, f"{where}[{i}]") for i, v in enumerate(obj)]
            if not any(a is not b for a, b in zip(items, obj, strict=True)):
                return obj
            if hasattr(obj, "_fields"):  # a named tuple
                return type(obj)(*items)
            return type(obj)(items)
        state = getattr(obj, "__dict__", None)
        if not isinstance(state, dict):
            return obj
        new = {k: self.strip(v, f"{where}.{k}") for k, v in state.items()}
        if all(new[k] is v for k, v in state.items()):
            return obj
        shell = copy.copy(obj)
        shell.__dict__.update(new)
        return shell

    def _slot(self, model) -> str:
        if id(model) not in self._slots:
            if hasattr(model, "net_"):
                self.models.append(model)
                slot = _SLOT.format(len(self.models) - 1)
            else:
                self.unfitted.append(model)
                slot = _UNFITTED.format(len(self.unfitted) - 1)
            self._slots[id(model)] = slot
        return self._slots[id(model)]


def save_pipeline(obj, path):
    """Write a fitted pipeline or meta-estimator holding sklstm estimators
    (see module doc)."""
    if not hasattr(obj, "get_params"):
        raise TypeError(_NOTHING_TO_SAVE.format(type(obj).__name__))
    check_is_fitted(obj)
    walk = _Stripper()
    shell = walk.strip(obj, type(obj).__name__)
    if not walk.models:
        raise TypeError(_NOTHING_TO_SAVE.format(type(obj).__name__))
    sio = _skops()
    if len(walk.models) + len(walk.unfitted) > _MAX_MODELS:
        raise ValueError(f"Cannot save more than {_MAX_MODELS} sklstm estimators.")
    unfitted = [
        {"estimator": type(m).__name__, "params": encode_params(storable_params(m))}
        for m in walk.unfitted
    ]
    meta = {
        "format": "sklstm-pipeline",
        "format_version": FORMAT_VERSION,
        "models": len(walk.models),
        "unfitted": unfitted,
    }
    try:
        blob = sio.dumps(shell)
    except Exception as exc:  # noqa: BLE001 - skops' own failure, named
        raise ValueError(
            f"Cannot save this {type(obj).__name__}: skops cannot store part of "
            f"it ({type(exc).__name__}: {str(exc)[:200]})."
        ) from None
    members = [
        ("meta.json", json.dumps(meta).encode(), zipfile.ZIP_DEFLATED),
        ("pipeline.skops", blob, zipfile.ZIP_STORED),
    ]
    for i, model in enumerate(walk.models):
        data = pack_members(model_members(model, storable_params(model)))
        members.append((f"model-{i}.sklstm", data, zipfile.ZIP_STORED))
    return write_members(path, members)


def load_pipeline(source, path: str, *, device, trusted=None, restore_paths=False):
    """Read a file written by :func:`save_pipeline`."""
    sio = _skops()
    meta = read_meta(source, path)
    count, unfitted = meta.get("models"), meta.get("unfitted", [])
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path}: pipeline file format {meta.get('format_version')!r}; this "
            f"sklstm reads format {FORMAT_VERSION}. Upgrade sklstm to load it."
        )
    if not (type(count) is int and 0 <= count <= _MAX_MODELS) or not (
        isinstance(unfitted, list) and len(unfitted) <= _MAX_MODELS
    ):
        raise ValueError(f"{path}: meta.json is not valid (model counts).")
    names = ("pipeline.skops",) + tuple(f"model-{i}.sklstm" for i in range(count))
    members = read_members(source, names, path)
    shell = _read_skops(sio, members["pipeline.skops"], path, trusted)
    models = [
        load_model(io.BytesIO(members[name]), f"{path}[{name[:-7]}]", device)
        for name in names[1:]
    ]
    templates = [_unfitted(entry, path, restore_paths) for entry in unfitted]
    return _Filler(models, templates, path).fill(shell)


def _renamed(blob: bytes, path: str) -> bytes:
    """``blob`` (a skops zip) with the types older files name by their old
    module paths renamed to today's (read through sklstm's archive checks)."""
    members = read_members(io.BytesIO(blob), ("schema.json",), f"{path}[skops]")
    try:
        schema = json.loads(members["schema.json"])
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ValueError(f"{path}: pipeline.skops has no valid schema.") from None
    if not _rename_types(schema):
        return blob
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as old, zipfile.ZipFile(out, "w") as new:
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename == "schema.json":
                data = json.dumps(schema).encode()
            new.writestr(info, data)
    return out.getvalue()


def _rename_types(node) -> bool:
    """Rename moved types in a skops schema in place; whether any was."""
    changed = False
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        module, name = item.get("__module__"), item.get("__class__")
        if isinstance(module, str) and isinstance(name, str):
            new = _registry.current_name(f"{module}.{name}")
            if new != f"{module}.{name}":
                item["__module__"], item["__class__"] = new.rsplit(".", 1)
                changed = True
        stack.extend(item.values())
    return changed


def _read_skops(sio, blob: bytes, path: str, trusted):
    blob = _renamed(blob, path)
    try:
        unknown = sio.get_untrusted_types(data=blob)
    except Exception as exc:  # noqa: BLE001 - any failure means: refuse
        raise ValueError(f"{path}: pipeline.skops is not readable: {exc}") from None
    allowed = _registry.plain_types() | _SKLEARN_PARTS | set(trusted or ())
    refused = sorted(set(unknown) - allowed)
    if refused:
        raise ValueError(
            f"{path}: pipeline.skops holds types skops does not trust: {refused}. "
            "Load it with trusted=[...] naming them if you trust this file."
        )
    try:
        return sio.loads(blob, trusted=sorted(set(unknown)))
    except Exception as exc:  # noqa: BLE001 - any failure means: refuse
        raise ValueError(f"{path}: pipeline.skops is not readable: {exc}") from None


def _unfitted(entry, path: str, restore_paths: bool):
    name = entry.get("estimator") if isinstance(entry, dict) else None
    cls = _registry.model_class(name)
    if cls is None or not isinstance(entry.get("params"), dict):
        raise ValueError(f"{path}: meta.json names an unknown estimator {name!r}.")
    return restore_estimator(cls, decode_params(entry["params"]), path, restore_paths)


class _Filler:
    """Puts the models back into their slots, in place."""

    def __init__(self, models: list, templates: list, path: str) -> None:
        self.models, self.templates, self.path = models, templates, path
        self._seen: set[int] = set()

    def fill(self, obj):
        if isinstance(obj, str):
            return self._model(obj) if obj.startswith("__sklstm_") else obj
        if (
            isinstance(obj, _LEAVES)
            or isinstance(obj, _OPAQUE)
            or id(obj) in self._seen
        ):
            return obj
        self._seen.add(id(obj))
        if isinstance(obj, dict):
            for key, value in list(obj.items()):
                obj[key] = self.fill(value)
        elif isinstance(obj, list):
            obj[:] = [self.fill(v) for v in obj]
        elif isinstance(obj, tuple):
            items = [self.fill(v) for v in obj]
            if any(a is not b for a, b in zip(items, obj, strict=True)):
                return (
                    type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)
                )
        elif isinstance(getattr(obj, "__dict__", None), dict):
            for key, value in list(vars(obj).items()):
                if (
                    isinstance(value, str)
                    and value == _TEMPLATE
                    and hasattr(obj, key + "_")
                ):  # sklstm 0.2
                    obj.__dict__[key] = clone(self.fill(getattr(obj, key + "_")))
                else:
                    obj.__dict__[key] = self.fill(value)
        return obj

    def _model(self, slot: str):
        for pattern, pool in ((_SLOT, self.models), (_UNFITTED, self.templates)):
            head, tail = pattern.split("{}")
            if slot.startswith(head) and slot.endswith(tail):
                try:
                    return pool[int(slot[len(head) : -len(tail)])]
                except (ValueError, IndexError):
                    break
        if slot == _TEMPLATE:
            return slot
        raise ValueError(f"{self.path}: {slot} names a missing model.")
