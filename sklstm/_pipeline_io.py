"""Whole pipelines in the safe format: skops for scikit-learn, sklstm for LSTMs.

A pipeline file is a zip archive of:

- ``meta.json``: ``{"format": "sklstm-pipeline", ...}`` and the number of
  LSTM models;
- ``pipeline.skops``: the pipeline written by ``skops.io`` (the auditable
  format of the scikit-learn ecosystem, no pickle), with each sklstm
  estimator replaced by a placeholder name;
- ``model-<i>.sklstm``: each sklstm estimator as its own model file.

Loading refuses any type in ``pipeline.skops`` that skops does not trust by
default, other than sklstm's own transformers, unless the caller lists it in
``trusted``.
"""

from __future__ import annotations

import copy
import io
import json
import zipfile

from sklearn.pipeline import Pipeline

from sklstm._archive import pack_members, read_members, write_members
from sklstm._base import _BaseLSTM

FORMAT_VERSION = 1
_SLOT = "__sklstm_model_{}__"
# sklstm's transformers: plain numpy and Python state that skops can audit
OWN_TYPES = (
    "sklstm.preprocessing._scaler.SequenceScaler",
    "sklstm.preprocessing._text.TextSequencer",
)


def _skops():
    try:
        import skops.io as sio
    except ImportError as exc:
        raise ImportError(
            "Saving a pipeline needs skops (scikit-learn's auditable format): "
            "pip install 'sklstm[persist]'."
        ) from exc
    return sio


def _strip(pipe: Pipeline, models: list) -> Pipeline:
    """A shallow copy of ``pipe`` with each sklstm step replaced by a slot name
    (nested pipelines too); the models go to ``models``."""
    steps = []
    for name, step in pipe.steps:
        if isinstance(step, _BaseLSTM):
            models.append(step)
            step = _SLOT.format(len(models) - 1)
        elif isinstance(step, Pipeline):
            step = _strip(step, models)
        steps.append((name, step))
    shell = copy.copy(pipe)
    shell.steps = steps
    return shell


def save_pipeline(pipe: Pipeline, path):
    """Write a fitted pipeline holding sklstm estimators (see module doc)."""
    from sklstm._persist import model_members, storable_params

    sio = _skops()
    models: list = []
    shell = _strip(pipe, models)
    members = [
        (
            "meta.json",
            json.dumps(
                {
                    "format": "sklstm-pipeline",
                    "format_version": FORMAT_VERSION,
                    "models": len(models),
                }
            ).encode(),
            zipfile.ZIP_DEFLATED,
        ),
        ("pipeline.skops", sio.dumps(shell), zipfile.ZIP_STORED),
    ]
    for i, model in enumerate(models):
        data = pack_members(model_members(model, storable_params(model)))
        members.append((f"model-{i}.sklstm", data, zipfile.ZIP_STORED))
    return write_members(path, members)


def load_pipeline(source, path: str, *, device, trusted=None) -> Pipeline:
    """Read a file written by :func:`save_pipeline`."""
    from sklstm._persist import load_model, read_meta

    sio = _skops()
    meta = read_meta(source, path)
    count = meta.get("models")
    if meta.get("format_version") != FORMAT_VERSION or not (
        type(count) is int and 0 <= count <= 1000
    ):
        raise ValueError(f"{path}: unknown pipeline file layout.")
    names = ("pipeline.skops",) + tuple(f"model-{i}.sklstm" for i in range(count))
    members = read_members(source, names, path)
    blob = members["pipeline.skops"]
    try:
        unknown = sio.get_untrusted_types(data=blob)
    except Exception as exc:  # noqa: BLE001 - any failure means: refuse
        raise ValueError(f"{path}: pipeline.skops is not readable: {exc}") from None
    allowed = set(OWN_TYPES) | set(trusted or ())
    refused = sorted(set(unknown) - allowed)
    if refused:
        raise ValueError(
            f"{path}: pipeline.skops holds types skops does not trust: {refused}. "
            "Load it with trusted=[...] naming them if you trust this file."
        )
    try:
        shell = sio.loads(blob, trusted=sorted(set(unknown)))
    except Exception as exc:  # noqa: BLE001 - any failure means: refuse
        raise ValueError(f"{path}: pipeline.skops is not readable: {exc}") from None
    models = [
        load_model(io.BytesIO(members[name]), f"{path}[{name[:-7]}]", device)
        for name in names[1:]
    ]
    if not isinstance(shell, Pipeline):
        raise ValueError(f"{path}: pipeline.skops does not hold a Pipeline.")
    _fill(shell, models, path)
    return shell


def _fill(pipe: Pipeline, models: list, path: str) -> None:
    for i, (name, step) in enumerate(pipe.steps):
        if isinstance(step, str) and step.startswith("__sklstm_model_"):
            index = int(step[len("__sklstm_model_") : -2])
            if not 0 <= index < len(models):
                raise ValueError(f"{path}: step {name} names a missing model.")
            pipe.steps[i] = (name, models[index])
        elif isinstance(step, Pipeline):
            _fill(step, models, path)
