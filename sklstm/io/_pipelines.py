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
sits.

Loading reads every member under the one policy of sklstm files
(:mod:`sklstm.io._archive`, one inflation budget for the whole file, nested
members included), checks the skops archive before skops reads it
(:mod:`sklstm.io._skops`), refuses any type in ``pipeline.skops`` that skops
does not trust by default, other than sklstm's registered types, unless the
caller lists it in ``trusted``, and checks every restored object as a fresh
one would be checked (:mod:`sklstm.io._restored`).
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
from sklstm.io._archive import Budget, pack_members, read_members, write_members
from sklstm.io._model import (
    decode_params,
    encode_params,
    load_model,
    model_members,
    restore_estimator,
    storable_params,
)
from sklstm.io._restored import check_restored
from sklstm.io._skops import read_schema, read_skops, root_type, skops_io

FORMAT_VERSION = 1
MIN_FORMAT_VERSION = 1
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
_LEAVES = (str, bytes, int, float, complex, bool, type(None), np.ndarray, np.generic)
_OPAQUE = (type, types.FunctionType, types.BuiltinFunctionType, types.ModuleType)


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
    sio = skops_io()
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


def load_pipeline(
    source,
    path: str,
    *,
    meta: dict,
    device,
    budget: Budget,
    trusted: frozenset = frozenset(),
    restore_paths: bool = False,
):
    """Read a file written by :func:`save_pipeline` (``meta``: its parsed
    ``meta.json``; ``budget``: the file's inflation budget)."""
    count, unfitted = meta.get("models"), meta.get("unfitted", [])
    check_format(meta, path)
    if not (type(count) is int and 0 <= count <= _MAX_MODELS) or not (
        isinstance(unfitted, list) and len(unfitted) <= _MAX_MODELS
    ):
        raise ValueError(f"{path}: meta.json is not valid (model counts).")
    names = tuple(f"model-{i}.sklstm" for i in range(count))
    members = read_members(source, ("pipeline.skops", *names), path, budget=budget)
    shell = read_skops(members.pop("pipeline.skops"), path, trusted, budget)
    models = [
        load_model(
            io.BytesIO(members.pop(name)),
            f"{path}[{name[:-7]}]",
            device,
            restore_paths=restore_paths,
            budget=budget,
        )
        for name in names
    ]
    templates = [_unfitted(entry, path, restore_paths) for entry in unfitted]
    obj = _Filler(models, templates, path).fill(shell)
    return check_restored(obj, path, trusted=trusted, restore_paths=restore_paths)


def check_format(meta: dict, path: str) -> None:
    """The pipeline file format is one this sklstm reads."""
    version = meta.get("format_version")
    if type(version) is not int or version < MIN_FORMAT_VERSION:
        raise ValueError(
            f"{path}: pipeline file format {version!r} is not one any sklstm "
            f"writes; this sklstm reads formats {MIN_FORMAT_VERSION} to "
            f"{FORMAT_VERSION}."
        )
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path}: pipeline file format {version}; this sklstm reads formats "
            f"up to {FORMAT_VERSION}. Upgrade sklstm to load it."
        )


def held_type(source, path: str, budget: Budget) -> str:
    """The dotted type name of the object a pipeline file holds (read from
    its skops schema, without loading anything)."""
    blob = read_members(source, ("pipeline.skops",), path, budget=budget)
    return root_type(read_schema(blob["pipeline.skops"], path, budget))


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
