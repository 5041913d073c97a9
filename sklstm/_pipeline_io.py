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

from sklearn.base import clone
from sklearn.pipeline import Pipeline

from sklstm._archive import pack_members, read_members, write_members
from sklstm._base import _BaseLSTM

FORMAT_VERSION = 1
_SLOT = "__sklstm_model_{}__"
# sklstm's transformers: plain numpy and Python state that skops can audit
OWN_TYPES = (
    "sklstm.preprocessing._scaler.SequenceScaler",
    "sklstm.preprocessing._text.TextSequencer",
    "sklstm.preprocessing._forecaster.WindowedForecaster",
)
# a forecaster's unfitted template is stored as this mark: clone(estimator_)
_TEMPLATE = "__sklstm_template__"


def _skops():
    try:
        import skops.io as sio
    except ImportError as exc:
        raise ImportError(
            "Saving a pipeline needs skops (scikit-learn's auditable format): "
            "pip install 'sklstm[persist]'."
        ) from exc
    return sio


def _strip(obj, models: list):
    """A shallow copy of ``obj`` (a pipeline or a forecaster) with each sklstm
    estimator replaced by a slot name, nested ones too; the estimators go to
    ``models``."""
    from sklstm.preprocessing import WindowedForecaster

    if isinstance(obj, _BaseLSTM):
        models.append(obj)
        return _SLOT.format(len(models) - 1)
    if isinstance(obj, WindowedForecaster):
        shell = copy.copy(obj)
        shell.estimator_ = _strip(obj.estimator_, models)
        if obj.estimator is not None:  # equal to an unfitted clone of estimator_
            shell.estimator = _TEMPLATE
        return shell
    if isinstance(obj, Pipeline):
        shell = copy.copy(obj)
        shell.steps = [(name, _strip(step, models)) for name, step in obj.steps]
        return shell
    return obj


def save_pipeline(pipe, path):
    """Write a fitted pipeline or forecaster holding sklstm estimators (see
    module doc)."""
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


def load_pipeline(source, path: str, *, device, trusted=None):
    """Read a file written by :func:`save_pipeline`."""
    from sklstm._persist import load_model, read_meta
    from sklstm.preprocessing import WindowedForecaster

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
    if not isinstance(shell, (Pipeline, WindowedForecaster)):
        raise ValueError(f"{path}: pipeline.skops does not hold a Pipeline.")
    return _fill(shell, models, path)


def _fill(obj, models: list, path: str):
    """``obj`` with its slot names replaced by the models (in place)."""
    from sklstm.preprocessing import WindowedForecaster

    if isinstance(obj, str) and obj.startswith("__sklstm_model_"):
        try:
            return models[int(obj[len("__sklstm_model_") : -2])]
        except (ValueError, IndexError):
            raise ValueError(f"{path}: {obj} names a missing model.") from None
    if isinstance(obj, WindowedForecaster):
        obj.estimator_ = _fill(obj.estimator_, models, path)
        if obj.estimator == _TEMPLATE:
            obj.estimator = clone(obj.estimator_)
    elif isinstance(obj, Pipeline):
        obj.steps = [(name, _fill(step, models, path)) for name, step in obj.steps]
    return obj
